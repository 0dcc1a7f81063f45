"""The activity log: one row per action a kiosk audits, for the admin console's search and counts.

A row says when (the audit event's `recorded` instant), where (the kiosk's name and mode), who (the staff member
signed in), what (the action and how it ended, in the words `lookup.service.activity` writes), by which kind of
identifier (`cccd`, `bhyt`, `temporary`, `demographic`...), whether the answer came from the offline cache, and how
many documents shown were unsigned or failed their signature check. It never holds a patient's identifier, name or
birth date: the kind of identifier, not its value. The audit event's id, which leads to the patient in the server's
audit log, is kept as an HMAC (recording an event twice keeps one row) and sealed (AES-256-GCM bound to that HMAC),
like an outbox key. Rows are kept `RETENTION_SECONDS` (90 days) and counted per hour or per day.

Counts are exact for the period asked: a row counts when `since <= recorded < until`, the period the server's
`AuditEvent?date=ge...&date=lt...` covers. Hours are whole UTC hours (every zone the hospitals use is a whole number
of hours from UTC, Vietnam's among them), shown from their start in the console's zone; days are that zone's days.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

from offline_cache.db import Backend, Blinding, Sealing

RETENTION_SECONDS = 90 * 86_400.0
"""How long a row is kept."""
_EVENT = b"activity-event"
_SEALED = b"activity\x00"
"""What an event id's HMAC is made under, and what its ciphertext is bound to (with that HMAC)."""
LOOKUP_ACTIONS = ("lookup", "search", "open", "break-glass", "shl")
"""The actions that look a patient up (every audited action but a check-in)."""
HOUR = 3600
Period = Literal["hour", "day"]

Word = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]{0,31}$")]
"""An action, outcome, mode or identifier type: a lower-case word of the log's vocabulary, never free text."""
KioskName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.-]{1,64}$")]
StaffId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")]
"""A staff id as the kiosk signs staff in with one (`lookup.service.staff.STAFF_ID`)."""


class ActivityEntry(BaseModel):
    """One audited action as the console lists it."""

    model_config = ConfigDict(frozen=True)

    recorded_at: AwareDatetime
    kiosk: KioskName
    staff: StaffId | None = None
    mode: Word
    action: Word
    outcome: Word
    identifier_type: Word | None = None
    offline: bool = False
    """The answer came from the offline cache (the server could not be reached)."""
    unsigned: Annotated[int, Field(ge=0)] = 0
    """Documents shown without a signature the trust list vouches for (unsigned, or by an unknown signer)."""
    invalid: Annotated[int, Field(ge=0)] = 0
    """Documents shown whose signature failed (tampered, revoked, expired, or by another facility's key)."""
    event_id: Annotated[str, StringConstraints(min_length=1, max_length=64)]


class ActivityQuery(BaseModel):
    """What the console searches or counts: a period and any of kiosk, staff member, action, outcome and kind of
    identifier. `since` is included, `until` is not."""

    model_config = ConfigDict(frozen=True)

    since: AwareDatetime | None = None
    until: AwareDatetime | None = None
    kiosk: KioskName | None = None
    staff: StaffId | None = None
    action: Word | None = None
    outcome: Word | None = None
    identifier_type: Word | None = None
    limit: Annotated[int, Field(ge=1, le=10_000)] = 200

    def where(self) -> tuple[str, list[object]]:
        """The SQL condition and its values; every value is a placeholder's."""
        clauses: list[str] = []
        values: list[object] = []
        if self.since is not None:
            clauses.append("recorded_at >= ?")
            values.append(self.since.timestamp())
        if self.until is not None:
            clauses.append("recorded_at < ?")
            values.append(self.until.timestamp())
        for column in ("kiosk", "staff", "action", "outcome", "identifier_type"):
            value = getattr(self, column)
            if value is not None:
                clauses.append(f"{column} = ?")
                values.append(value)
        return (" WHERE " + " AND ".join(clauses)) if clauses else "", values


class ActivityFigures(BaseModel):
    """The counts of one period."""

    model_config = ConfigDict(frozen=True)

    events: int = 0
    """Audited actions: the kiosk's AuditEvents of the period."""
    lookups: int = 0
    not_found: int = 0
    identity_mismatch: int = 0
    wrong_patient: int = 0
    break_glass: int = 0
    offline: int = 0
    """Answers from the offline cache."""
    unsigned: int = 0
    invalid: int = 0

    def __add__(self, other: ActivityFigures) -> ActivityFigures:
        return ActivityFigures(**{name: getattr(self, name) + getattr(other, name) for name in FIGURES})


FIGURES: tuple[str, ...] = tuple(ActivityFigures.model_fields)


class ActivityBucket(ActivityFigures):
    """The counts of one hour or one day, from its start."""

    start: dt.datetime


class StaffBreakGlass(BaseModel):
    """How often one staff member broke the glass in the period (None: nobody was signed in)."""

    model_config = ConfigDict(frozen=True)

    staff: str | None
    break_glass: int


class ActivityCounts(BaseModel):
    """The counts of a period, per hour or per day (every one of the period, empty ones included), with the totals."""

    model_config = ConfigDict(frozen=True)

    by: Period
    since: dt.datetime
    until: dt.datetime
    totals: ActivityFigures
    buckets: list[ActivityBucket]
    break_glass_by_staff: list[StaffBreakGlass]


class ActivityChoices(BaseModel):
    """The values the log holds for the console's filters."""

    model_config = ConfigDict(frozen=True)

    kiosks: list[str]
    staff: list[str]
    outcomes: list[str]
    identifier_types: list[str]


@dataclass(frozen=True, slots=True)
class Tally:
    """What a store counts for a period: the figures of each UTC hour (hours since the epoch) and the break-glass
    actions per staff member; tallies of two stores add up (`HospitalActivity`)."""

    hours: Mapping[int, ActivityFigures]
    break_glass: Mapping[str | None, int]

    def __add__(self, other: Tally) -> Tally:
        hours = dict(self.hours)
        for hour, figures in other.hours.items():
            hours[hour] = hours[hour] + figures if hour in hours else figures
        staff = dict(self.break_glass)
        for who, count in other.break_glass.items():
            staff[who] = staff.get(who, 0) + count
        return Tally(hours, staff)


def default_period(by: Period) -> dt.timedelta:
    """The period counted when none is given: the last day by hour, the last two weeks by day."""
    return dt.timedelta(hours=24) if by == "hour" else dt.timedelta(days=14)


def bounded(query: ActivityQuery, by: Period, now: dt.datetime) -> tuple[ActivityQuery, dt.datetime, dt.datetime]:
    """The query with its period filled in (until now, and back `default_period` from its end), and that period."""
    until = query.until or now
    since = query.since or until - default_period(by)
    return query.model_copy(update={"since": since, "until": until}), since, until


def fold(tally: Tally, since: dt.datetime, until: dt.datetime, by: Period, zone: dt.tzinfo) -> ActivityCounts:
    """The hours of `tally` gathered into the hours or days from `since` to `until`, in `zone`."""
    buckets = {start: ActivityFigures() for start in _starts(since, until, by, zone)}
    for hour, figures in tally.hours.items():
        start = _start_of(dt.datetime.fromtimestamp(hour * HOUR, tz=dt.UTC), by, zone)
        buckets[start] = buckets.get(start, ActivityFigures()) + figures
    totals = sum(buckets.values(), ActivityFigures())
    staff = sorted(tally.break_glass.items(), key=lambda item: (-item[1], item[0] or ""))
    return ActivityCounts(
        by=by,
        since=since,
        until=until,
        totals=totals,
        buckets=[ActivityBucket(start=start, **figures.model_dump()) for start, figures in sorted(buckets.items())],
        break_glass_by_staff=[StaffBreakGlass(staff=who, break_glass=count) for who, count in staff],
    )


def _start_of(moment: dt.datetime, by: Period, zone: dt.tzinfo) -> dt.datetime:
    local = moment.astimezone(zone)
    if by == "hour":
        return local.replace(minute=0, second=0, microsecond=0)
    return local.replace(hour=0, minute=0, second=0, microsecond=0)


def _starts(since: dt.datetime, until: dt.datetime, by: Period, zone: dt.tzinfo) -> Iterable[dt.datetime]:
    """The start of every hour or day the period touches."""
    start = _start_of(since, by, zone)
    while start < until:
        yield start
        if by == "hour":
            start = (start.astimezone(dt.UTC) + dt.timedelta(hours=1)).astimezone(zone)
        else:
            start = _start_of(start + dt.timedelta(hours=36), "day", zone)


def _figures(row: Sequence[object]) -> ActivityFigures:
    """One hour's figures from the counting query's columns (a sum over no row is NULL)."""
    return ActivityFigures.model_validate({name: value or 0 for name, value in zip(FIGURES, row, strict=True)})


class ActivityStore:
    """The activity log in the cache database (`lookup.service.cache_protocol.ActivityLog`, structurally)."""

    def __init__(
        self, db: Backend, sealer: Sealing, blinder: Blinding, *, retention_seconds: float = RETENTION_SECONDS
    ) -> None:
        self._db = db
        self._sealer = sealer
        self._blinder = blinder
        self.retention_seconds = retention_seconds

    def now(self) -> dt.datetime:
        """The database's clock, as the default period's end."""
        return dt.datetime.fromtimestamp(self._db.clock(), tz=dt.UTC)

    def record(
        self,
        event_id: str,
        recorded_at: dt.datetime,
        *,
        kiosk: str,
        staff: str | None,
        mode: str,
        action: str,
        outcome: str,
        identifier_type: str | None = None,
        offline: bool = False,
        unsigned: int = 0,
        invalid: int = 0,
    ) -> None:
        """Keep one audited action; the same event id twice keeps one row. Raises `ValidationError` for a value
        outside the log's vocabulary (free text never enters the log)."""
        entry = ActivityEntry(
            recorded_at=recorded_at,
            kiosk=kiosk,
            staff=staff,
            mode=mode,
            action=action,
            outcome=outcome,
            identifier_type=identifier_type,
            offline=offline,
            unsigned=unsigned,
            invalid=invalid,
            event_id=event_id,
        )
        mac = self._blinder.blind(_EVENT, entry.event_id)
        sealed = self._sealer.seal(entry.event_id.encode("utf-8"), _SEALED + mac)
        when = entry.recorded_at.timestamp()
        with self._db.transaction(durable=True) as conn:
            conn.execute(
                "INSERT INTO activity (event_mac, event_sealed, recorded_at, recorded_hour, kiosk, staff, mode,"
                " action, outcome, identifier_type, offline, unsigned, invalid)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                (
                    mac,
                    sealed,
                    when,
                    int(when // HOUR),
                    entry.kiosk,
                    entry.staff,
                    entry.mode,
                    entry.action,
                    entry.outcome,
                    entry.identifier_type,
                    int(entry.offline),
                    entry.unsigned,
                    entry.invalid,
                ),
            )

    def search(self, query: ActivityQuery) -> list[ActivityEntry]:
        """The rows the query selects, newest first, at most `query.limit`."""
        where, values = query.where()
        with self._db.reading() as conn:
            rows = conn.execute(
                "SELECT recorded_at, kiosk, staff, mode, action, outcome, identifier_type, offline, unsigned, invalid,"
                f" event_mac, event_sealed FROM activity{where} ORDER BY recorded_at DESC, id DESC LIMIT ?",
                [*values, query.limit],
            ).fetchall()
        return [
            ActivityEntry(
                recorded_at=dt.datetime.fromtimestamp(at, tz=dt.UTC),
                kiosk=kiosk,
                staff=staff,
                mode=mode,
                action=action,
                outcome=outcome,
                identifier_type=kind,
                offline=bool(offline),
                unsigned=unsigned,
                invalid=invalid,
                event_id=self._sealer.open(bytes(sealed), _SEALED + bytes(mac)).decode("utf-8"),
            )
            for at, kiosk, staff, mode, action, outcome, kind, offline, unsigned, invalid, mac, sealed in rows
        ]

    def tally(self, query: ActivityQuery) -> Tally:
        """The figures of each hour the query selects, and the break-glass actions per staff member."""
        where, values = query.where()
        lookups = ", ".join("?" for _ in LOOKUP_ACTIONS)
        with self._db.reading() as conn:
            rows = conn.execute(
                "SELECT recorded_hour, count(*),"
                f" sum(CASE WHEN action IN ({lookups}) THEN 1 ELSE 0 END),"
                " sum(CASE WHEN outcome = 'not-found' THEN 1 ELSE 0 END),"
                " sum(CASE WHEN outcome = 'identity-mismatch' THEN 1 ELSE 0 END),"
                " sum(CASE WHEN outcome = 'wrong-patient' THEN 1 ELSE 0 END),"
                " sum(CASE WHEN action = 'break-glass' THEN 1 ELSE 0 END),"
                f" sum(offline), sum(unsigned), sum(invalid) FROM activity{where} GROUP BY recorded_hour",
                [*LOOKUP_ACTIONS, *values],
            ).fetchall()
            glass_where = f"{where} AND action = ?" if where else " WHERE action = ?"
            staff = conn.execute(
                f"SELECT staff, count(*) FROM activity{glass_where} GROUP BY staff", [*values, "break-glass"]
            ).fetchall()
        return Tally(
            hours={int(row[0]): _figures(row[1:]) for row in rows},
            break_glass={who: int(count) for who, count in staff},
        )

    def counts(self, query: ActivityQuery, by: Period = "hour", zone: dt.tzinfo = dt.UTC) -> ActivityCounts:
        """The counts of the query's period (see `bounded` for the default one) per hour or per day in `zone`."""
        period, since, until = bounded(query, by, self.now())
        return fold(self.tally(period), since, until, by, zone)

    def choices(self) -> ActivityChoices:
        """The kiosks, staff members, outcomes and kinds of identifier the log holds, sorted."""
        found: dict[str, list[str]] = {}
        with self._db.reading() as conn:
            for column in ("kiosk", "staff", "outcome", "identifier_type"):
                rows = conn.execute(
                    f"SELECT DISTINCT {column} FROM activity WHERE {column} IS NOT NULL ORDER BY {column}"
                ).fetchall()
                found[column] = [str(row[0]) for row in rows]
        return ActivityChoices(
            kiosks=found["kiosk"],
            staff=found["staff"],
            outcomes=found["outcome"],
            identifier_types=found["identifier_type"],
        )

    def purge(self, *, everything: bool = False) -> int:
        """Delete the rows past the retention (every row with `everything`); the number deleted."""
        horizon = self._db.clock() - self.retention_seconds
        with self._db.transaction(durable=True) as conn:
            if everything:
                return conn.execute("DELETE FROM activity").rowcount
            return conn.execute("DELETE FROM activity WHERE recorded_at < ?", (horizon,)).rowcount


def merged_choices(choices: Iterable[ActivityChoices]) -> ActivityChoices:
    """The union of several logs' choices, sorted."""
    kiosks: set[str] = set()
    staff: set[str] = set()
    outcomes: set[str] = set()
    kinds: set[str] = set()
    for found in choices:
        kiosks.update(found.kiosks)
        staff.update(found.staff)
        outcomes.update(found.outcomes)
        kinds.update(found.identifier_types)
    return ActivityChoices(
        kiosks=sorted(kiosks), staff=sorted(staff), outcomes=sorted(outcomes), identifier_types=sorted(kinds)
    )


__all__: Sequence[str] = (
    "RETENTION_SECONDS",
    "ActivityBucket",
    "ActivityChoices",
    "ActivityCounts",
    "ActivityEntry",
    "ActivityFigures",
    "ActivityQuery",
    "ActivityStore",
    "StaffBreakGlass",
    "Tally",
    "bounded",
    "fold",
    "merged_choices",
)
