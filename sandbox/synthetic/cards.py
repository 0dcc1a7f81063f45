"""The identity cards a synthetic person carries, as the text their codes hold.

A chip citizen ID card (CCCD) QR holds `ID12|CMND9|Full name|ddmmyyyy|Nam/Nữ|address|issue date ddmmyyyy`, the
layout `scanners.payloads.cccd` reads. Synthetic people have no old 9-digit ID, so that field is empty. Every card
is issued on the population's reference date: nobody is born after it, so no card reads as issued before its
holder's birth.
"""

from __future__ import annotations

from typing import Final

from lookup.domain.model import Sex
from sandbox.synthetic.population import REFERENCE_DATE, SyntheticPerson

CARD_ISSUED: Final = REFERENCE_DATE


def cccd_qr_text(person: SyntheticPerson) -> str:
    """The QR text of this person's chip citizen ID card."""
    sex = "Nam" if person.sex is Sex.MALE else "Nữ"
    return f"{person.cccd}||{person.full_name}|{person.birth_date:%d%m%Y}|{sex}|{person.address}|{CARD_ISSUED:%d%m%Y}"


__all__ = ["CARD_ISSUED", "cccd_qr_text"]
