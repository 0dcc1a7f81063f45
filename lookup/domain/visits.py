"""Walk-in visits: the short list of chief complaints a reception desk chooses from, the identifier systems of the
departments and queue numbers the server hands out, and the answers to a check-in or walk-in (domain shapes, so the
kiosk's visit screen shows a ticket without loading the lookup service). The kiosk shows each complaint through its
catalogues (`complaint.<code>`); the Vietnamese display here is what the server records."""

from __future__ import annotations

import datetime as dt
from typing import Final, Literal

from pydantic import BaseModel, ConfigDict

from lookup.domain.model import NameText

COMPLAINT_SYSTEM: Final = "urn:kiosk:chief-complaint"
DEPARTMENT_SYSTEM: Final = "urn:kiosk:department"
QUEUE_SYSTEM: Final = "urn:kiosk:queue-number"
"""A queue number the desk gives at check-in (`K03-014`, per department per day); its period ends with the day."""
WALK_IN_ID_PREFIX: Final = "walkin-"
"""A walk-in's Encounter id is this and the client's idempotency key: a retry names the same visit."""

CHIEF_COMPLAINTS: Final[dict[str, str]] = {
    "fever": "Sốt",
    "cough": "Ho, khó thở",
    "pain": "Đau",
    "injury": "Chấn thương",
    "dizziness": "Chóng mặt",
    "digestive": "Rối loạn tiêu hóa",
    "follow-up": "Khám lại, lấy thuốc",
    "other": "Khác",
}
"""Chief complaint code -> the display the server records (reception only: the lobby asks no complaint)."""


class Ticket(BaseModel):
    """The queue number and room the desk gave an arrival, valid until `expires` (the end of the day)."""

    model_config = ConfigDict(frozen=True)

    queue_number: NameText
    room: NameText | None = None
    expires: dt.datetime | None = None


class CheckInResult(BaseModel):
    """The answer to a check-in: done on the server, queued for when it is back, or refused; with the queue number
    and room when the server gave them."""

    model_config = ConfigDict(frozen=True)

    status: Literal["checked-in", "queued", "failed"]
    message: str = ""
    ticket: Ticket | None = None


class Department(BaseModel):
    """A department a walk-in may be sent to (a HealthcareService of the server)."""

    model_config = ConfigDict(frozen=True)

    code: NameText
    name: NameText


class WalkInResult(BaseModel):
    """The answer to a walk-in: recorded with a ticket, queued in the outbox (the queue number is then given at the
    desk), or refused."""

    model_config = ConfigDict(frozen=True)

    status: Literal["checked-in", "queued", "failed"]
    message: str = ""
    ticket: Ticket | None = None
    key: str = ""
    """The idempotency key: the same walk-in sent again with it is the same visit on the server."""
