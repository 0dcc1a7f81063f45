"""An Appointment as time, place and department only: the one projection the lobby (and reception without the
patient's consent) may see, used by the reference server before it answers and by the kiosk before it keeps or
shows anything, whatever the server sent.

A description, reason, comment, instruction, service type or free-text tag may name a diagnosis ("Tái khám: Đái
tháo đường"), so none of them survives; what is left is the status, the times, the department (`specialty`, coded
with a display), the participants' references and the display of a Location or Organization, and the queue number
the desk gave (`identifier` of `QUEUE_SYSTEM`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any, Final

from lookup.domain.visits import QUEUE_SYSTEM
from lookup.fhir.primitives import items, parse_datetime

Json = dict[str, Any]

REDACTED_CODE: Final = "REDACTED"
REDACTED: Final[Json] = {
    "system": "http://terminology.hl7.org/CodeSystem/v3-ObservationValue",
    "code": REDACTED_CODE,
    "display": "redacted",
}
_KEPT: Final = frozenset({"resourceType", "id", "status", "start", "end", "minutesDuration", "created"})
_PLACES: Final = ("Location/", "Organization/", "HealthcareService/")


def _coded(concept: object) -> Json | None:
    """A department concept by its codes only (a code and its display), never its free text."""
    if not isinstance(concept, Mapping):
        return None
    codings = [
        {k: c[k] for k in ("system", "code", "display") if isinstance(c.get(k), str)}
        for c in concept.get("coding") or []
        if isinstance(c, Mapping) and isinstance(c.get("code"), str)
    ]
    return {"coding": codings} if codings else None


def _participant(participant: object) -> Json | None:
    if not isinstance(participant, Mapping):
        return None
    actor = participant.get("actor")
    if not isinstance(actor, Mapping):
        return None
    reference = actor.get("reference")
    kept: Json = {}
    if isinstance(reference, str):
        kept["reference"] = reference
        display = actor.get("display")
        if reference.startswith(_PLACES) and isinstance(display, str):
            kept["display"] = display
    if not kept:
        return None
    out: Json = {"actor": kept}
    if isinstance(participant.get("status"), str):
        out["status"] = participant["status"]
    return out


def is_redacted(resource: Mapping[str, Any]) -> bool:
    """Whether a server withheld this resource's clinical text (its `meta.security` carries REDACTED)."""
    meta = resource.get("meta")
    labels = meta.get("security") if isinstance(meta, Mapping) else None
    return any(isinstance(s, Mapping) and s.get("code") == REDACTED_CODE for s in labels or [])


def time_place_department(resource: Mapping[str, Any]) -> Json:
    """The Appointment as time, place and department, tagged REDACTED (see the module's docstring)."""
    view: Json = {k: v for k, v in resource.items() if k in _KEPT}
    specialties = [c for c in map(_coded, resource.get("specialty") or []) if c is not None]
    if specialties:
        view["specialty"] = specialties
    view["participant"] = [p for p in map(_participant, resource.get("participant") or []) if p is not None]
    queue = [
        {k: v for k, v in i.items() if k in ("system", "value", "period")}
        for i in resource.get("identifier") or []
        if isinstance(i, Mapping) and i.get("system") == QUEUE_SYSTEM
    ]
    if queue:
        view["identifier"] = queue
    meta = resource.get("meta")
    kept_meta: Json = (
        {k: v for k, v in meta.items() if k in ("versionId", "lastUpdated")} if isinstance(meta, Mapping) else {}
    )
    security = [s for s in (meta.get("security") or []) if isinstance(s, Mapping)] if isinstance(meta, Mapping) else []
    if not any(s.get("code") == REDACTED_CODE for s in security):
        security.append(REDACTED)
    kept_meta["security"] = security
    view["meta"] = kept_meta
    return view


def queue_of(resource: Mapping[str, Any]) -> tuple[str, str | None, dt.datetime | None] | None:
    """The queue number, room and expiry the desk gave an arrival (an Appointment checked in, a walk-in Encounter),
    or None when it gave none. The room is the Encounter's location, or the Appointment's Location participant."""
    found = next(
        (i for i in items(resource.get("identifier")) if isinstance(i, Mapping) and i.get("system") == QUEUE_SYSTEM),
        None,
    )
    value = found.get("value") if found is not None else None
    if found is None or not isinstance(value, str) or not value.strip():
        return None
    period = found.get("period")
    expires = parse_datetime(period.get("end")) if isinstance(period, Mapping) else None
    rooms = [
        entry["location"].get("display")
        for entry in items(resource.get("location"))
        if isinstance(entry, Mapping) and isinstance(entry.get("location"), Mapping)
    ]
    rooms += [
        p["actor"].get("display")
        for p in items(resource.get("participant"))
        if isinstance(p, Mapping)
        and isinstance(p.get("actor"), Mapping)
        and str(p["actor"].get("reference", "")).startswith("Location/")
    ]
    room = next((r for r in rooms if isinstance(r, str) and r.strip()), None)
    return value, room, expires
