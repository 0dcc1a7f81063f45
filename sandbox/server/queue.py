"""Queue numbers and rooms: what an arrival is given, in the shape an Encounter or an Appointment carries it."""

from __future__ import annotations

import datetime as dt
from typing import Any, Final

from lookup.domain.visits import QUEUE_SYSTEM
from sandbox.synthetic.departments import Department

Json = dict[str, Any]
TZ: Final = dt.timezone(dt.timedelta(hours=7))
"""Vietnam's time: a queue number expires at the end of the local day."""


def queue_number(department: Department, number: int) -> str:
    return f"{department.code}-{number:03d}"


def room_of(department: Department, number: int) -> str:
    """Consulting rooms of a department take arrivals in turn."""
    return department.rooms[(number - 1) % len(department.rooms)]


def queue_identifier(department: Department, number: int, day: dt.date) -> Json:
    """The queue number as an identifier valid until the end of its day (local time)."""
    end = dt.datetime.combine(day, dt.time(23, 59, 59), TZ)
    return {"system": QUEUE_SYSTEM, "value": queue_number(department, number), "period": {"end": end.isoformat()}}


def with_queue(resource: Json, department: Department, number: int, day: dt.date) -> Json:
    """A checked-in Appointment with its queue number and room (a Location participant)."""
    room = room_of(department, number)
    place = {"actor": {"reference": f"Location/{department.code}-{room.split()[-1]}", "display": room}}
    participants = [*(resource.get("participant") or []), {**place, "status": "accepted"}]
    return {**resource, "identifier": [queue_identifier(department, number, day)], "participant": participants}
