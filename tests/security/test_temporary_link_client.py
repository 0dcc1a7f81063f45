"""Following a temporary identity's link, tried against a server that answers wrongly: the kiosk opens the real
patient only when the temporary Patient it read carries the number asked for and names exactly one real patient;
otherwise nobody is shown (`wrong-patient`), never some other person."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest

from lookup.domain.model import Identifier, LookupStatus, Sex
from lookup.domain.temporary import TEMPORARY_SYSTEM, UnknownArrival
from lookup.service.lookup_service import LookupService
from lookup.transport.config import ServerConfig
from tests.lookup.conftest import CARD, OTHER
from tests.lookup.fhirserver import Faulty, serve

ARRIVAL = UnknownArrival(sex=Sex.FEMALE, arrival=dt.datetime(2026, 3, 1, 8, 30, tzinfo=dt.UTC))


class Swapping(Faulty):
    """Answers a read of one Patient with another one (a server that lost the link between request and answer)."""

    swap: dict[str, dict[str, Any]]

    def __init__(self) -> None:
        super().__init__()
        self.swap = {}

    def route(
        self, method: str, path: str, query: list[tuple[str, str]], headers: dict[str, str], body: bytes
    ) -> tuple[int, dict[str, Any], dict[str, str]]:
        parts = path.split("/")
        if method == "GET" and len(parts) == 2 and parts[0] == "Patient" and parts[1] in self.swap:
            return 200, self.swap[parts[1]], {}
        return super().route(method, path, query, headers, body)


ServiceFactory = Callable[..., LookupService]


@pytest.fixture
async def make_service() -> AsyncIterator[Callable[..., LookupService]]:
    made: list[LookupService] = []

    def make(base: str, app: Faulty, *, mode: str) -> LookupService:
        config = ServerConfig(base_url=base, client_id="demo-er", client_secret="demo-er", timeout_s=5.0, mode=mode)
        made.append(LookupService(config, trust=app.trust()))
        return made[-1]

    yield make
    for service in made:
        await service.aclose()


@pytest.fixture
def world() -> Iterator[tuple[Swapping, str]]:
    app = Swapping()
    app.add("p1", CARD)
    app.add("p2", OTHER)
    with serve(app) as base:
        yield app, base


async def registered(service: Any, app: Swapping) -> tuple[str, str]:
    made = await service.register_unknown(ARRIVAL)
    assert made.status == "created" and made.patient_id is not None
    return made.number, made.patient_id


async def test_a_temporary_patient_linked_to_two_people_opens_nobody(
    world: tuple[Swapping, str], make_service: ServiceFactory
) -> None:
    app, base = world
    service = make_service(base, app, mode="er")
    number, temp_id = await registered(service, app)
    app.patients[temp_id]["link"] = [
        {"other": {"reference": "Patient/p1"}, "type": "replaced-by"},
        {"other": {"reference": "Patient/p2"}, "type": "replaced-by"},
    ]
    outcome = await service.by_identifier(Identifier(system=TEMPORARY_SYSTEM, value=number))
    assert outcome.status is LookupStatus.WRONG_PATIENT and outcome.patient is None and outcome.summary is None
    assert "more than one patient" in (outcome.message or "")


async def test_a_read_that_answers_another_temporary_patient_is_not_followed(
    world: tuple[Swapping, str], make_service: ServiceFactory
) -> None:
    app, base = world
    service = make_service(base, app, mode="er")
    number, temp_id = await registered(service, app)
    _other_number, other_id = await registered(service, app)
    # The search finds the right temporary Patient; the read by its id answers another one, linked to p2.
    app.swap[temp_id] = {
        **app.patients[other_id],
        "id": temp_id,
        "link": [{"other": {"reference": "Patient/p2"}, "type": "replaced-by"}],
    }
    outcome = await service.by_identifier(Identifier(system=TEMPORARY_SYSTEM, value=number))
    assert outcome.status is LookupStatus.WRONG_PATIENT and outcome.patient is None
    assert not any(r == "POST Patient/p2/$summary" or r.startswith("GET Patient/p2") for r in app.requests)


async def test_a_link_to_an_unreadable_reference_opens_nobody(
    world: tuple[Swapping, str], make_service: ServiceFactory
) -> None:
    app, base = world
    service = make_service(base, app, mode="er")
    number, temp_id = await registered(service, app)
    app.patients[temp_id]["link"] = [{"other": {"reference": "Organization/o1"}, "type": "replaced-by"}]
    outcome = await service.by_identifier(Identifier(system=TEMPORARY_SYSTEM, value=number))
    assert outcome.status is LookupStatus.WRONG_PATIENT and outcome.patient is None


async def test_a_link_answer_naming_another_patient_is_not_taken_as_done(
    world: tuple[Swapping, str], make_service: ServiceFactory
) -> None:
    app, base = world
    service = make_service(base, app, mode="er")
    number, temp_id = await registered(service, app)
    app.swap[temp_id] = {
        **app.patients[temp_id],
        "link": [{"other": {"reference": "Patient/p2"}, "type": "replaced-by"}],
    }
    original = app._link

    def wrong_link(temp: str, real: str) -> tuple[int, dict[str, Any]]:
        status, _ = original(temp, real)
        return status, app.swap[temp]

    app._link = wrong_link  # type: ignore[method-assign]
    result = await service.link(number, "p1")
    assert result.status == "failed" and "not link to the patient asked for" in result.message
