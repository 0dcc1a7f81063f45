"""The audit log counted and searched by period, origin and agent: the admin role only (every other role 403, and
the refusal audited), exact at the period's edges whatever zone an event was written in, and reading it changes
nothing in it."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lookup.service.audit import audit_event
from sandbox.server.audit import CLIENT_SYSTEM, ORIGIN_SYSTEM, STAFF_SYSTEM
from sandbox.server.audit_search import AuditQuery
from sandbox.server.http import FhirProblem
from sandbox.server.runner import RunningSandbox
from tests.security.policy_world import client_for, people, server_events, world

BASE = dt.datetime(2031, 5, 4, 1, 0, tzinfo=dt.UTC)
"""A day no other test writes events on, so the counts below are this test's own."""
VIETNAM = dt.timezone(dt.timedelta(hours=7))
CLIENT_TRAIL = f"{ORIGIN_SYSTEM}|client-trail"
DATE_LIKE = r"(eq|ge|gt|le|lt)?\d{4}-\d{2}-\d{2}(T[0-9:.]{2,12}(Z|[+-]\d{2}:\d{2}))?"
"""Values shaped like a date, most of them no real day or time: the parser must refuse those in words too."""


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningSandbox]:
    with world(tmp_path_factory, "audit-counts") as running:
        yield running


def _put(client: httpx.Client, recorded: dt.datetime, action: str = "lookup") -> str:
    event = audit_event(
        action="lookup" if action == "lookup" else "open",
        result="success",
        client_id="demo-er",
        mode="er",
        patient_id=people()[0].id,
        now=recorded,
    )
    event["recorded"] = recorded.isoformat(timespec="milliseconds")  # in the zone the kiosk wrote it in
    answer = client.put(f"AuditEvent/{event['id']}", json=event)
    assert answer.status_code == 201, answer.text
    return str(event["id"])


def _count(admin: httpx.Client, *dates: str, **params: str) -> int:
    query: list[tuple[str, str | int | float | bool | None]] = [("date", d) for d in dates]
    query += [*params.items(), ("_summary", "count")]
    answer = admin.get("AuditEvent", params=query)
    assert answer.status_code == 200, answer.text
    bundle: dict[str, Any] = answer.json()
    assert bundle["type"] == "searchset" and not bundle["entry"]
    return int(bundle["total"])


def test_only_the_admin_counts_and_other_roles_are_refused_and_audited(sandbox: RunningSandbox) -> None:
    window = {"date": f"ge{BASE.date().isoformat()}", "_summary": "count"}
    for client, staff in (("demo-lobby", None), ("demo-reception", "clerk-hoa"), ("demo-er", "nurse-lan")):
        before = len(server_events(sandbox))
        with client_for(sandbox, client, staff) as asking:
            for params in (window, {"date": f"ge{BASE.date().isoformat()}"}, {"agent": "demo-er"}):
                answer = asking.get("AuditEvent", params=params)
                assert answer.status_code == 403, (client, params)
                assert answer.json()["resourceType"] == "OperationOutcome" and "total" not in answer.json()
        refusals = server_events(sandbox)[before:]
        assert len(refusals) == 3 and all(e["outcome"] == "4" for e in refusals)
    with client_for(sandbox, "demo-admin", "auditor-an") as admin:
        assert admin.get("AuditEvent", params=window).status_code == 200


def test_counts_are_exact_at_the_edges_of_the_period_in_any_zone(sandbox: RunningSandbox) -> None:
    with (
        client_for(sandbox, "demo-er", "nurse-lan") as nurse,
        client_for(sandbox, "demo-er", "doctor-minh") as doctor,
        client_for(sandbox, "demo-admin", "auditor-an") as admin,
    ):
        _put(nurse, BASE - dt.timedelta(milliseconds=1))
        first = _put(nurse, BASE)
        _put(doctor, (BASE + dt.timedelta(minutes=30)).astimezone(VIETNAM))  # 08:30 in Hanoi is 01:30 UTC
        _put(nurse, BASE + dt.timedelta(hours=1) - dt.timedelta(milliseconds=1))
        _put(nurse, BASE + dt.timedelta(hours=1))
        start, end = BASE.isoformat(), (BASE + dt.timedelta(hours=1)).isoformat()
        before = len(server_events(sandbox))
        assert _count(admin, f"ge{start}", f"lt{end}") == 3
        assert _count(admin, f"ge{start}", f"lt{end}", _tag=CLIENT_TRAIL) == 3
        assert _count(admin, f"gt{start}", f"le{end}") == 3
        assert _count(admin, f"eq{start}") == 1
        hanoi = BASE.astimezone(VIETNAM).isoformat()  # the same instant, written in Hanoi's zone
        assert _count(admin, f"ge{hanoi}", f"lt{end}") == 3
        assert _count(admin, f"ge{start}", f"lt{end}", agent=f"{STAFF_SYSTEM}|doctor-minh") == 1
        assert _count(admin, f"ge{start}", f"lt{end}", agent="nurse-lan") == 2
        assert _count(admin, f"ge{start}", f"lt{end}", agent=f"{CLIENT_SYSTEM}|demo-er") == 3
        assert _count(admin, f"ge{start}", f"lt{end}", agent="demo-lobby") == 0
        assert _count(admin, f"ge{start}", f"lt{end}", subtype="search") == 3
        assert _count(admin, f"ge{start}", f"lt{end}", _tag=f"{ORIGIN_SYSTEM}|server") == 0
        assert _count(admin, f"eq{BASE.date().isoformat()}") == 5
        assert _count(admin, f"lt{BASE.date().isoformat()}", _tag=CLIENT_TRAIL, agent="doctor-minh") == 0
        assert len(server_events(sandbox)) == before, "counting the log wrote nothing into it"
        listed = admin.get("AuditEvent", params=[("date", f"ge{start}"), ("date", f"lt{end}"), ("_count", "2")])
        bundle = listed.json()
        assert listed.status_code == 200 and bundle["total"] == 3 and len(bundle["entry"]) == 2
        assert bundle["entry"][0]["resource"]["id"] == first
        assert any(link["relation"] == "next" for link in bundle["link"])


def test_a_malformed_period_or_token_is_refused_without_echoing_it(sandbox: RunningSandbox) -> None:
    secret = f"{uuid.uuid4()}"
    with client_for(sandbox, "demo-admin") as admin:
        for params in (
            {"date": f"ge{secret}"},
            {"date": "ge2031-05-04T08:00:00"},  # a time without its zone
            {"date": "2031-02-30"},
            {"agent": f"{secret}|"},
            {"action": "E"},  # not a parameter of this route
        ):
            answer = admin.get("AuditEvent", params=params)
            assert answer.status_code == 400, params
            assert secret not in answer.text


@settings(max_examples=300, deadline=None)
@given(
    dates=st.lists(st.text(max_size=40) | st.from_regex(DATE_LIKE, fullmatch=True), max_size=3),
    tokens=st.lists(st.text(max_size=60), max_size=3),
)
def test_any_period_or_token_is_read_or_refused_with_400(dates: list[str], tokens: list[str]) -> None:
    """Whatever an admin client sends as `date` or a token, the answer is a search or a 400, never a server error."""
    try:
        query = AuditQuery.of(patient=None, dates=dates, tags=tokens, types=tokens, subtypes=tokens, agents=tokens)
    except FhirProblem as problem:
        assert problem.status == 400
        return
    where, params = query.where()
    assert len(where) == len(params) == len(query.dates)
