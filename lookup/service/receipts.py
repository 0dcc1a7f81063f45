"""Delivery receipts: what the server's answer to an outbox message says it made or found, and when.

The server's id is `Type/id` of the answer's resource when it is of the type the request was about (a link answers
with the temporary Patient), else of the answer's `Location` header (a repeated AuditEvent is answered with an
OperationOutcome and where the event is). The time is the resource's `meta.lastUpdated`, else the answer's `Date`
header. A receipt is a record of delivery for the hospital's IT staff; the kiosk never acts on it.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import re
from typing import Final

from pydantic import BaseModel, ConfigDict

from lookup.domain.model import FHIR_ID
from lookup.fhir.primitives import parse_datetime
from lookup.service.audit import Delivery
from lookup.transport.client import Answer

_ID: Final = r"[A-Za-z0-9\-.]{1,64}"
_LOCATION: Final = re.compile(rf"(?:^|/)([A-Z][A-Za-z]{{1,63}})/({_ID})(?:/_history/{_ID})?$")
"""`.../Type/id` or `.../Type/id/_history/version` at the end of a `Location`."""


class Receipt(BaseModel):
    """What the server said of a message it took (`lookup.service.cache_protocol.DeliveryReceipt`)."""

    model_config = ConfigDict(frozen=True)

    server_id: str | None = None
    server_time: dt.datetime | None = None


def _http_date(value: str | None) -> dt.datetime | None:
    if not value:
        return None
    try:
        return email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None


def _located(location: str | None) -> str | None:
    found = _LOCATION.search(location.split("?", 1)[0]) if location else None
    return f"{found.group(1)}/{found.group(2)}" if found else None


def receipt_of(delivery: Delivery, answer: Answer) -> Receipt:
    """The receipt of `delivery` in the server's `answer`; its parts are None where the answer does not say."""
    asked = delivery.path.split("/", 1)[0]
    body = answer.body
    made = body.get("id")
    server_id = (
        f"{asked}/{made}"
        if body.get("resourceType") == asked and isinstance(made, str) and FHIR_ID.fullmatch(made)
        else _located(answer.location)
    )
    meta = body.get("meta")
    updated = parse_datetime(meta.get("lastUpdated")) if isinstance(meta, dict) else None
    return Receipt(server_id=server_id, server_time=updated or _http_date(answer.date))
