"""Unknown patients against a loopback FHIR server: a temporary number at once (queued while the server is down,
created exactly once when it returns), linking to the real patient and its undo, and insurance eligibility."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from lookup.domain.model import Eligibility, Identifier, LookupSource, LookupStatus, Sex
from lookup.domain.temporary import TEMPORARY_SYSTEM, UnknownArrival, temporary_alias, temporary_number
from tests.lookup.conftest import CARD, ServiceFactory
from tests.lookup.fhirserver import CCCD, Faulty, free_port, serve

ARRIVAL = UnknownArrival(sex=Sex.MALE, estimated_age=40, arrival=dt.datetime(2026, 3, 1, 8, 30, tzinfo=dt.UTC))


def holding(app: Faulty, number: str) -> list[dict[str, Any]]:
    return [p for p in app.patients.values() if {"system": TEMPORARY_SYSTEM, "value": number} in p["identifier"]]


async def test_offline_registration_is_queued_at_once_and_created_once_when_the_server_returns(
    make_service: ServiceFactory, open_cache: Callable[..., Any]
) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}/fhir"
    app = Faulty()
    cache = open_cache()
    offline_service = make_service(base, app, cache=cache, mode="er", retries=0)
    made = await offline_service.register_unknown(ARRIVAL)
    assert made.status == "queued" and made.patient_id is None
    assert temporary_number(made.number) == made.number and made.alias == temporary_alias(made.number)
    # Offline, the number already finds the temporary identity in the encrypted cache.
    offline = await offline_service.by_identifier(Identifier(system=TEMPORARY_SYSTEM, value=made.number))
    assert offline.source is LookupSource.CACHE and offline.patient is not None
    assert offline.patient.identifiers[0].value == made.number
    with serve(app, port):
        # The kiosk started again with the same cache once the server is back.
        service = make_service(base, app, cache=cache, mode="er")
        assert await service.flush_outbox() >= 1
        created = holding(app, made.number)
        assert len(created) == 1
        patient = created[0]
        assert patient["name"][0]["use"] == "temp" and patient["name"][0]["text"] == made.alias
        assert patient["gender"] == "male"
        # The same registration delivered again (a lost acknowledgement) is still one Patient.
        assert service.writer.create({k: v for k, v in patient.items() if k != "id"}, made.number + "-again")
        await service.flush_outbox()
        assert len(holding(app, made.number)) == 1
        found = await service.temporary_patient(made.number)
        assert found is not None and found.status == "created" and found.patient_id == patient["id"]
        online = await service.by_identifier(Identifier(system=TEMPORARY_SYSTEM, value=made.number))
        assert online.source is LookupSource.NETWORK and online.patient is not None
        assert online.patient.id == patient["id"]
    # Offline again, the number finds the one Patient the server made, not also the stand-in kept while queued.
    later = make_service(base, app, cache=cache, mode="er", retries=0)
    again = await later.by_identifier(Identifier(system=TEMPORARY_SYSTEM, value=made.number))
    assert again.source is LookupSource.CACHE and not again.candidates
    assert again.patient is not None and again.patient.id == patient["id"]


async def test_link_makes_both_identities_show_the_real_person_and_unlink_restores_them(
    faulty: tuple[Faulty, str], make_service: ServiceFactory
) -> None:
    app, base = faulty
    service = make_service(base, app, mode="er")
    made = await service.register_unknown(ARRIVAL)
    assert made.status == "created" and made.patient_id is not None
    temporary = Identifier(system=TEMPORARY_SYSTEM, value=made.number)
    before = await service.by_identifier(temporary)
    assert before.patient is not None and before.patient.id == made.patient_id and before.reached_through is None

    linked = await service.link(made.number, "p1")
    assert linked.status == "linked", linked.message
    assert [(h.action, h.patient_id, h.staff_id) for h in linked.history] == [("linked", "p1", "bs-an")]
    through = await service.by_identifier(temporary)
    assert through.status is LookupStatus.FOUND and through.patient is not None and through.patient.id == "p1"
    assert through.reached_through == made.number and "temporary identity" in (through.message or "")
    assert through.summary is not None and through.summary.allergies[0].text == "Penicillin"
    real = await service.by_identifier(Identifier(system=CCCD, value=CARD))
    assert real.patient is not None and real.patient.id == "p1" and real.reached_through is None

    again = await service.link(made.number, "p2")
    assert again.status == "failed" and "conflict" in again.message

    undone = await service.unlink(made.number)
    assert undone.status == "unlinked", undone.message
    assert [h.action for h in undone.history] == ["linked", "unlinked"]
    after = await service.by_identifier(temporary)
    assert after.patient is not None and after.patient.id == made.patient_id and after.reached_through is None
    real_after = await service.by_identifier(Identifier(system=CCCD, value=CARD))
    assert real_after.patient is not None and real_after.patient.id == "p1"
    assert "link" not in app.patients["p1"]


async def test_link_refusals_say_why(faulty: tuple[Faulty, str], make_service: ServiceFactory) -> None:
    app, base = faulty
    service = make_service(base, app, mode="er")
    made = await service.register_unknown(ARRIVAL)
    assert (await service.link(made.number, "nobody")).message == "no such patient on the server"
    assert "not linked" in (await service.unlink(made.number)).message
    assert "no temporary patient" in (await service.link("TMP-0000-0000-0", "p1")).message
    assert "not a temporary number" in (await service.link("TMP-0000-0000-1", "p1")).message


async def test_reception_may_not_register_an_unknown_patient(
    faulty: tuple[Faulty, str], make_service: ServiceFactory
) -> None:
    app, base = faulty
    service = make_service(base, app, mode="reception")
    made = await service.register_unknown(ARRIVAL)
    assert made.status == "failed" and "ER" in made.message
    assert not holding(app, made.number)


async def test_eligibility_from_the_gateway_and_from_the_card_when_it_is_unreachable(
    faulty: tuple[Faulty, str], make_service: ServiceFactory
) -> None:
    app, base = faulty
    app.expired_cards.add("0111077012")
    service = make_service(base, app, mode="reception")
    today = dt.date.today()
    expired = await service.eligibility("0111077012")
    assert expired.source == "gateway" and expired.in_force is False and expired.state(today) == "expired"
    assert expired.benefit_level == 4
    valid = await service.eligibility("0111077013")
    assert valid.source == "gateway" and valid.state(today) == "valid"

    down = make_service(f"http://127.0.0.1:{free_port()}/fhir", app, mode="reception", retries=0)
    card = Eligibility(card_number="0111077012", valid_to=today - dt.timedelta(days=1))
    assert (await down.eligibility("0111077012", card)) == card
    unknown = await down.eligibility("0111077012")
    assert unknown.source == "card" and unknown.state(today) == "unknown"
