"""A server without `$summary` whose per-resource records name someone else: another patient, or the same id on
another FHIR server. The whole answer is refused (`wrong-patient`), nothing of it shown."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from lookup.domain.model import Identifier, LookupOutcome, LookupStatus
from lookup.service.binding import Subject, WrongPatientError, bind_records
from lookup.service.lookup_service import LookupService
from lookup.transport.config import ServerConfig
from tests.lookup.conftest import CARD, OTHER
from tests.lookup.fhirserver import CCCD, serve
from tests.lookup.plainserver import Plain, allergy


@pytest.fixture
def plain() -> Iterator[tuple[Plain, str]]:
    app = Plain()
    app.add("p1", CARD)
    app.add("p2", OTHER)
    app.documents["p1"] = []
    with serve(app) as base:
        yield app, base


async def open_card(app: Plain, base: str) -> LookupOutcome:
    # A budget a busy machine always meets: nothing here is about time.
    config = ServerConfig(base_url=base, client_id="demo-er", client_secret="demo-er", timeout_s=5.0)
    service = LookupService(config, trust=app.trust())
    try:
        return await service.by_identifier(Identifier(system=CCCD, value=CARD))
    finally:
        await service.aclose()


@pytest.mark.parametrize(
    "reference",
    [
        "Patient/p2",
        "Patient/p2/_history/3",
        "https://other.example/fhir/Patient/p1",
        "https://other.example/fhir/Patient/p1/_history/3",
        "{base}/Patient/p2",
        "{origin}/other-fhir/Patient/p1",
    ],
)
async def test_a_record_about_another_patient_or_on_another_server_is_refused(
    plain: tuple[Plain, str], reference: str
) -> None:
    app, base = plain
    origin = base.removesuffix("/fhir")
    own = allergy("p1", "a1", "Penicillin")
    foreign = allergy("p1", "a2", "Cefuroxime", patient=reference.format(base=base, origin=origin))
    app.keep("p1", own, foreign)
    outcome = await open_card(app, base)
    assert outcome.status is LookupStatus.WRONG_PATIENT, outcome.status
    assert outcome.summary is None and outcome.patient is None
    assert "Cefuroxime" not in outcome.model_dump_json()


SERVER = "https://hssk.example.vn/fhir"


@pytest.mark.parametrize(
    "reference",
    ["Patient/p1", "Patient/p1/_history/3", f"{SERVER}/Patient/p1", f"{SERVER}/Patient/p1/_history/2"],
)
def test_a_record_naming_the_patient_on_this_servers_base_is_bound(reference: str) -> None:
    bind_records([allergy("p1", "a1", "Penicillin", patient=reference)], Subject("p1", base=SERVER))
    bind_records([allergy("p1", "a1", "Penicillin", patient=reference)], Subject("p1", base=f"{SERVER}/"))


@pytest.mark.parametrize(
    "reference",
    [
        "https://other.example.vn/fhir/Patient/p1",
        "http://hssk.example.vn/fhir/Patient/p1",
        "https://hssk.example.vn/fhir2/Patient/p1",
        "https://hssk.example.vn/Patient/p1",
        f"{SERVER}/Patient/p2/_history/1",
    ],
)
def test_a_record_naming_the_same_id_on_another_base_is_another_patient(reference: str) -> None:
    with pytest.raises(WrongPatientError, match="another patient"):
        bind_records([allergy("p1", "a1", "Penicillin", patient=reference)], Subject("p1", base=SERVER))


async def test_a_next_link_to_another_origin_is_never_followed(plain: tuple[Plain, str]) -> None:
    app, base = plain
    app.keep("p1", allergy("p1", "a1", "Penicillin"), allergy("p1", "a2", "Aspirin"))
    app.page_size = 1
    app.next_base = "http://localhost:9/fhir"
    outcome = await open_card(app, base)
    assert outcome.status is LookupStatus.REFUSED, outcome.status
    assert outcome.summary is None
    assert app.requests.count("GET AllergyIntolerance") == 1
