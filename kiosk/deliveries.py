"""The delivery list of the admin console and `kiosk deliveries`: every message the outbox keeps, in its delivery
state, filtered one way and written as CSV one way.

A message is listed by its kind, the kiosk that queued it, its state (sent, retrying, delivered, given up), attempts,
next try, last fault or reason, and the server's id and time of what it made or found: never its payload, never a
name, an identifier or a birth date. A registration's server id is its temporary number (a number, not a name); it
may be listed and exported, and is still kept off log lines.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Final, Protocol, TextIO

from pydantic import BaseModel, ConfigDict, Field

from kiosk import spreadsheet
from kiosk.i18n import Translator, fault_words
from lookup.service.audit import (
    AUDIT_KIND,
    CHECK_IN_KIND,
    DUPLICATE_KIND,
    LINK_KIND,
    REGISTRATION_KIND,
    UNLINK_KIND,
)
from lookup.transport.faults import described_kind
from offline_cache import DeliveryState, OutboxItem, OutboxState

KINDS: Final = (AUDIT_KIND, CHECK_IN_KIND, REGISTRATION_KIND, LINK_KIND, UNLINK_KIND, DUPLICATE_KIND)
"""The kinds of message a kiosk sends, in the order the console offers them."""
CSV_COLUMNS: Final = (
    "queued_at",
    "kiosk",
    "kind",
    "state",
    "attempts",
    "next_try",
    "server_id",
    "server_time",
    "reason",
)
_GAVE_UP: Final = re.compile(r"gave up after (\d+) attempts: (.*)", re.DOTALL)
_NO_ACK: Final = re.compile(r"no acknowledgement after (\d+) delivery attempts")
_UNREADABLE: Final = "the queued message is unreadable"


class DeliveryFilter(BaseModel):
    """Which messages to list: a delivery state, a kind, a kiosk, queued within [since, until), text in the kind,
    the server's id or the last fault, and at most `limit` of them, newest first."""

    model_config = ConfigDict(frozen=True)

    state: DeliveryState | None = None
    kind: str | None = Field(default=None, max_length=40)
    kiosk: str | None = Field(default=None, max_length=64)
    since: dt.datetime | None = None
    until: dt.datetime | None = None
    search: str | None = Field(default=None, max_length=200)
    limit: int = Field(default=500, ge=1, le=100_000)


class DeliveryOutbox(Protocol):
    """An outbox that lists its messages: this kiosk's (`MessageOutbox`), or with the hospital's (`HospitalOutbox`)."""

    def entries(
        self,
        state: OutboxState | str | None = None,
        *,
        delivery: DeliveryState | str | None = None,
        kind: str | None = None,
        kiosk: str | None = None,
        since: dt.datetime | None = None,
        until: dt.datetime | None = None,
        search: str | None = None,
        limit: int = 100,
    ) -> list[OutboxItem]: ...


def list_deliveries(outbox: DeliveryOutbox | None, chosen: DeliveryFilter) -> list[OutboxItem]:
    """The messages `chosen` selects, newest first; none without an outbox."""
    if outbox is None:
        return []
    return outbox.entries(
        delivery=chosen.state,
        kind=chosen.kind,
        kiosk=chosen.kiosk,
        since=chosen.since,
        until=chosen.until,
        search=chosen.search or None,
        limit=chosen.limit,
    )


def _instant(value: dt.datetime | None) -> str:
    return "" if value is None else value.isoformat(timespec="seconds")


def delivery_row(item: OutboxItem) -> dict[str, str]:
    """One message as a CSV row: what the console shows, in the words of `CSV_COLUMNS`, times in ISO 8601."""
    waiting = item.delivery in (DeliveryState.SENT, DeliveryState.RETRYING)
    return {
        "queued_at": _instant(item.created_at),
        "kiosk": item.kiosk or "",
        "kind": item.kind,
        "state": item.delivery.value,
        "attempts": str(item.attempts),
        "next_try": _instant(item.next_attempt_at) if waiting else "",
        "server_id": item.server_id or "",
        "server_time": _instant(item.server_time),
        "reason": item.reason or "",
    }


def write_csv(items: Iterable[OutboxItem], out: TextIO) -> int:
    """Write the messages as CSV with a header row; the number written."""
    return spreadsheet.write_csv(CSV_COLUMNS, (delivery_row(item) for item in items), out)


def export_csv(items: Sequence[OutboxItem], folder: Path, now: dt.datetime) -> Path:
    """Write the messages to a new `deliveries-YYYYMMDD-HHMMSS.csv` in `folder` (made 0700 when missing), readable
    by this user only; the file's path. Raises `OSError` when it cannot be written."""
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    stem = f"deliveries-{now:%Y%m%d-%H%M%S}"
    for n in range(1, 100):
        path = folder / (f"{stem}.csv" if n == 1 else f"{stem}-{n}.csv")
        try:
            handle = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            continue
        with open(handle, "w", encoding="utf-8", newline="") as out:
            write_csv(items, out)
        return path
    raise FileExistsError(f"{folder} already holds 99 exports made in this second")


def reason_words(t: Translator, reason: str | None) -> str:
    """A stored fault or reason in the reader's language where it is one the kiosk writes; otherwise as written."""
    if not reason:
        return ""
    gave_up = _GAVE_UP.fullmatch(reason)
    if gave_up:
        return t("deliveries.gave-up-after", n=gave_up.group(1), reason=reason_words(t, gave_up.group(2)))
    unanswered = _NO_ACK.fullmatch(reason)
    if unanswered:
        return t("deliveries.no-ack", n=unanswered.group(1))
    if reason == _UNREADABLE:
        return t("deliveries.unreadable")
    kind = described_kind(reason)
    return fault_words(t, kind.value) or reason if kind is not None else reason


def state_words(t: Translator, state: DeliveryState) -> str:
    return t(f"delivery.{state.value}")


def kind_words(t: Translator, kind: str) -> str:
    key = f"kind.{kind}"
    return t(key) if t.has(key) else kind
