"""The outpatient departments every synthetic facility runs, each with its consulting rooms: what an appointment's
`specialty` names and where the desk sends a patient who checked in.

A department is chosen from the appointment's id, never from the condition it is for: a department named after a
diagnosis would carry the diagnosis onto the lobby screen.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from typing import Final

from lookup.domain.visits import DEPARTMENT_SYSTEM


@dataclass(frozen=True, slots=True)
class Department:
    """An outpatient department: its code (the queue number's prefix), its name and its rooms."""

    code: str
    name: str
    rooms: tuple[str, ...]


DEPARTMENTS: Final[tuple[Department, ...]] = (
    Department("K01", "Khoa Khám bệnh", ("Phòng 101", "Phòng 102", "Phòng 103")),
    Department("K02", "Khoa Nội", ("Phòng 201", "Phòng 202")),
    Department("K03", "Khoa Ngoại", ("Phòng 301", "Phòng 302")),
    Department("K04", "Khoa Nhi", ("Phòng 401",)),
    Department("K05", "Khoa Tai Mũi Họng", ("Phòng 501",)),
)
DEPARTMENTS_BY_CODE: Final = {d.code: d for d in DEPARTMENTS}


def department_for(appointment_id: str) -> Department:
    """The department an appointment is booked with (stable for its id)."""
    return DEPARTMENTS[zlib.crc32(appointment_id.encode()) % len(DEPARTMENTS)]


def coded(department: Department) -> dict[str, object]:
    """The department as an Appointment's `specialty` CodeableConcept."""
    return {"coding": [{"system": DEPARTMENT_SYSTEM, "code": department.code, "display": department.name}]}
