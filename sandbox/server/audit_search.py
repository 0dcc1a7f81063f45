"""Searching and counting the audit log (the admin role's `GET AuditEvent`): by patient, by period, by origin, type,
subtype and agent, so a hospital can compare a kiosk's own count of its actions with the server's.

- `date` (repeatable) compares each event's `recorded` instant, whatever zone it was written in, to the millisecond:
  `ge`, `gt`, `le`, `lt` or `eq` before an instant with its zone (`2026-03-14T08:00:00+07:00`, seconds optional) or a
  day (`2026-03-14`: that UTC day, `ge` from its start, `lt` before it, `eq` all of it);
- `_tag`, `type`, `subtype` and `agent` are tokens, `system|code` or a bare `code`: the event's origin tag (`server`
  or `client-trail`, `sandbox.server.audit.ORIGIN_SYSTEM`), its type, any of its subtypes, and any of its agents'
  identifiers (the client id, the staff member);
- `_summary=count` answers with the total alone.
A value that is none of these is 400 naming the parameter, never echoing the value.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from sandbox.server.http import FhirProblem

Json = dict[str, Any]
_DATE: Final = re.compile(r"^(eq|ge|gt|le|lt)?(\d{4}-\d{2}-\d{2}(?:T[0-9:.]+(?:Z|[+-]\d{2}:\d{2}))?)$")
_OPERATORS: Final = {"ge": ">=", "gt": ">", "le": "<=", "lt": "<"}
RECORDED_UTC: Final = "strftime('%Y-%m-%d %H:%M:%f', recorded)"
"""An event's `recorded` instant in UTC as SQLite writes it, to the millisecond: what `date` is compared with."""


@dataclass(frozen=True, slots=True)
class Token:
    """A token search value: a code, with its system when one is given."""

    system: str | None
    code: str

    @classmethod
    def parse(cls, name: str, value: str) -> Token:
        system, sep, code = value.rpartition("|")
        if not code or len(value) > 200:
            raise FhirProblem(400, "invalid", f"{name} must be SYSTEM|CODE or CODE")
        return cls(system if sep else None, code)

    def matches(self, system: object, code: object) -> bool:
        return code == self.code and (self.system is None or system == self.system)


def _utc_text(moment: dt.datetime) -> str:
    utc = moment.astimezone(dt.UTC)
    return utc.strftime("%Y-%m-%d %H:%M:%S.") + f"{utc.microsecond // 1000:03d}"


def date_conditions(values: Iterable[str]) -> list[tuple[str, str]]:
    """(SQL operator, UTC instant text) pairs for `date` values; 400 for a value that is not one."""
    conditions: list[tuple[str, str]] = []
    for value in values:
        match = _DATE.match(value)
        try:
            found = _conditions(match.group(1) or "eq", match.group(2)) if match else None
        except (ValueError, OverflowError):  # no such day or time, or an instant outside the calendar in UTC
            found = None
        if found is None:
            raise FhirProblem(400, "invalid", "date must be an instant with its zone or a day, prefixed ge/gt/le/lt/eq")
        conditions += found
    return conditions


def _conditions(prefix: str, text: str) -> list[tuple[str, str]]:
    moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    if "T" in text:
        return [("=" if prefix == "eq" else _OPERATORS[prefix], _utc_text(moment))]
    start = moment.replace(tzinfo=dt.UTC)
    end = _utc_text(start + dt.timedelta(days=1))
    # A day is a period: after it (`gt`) begins where it ends, and up to its end (`le`) stops there.
    return {
        "eq": [(">=", _utc_text(start)), ("<", end)],
        "ge": [(">=", _utc_text(start))],
        "gt": [(">=", end)],
        "lt": [("<", _utc_text(start))],
        "le": [("<", end)],
    }[prefix]


def _tokens(name: str, values: Sequence[str] | None) -> list[Token]:
    found: list[Token] = []
    for value in values or []:
        found.extend(Token.parse(name, part) for part in value.split(","))
    return found


def _codings(value: object) -> list[Json]:
    if isinstance(value, dict):
        return [value]
    if isinstance(value, list):
        return [v for v in value if isinstance(v, dict)]
    return []


@dataclass(frozen=True)
class AuditQuery:
    """One audit search: what SQL selects (patient, period), and the tokens every event found must match (each
    parameter's values are alternatives; the parameters must all hold)."""

    patient: str | None = None
    dates: list[tuple[str, str]] = field(default_factory=list)
    tags: list[Token] = field(default_factory=list)
    types: list[Token] = field(default_factory=list)
    subtypes: list[Token] = field(default_factory=list)
    agents: list[Token] = field(default_factory=list)

    @classmethod
    def of(
        cls,
        *,
        patient: str | None,
        dates: Sequence[str] | None,
        tags: Sequence[str] | None,
        types: Sequence[str] | None,
        subtypes: Sequence[str] | None,
        agents: Sequence[str] | None,
    ) -> AuditQuery:
        """The query of a request's parameter values; 400 for one that is not a date or a token."""
        return cls(
            patient=patient,
            dates=date_conditions(dates or []),
            tags=_tokens("_tag", tags),
            types=_tokens("type", types),
            subtypes=_tokens("subtype", subtypes),
            agents=_tokens("agent", agents),
        )

    def where(self) -> tuple[list[str], list[Any]]:
        clauses: list[str] = []
        params: list[Any] = []
        if self.patient is not None:
            clauses.append("patient = ?")
            params.append(self.patient)
        for operator, instant in self.dates:
            clauses.append(f"{RECORDED_UTC} {operator} ?")
            params.append(instant)
        return clauses, params

    @property
    def by_content(self) -> bool:
        """Whether events must be read to be matched (a token parameter is given)."""
        return bool(self.tags or self.types or self.subtypes or self.agents)

    def matches(self, event: Json) -> bool:
        meta = event.get("meta") if isinstance(event.get("meta"), dict) else {}
        tags = _codings((meta or {}).get("tag"))
        identifiers = [
            who.get("identifier")
            for agent in _codings(event.get("agent"))
            if isinstance(who := agent.get("who"), dict) and isinstance(who.get("identifier"), dict)
        ]
        wanted = (
            (self.tags, [(c.get("system"), c.get("code")) for c in tags]),
            (self.types, [(c.get("system"), c.get("code")) for c in _codings(event.get("type"))]),
            (self.subtypes, [(c.get("system"), c.get("code")) for c in _codings(event.get("subtype"))]),
            (self.agents, [(i.get("system"), i.get("value")) for i in identifiers if i is not None]),
        )
        return all(
            not tokens or any(t.matches(system, code) for t in tokens for system, code in found)
            for tokens, found in wanted
        )
