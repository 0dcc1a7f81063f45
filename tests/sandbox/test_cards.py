"""The synthetic people's ID card QR texts read back, through the kiosk's own parser, as the people they describe."""

from __future__ import annotations

from lookup.domain.identifiers import DEFAULT_TABLE, IdentifierKind
from lookup.domain.model import Identifier, ScanKind
from sandbox.synthetic.cards import cccd_qr_text
from sandbox.synthetic.population import REFERENCE_DATE, generate_people
from scanners.payloads.cccd import parse_cccd


def test_every_card_reads_back_as_its_holder_without_warnings() -> None:
    people = list(generate_people(3_000, seed=2025))
    # The newborns are the case a card issued before their birth would trip.
    assert any(p.birth_date > REFERENCE_DATE.replace(year=REFERENCE_DATE.year - 1) for p in people)
    for person in people:
        payload = parse_cccd(cccd_qr_text(person))
        assert payload.kind is ScanKind.CCCD
        assert payload.warnings == (), person.index
        assert payload.identifiers == (Identifier(system=DEFAULT_TABLE.system(IdentifierKind.CCCD), value=person.cccd),)
        assert payload.former_identifiers == ()
        found = payload.demographics
        assert (found.family, found.middle, found.given) == (person.family, person.middle, person.given)
        assert (found.birth_date, found.sex, found.address) == (person.birth_date, person.sex, person.address)
