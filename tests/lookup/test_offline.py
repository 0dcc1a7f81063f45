"""Offline: answers stored in the real encrypted cache come back, marked as cached with their age, when the server
is gone; statuses are never upgraded; audit events and check-ins wait in the outbox until the server is back."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from lookup.domain.model import Identifier, LookupSource, LookupStatus, SignatureStatus
from tests.lookup.conftest import CARD, OTHER, ServiceFactory
from tests.lookup.fhirserver import CCCD, Faulty, free_port, serve

ID = Identifier(system=CCCD, value=CARD)


def world() -> Faulty:
    app = Faulty()
    app.add("p1", CARD)
    app.add("p2", OTHER, consent=False)
    app.add("p3", "001190077777", allergy="Aspirin")
    app.tamper("p3", "Aspirine")
    start = dt.datetime.now().astimezone().replace(microsecond=0) + dt.timedelta(hours=1)
    app.appointments["a1"] = {
        "resourceType": "Appointment",
        "id": "a1",
        "status": "booked",
        "start": start.isoformat(),
        "description": "Tái khám",
        "participant": [
            {"actor": {"reference": "Patient/p1"}, "status": "accepted"},
            {"actor": {"reference": "Location/l1", "display": "Phòng khám 3"}, "status": "accepted"},
        ],
    }
    return app


async def test_the_same_call_answers_from_the_cache_when_the_server_is_gone(
    make_service: ServiceFactory, open_cache: Callable[..., Any]
) -> None:
    app = world()
    cache = open_cache()
    port = free_port()
    with serve(app, port) as base:
        online = make_service(base, app, cache=cache)
        first = await online.by_identifier(ID)
        tampered = await online.by_identifier(Identifier(system=CCCD, value="001190077777"))
        refused = await online.by_identifier(Identifier(system=CCCD, value=OTHER))
        glass = await online.break_glass("p2", "cấp cứu")
    assert first.status is LookupStatus.FOUND and first.source is LookupSource.NETWORK
    assert tampered.summary is not None and tampered.summary.has_invalid_document
    assert refused.status is LookupStatus.CONSENT_REQUIRED and glass.status is LookupStatus.FOUND

    offline = make_service(base, app, cache=cache)
    cached = await offline.by_identifier(ID)
    assert cached.status is LookupStatus.FOUND and cached.source is LookupSource.CACHE
    assert cached.age_seconds is not None and 0 <= cached.age_seconds < 60
    assert cached.summary == first.summary
    assert cached.message == "the server cannot be reached (connection refused or reset)"

    still_invalid = await offline.by_identifier(Identifier(system=CCCD, value="001190077777"))
    assert still_invalid.summary is not None
    assert [d.signature.status for d in still_invalid.summary.documents] == [SignatureStatus.INVALID]

    withheld = await offline.by_identifier(Identifier(system=CCCD, value=OTHER))
    assert withheld.status is LookupStatus.CONSENT_REQUIRED and withheld.summary is None
    reopened = await offline.break_glass("p2", "vẫn cấp cứu")
    assert reopened.status is LookupStatus.FOUND and reopened.break_glass and reopened.summary is not None

    unknown = await offline.by_identifier(Identifier(system=CCCD, value="001190099999"))
    assert unknown.status is LookupStatus.OFFLINE

    # The audits of both sessions wait in the outbox and reach the server once it is back, each exactly once.
    with serve(app, port):
        back = make_service(base, app, cache=cache)
        delivered = await back.flush_outbox()
        assert delivered >= 8
        assert await back.flush_outbox() == 0
    kinds = {a["purposeOfEvent"][0]["coding"][0]["code"] for a in app.audits.values()}
    assert kinds == {"ETREAT", "BTG"}
    assert len(app.audits) == delivered


async def test_check_in_online_offline_and_delivered_later(
    make_service: ServiceFactory, open_cache: Callable[..., Any]
) -> None:
    app = world()
    cache = open_cache()
    port = free_port()
    with serve(app, port) as base:
        service = make_service(base, app, cache=cache, mode="reception")
        today = await service.appointments_today("p1")
        assert [a.id for a in today] == ["a1"] and today[0].facility_name == "Phòng khám 3"
    offline = make_service(base, app, cache=cache, mode="reception")
    assert [a.id for a in await offline.appointments_today("p1")] == ["a1"]
    queued = await offline.check_in("a1")
    assert queued.status == "queued"
    assert (await offline.status()).outbox_queued >= 1
    assert app.appointments["a1"]["status"] == "booked"
    with serve(app, port):
        back = make_service(base, app, cache=cache, mode="reception")
        assert await back.flush_outbox() >= 1
        assert app.appointments["a1"]["status"] == "arrived"
        again = await back.check_in("a1")
        assert again.status == "checked-in" and again.message == "already checked in"
        missing = await back.check_in("a404")
        assert missing.status == "failed"


async def test_lobby_keeps_nothing_clinical(make_service: ServiceFactory, open_cache: Callable[..., Any]) -> None:
    app = world()
    cache = open_cache(clinical_allowed=False)
    with serve(app) as base:
        lobby = make_service(base, app, cache=cache, mode="lobby")
        outcome = await lobby.by_identifier(ID)
    assert outcome.status is LookupStatus.FOUND and outcome.summary is None
    assert not any(r.endswith("$summary") for r in app.requests), "the lobby never asks for clinical records"
    offline = make_service(base, app, cache=cache, mode="lobby")
    cached = await offline.by_identifier(ID)
    assert cached.source is LookupSource.CACHE and cached.patient is not None and cached.summary is None
