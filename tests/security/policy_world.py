"""One sandbox world for the security tests of the policy, the server's audit and staff sign-in: a real server on
127.0.0.1 with the demo clients, the people in it (who consented, who is booked today, whose referral goes where),
and clients of each role, optionally signed in as a demo staff member."""

from __future__ import annotations

import functools
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from lookup.domain.identifiers import DEFAULT_TABLE, IdentifierKind
from lookup.domain.provinces import OLD_PROVINCES_BY_NAME
from lookup.domain.temporary import TEMPORARY_SYSTEM, UNKNOWN_EXTENSION, temporary_alias
from sandbox.server.config import SandboxConfig
from sandbox.server.runner import RunningSandbox, start_sandbox
from sandbox.synthetic.clinical import AppointmentPlan, ReferralPlan, events, has_consent, has_documents
from sandbox.synthetic.population import SyntheticPerson, generate_people
from testkit.server import STAFF_PINS as STAFF_PINS  # the demo staff's PINs, for the tests that import them here
from testkit.server import authorised_client, request_token

POPULATION = 1200
SEED = 7
SHARE = 0.4
CCCD_SYSTEM = DEFAULT_TABLE.system(IdentifierKind.CCCD)
RECEPTION_FACILITY = "01929"
Json = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Person:
    """A synthetic person with shared records, and what the sandbox holds about them."""

    person: SyntheticPerson
    consent: bool
    appointments: tuple[AppointmentPlan, ...]
    referrals: tuple[ReferralPlan, ...]

    @property
    def id(self) -> str:
        return self.person.patient_id

    @property
    def identifier(self) -> str:
        return f"{CCCD_SYSTEM}|{self.person.cccd}"

    def today(self) -> AppointmentPlan | None:
        return next((a for a in self.appointments if a.day == 0), None)


@functools.cache
def people() -> tuple[Person, ...]:
    """Everyone with shared records (and so with appointments and referrals), in population order."""
    found = []
    for person in generate_people(POPULATION, SEED):
        if has_documents(person.index, SEED, SHARE):
            plan = events(person.index, SEED, OLD_PROVINCES_BY_NAME[person.card_province].current_code)
            found.append(Person(person, has_consent(person.index, SEED), plan.appointments, plan.referrals))
    return tuple(found)


def booked_today(*, consent: bool, skip: int = 0) -> tuple[Person, AppointmentPlan]:
    """Someone (who consented, or not) with a re-examination today; `skip` picks a later one."""
    found = [(p, a) for p in people() if p.consent is consent and (a := p.today()) and a.status == "booked"]
    return found[skip]


def referred_to(facility: str, *, consent: bool) -> tuple[Person, ReferralPlan]:
    """Someone (who consented, or not) referred to `facility`."""
    return next((p, r) for p in people() if p.consent is consent for r in p.referrals if r.target.code == facility)


@contextmanager
def world(tmp_path_factory: pytest.TempPathFactory, name: str) -> Iterator[RunningSandbox]:
    """A sandbox of its own (database and generated-population cache in a temporary folder)."""
    folder: Path = tmp_path_factory.mktemp(name)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("KIOSK_SANDBOX_CACHE", str(folder / "cache"))
        config = SandboxConfig(db_path=folder / "s.sqlite", population=POPULATION, seed=SEED, demo_clients=True)
        with start_sandbox(config) as running:
            yield running


def token_response(sandbox: RunningSandbox, client: str, staff: str | None = None, pin: str | None = None) -> Any:
    if staff is None:
        return request_token(sandbox.base_url, client)
    return request_token(sandbox.base_url, client, staff_id=staff, staff_pin=STAFF_PINS[staff] if pin is None else pin)


def client_for(sandbox: RunningSandbox, client: str, staff: str | None = None) -> httpx.Client:
    """An HTTP client with a bearer token of `client` (signed in as `staff` when given)."""
    if staff is None:
        return authorised_client(sandbox.base_url, client)
    return authorised_client(sandbox.base_url, client, staff_id=staff, staff_pin=STAFF_PINS[staff])


def server_events(sandbox: RunningSandbox, patient_id: str | None = None) -> list[Json]:
    """The audit events the server holds (about one patient), read from its database."""
    events_, _ = sandbox.state.store.audits_of(patient_id, 10_000, 0)
    return events_


def agent_ids(event: Json) -> set[str]:
    """Every identifier value and display an event's agents name."""
    found: set[str] = set()
    for agent in event.get("agent") or []:
        who = agent.get("who") or {}
        found.add(str(who.get("display", "")))
        found.add(str((who.get("identifier") or {}).get("value", "")))
    return found - {""}


def temporary_body(number: str, *, gender: str = "unknown", birth_year: str | None = None) -> Json:
    """A temporary Patient as the ER's kiosk registers it (the number made by `new_temporary_number`)."""
    body: Json = {
        "resourceType": "Patient",
        "identifier": [{"system": TEMPORARY_SYSTEM, "value": number}],
        "name": [{"use": "temp", "text": temporary_alias(number)}],
        "gender": gender,
        "extension": [
            {
                "url": UNKNOWN_EXTENSION,
                "extension": [
                    {"url": "arrival", "valueDateTime": "2026-01-05T22:10:00+07:00"},
                    {"url": "estimatedAge", "valueInteger": 40},
                    {"url": "description", "valueString": "áo khoác xanh, tìm thấy ở bến xe"},
                ],
            }
        ],
    }
    if birth_year is not None:
        body["birthDate"] = birth_year
    return body


def eligibility_body(card: str) -> Json:
    """A CoverageEligibilityRequest naming a health-insurance card by a contained Coverage."""
    bhyt = DEFAULT_TABLE.system(IdentifierKind.BHYT)
    return {
        "resourceType": "CoverageEligibilityRequest",
        "status": "active",
        "purpose": ["validation"],
        "contained": [
            {
                "resourceType": "Coverage",
                "id": "card",
                "status": "active",
                "subscriberId": card,
                "beneficiary": {"identifier": {"system": bhyt, "value": card}},
                "payor": [{"display": "Bảo hiểm xã hội Việt Nam"}],
            }
        ],
        "patient": {"identifier": {"system": bhyt, "value": card}},
        "created": "2026-01-05",
        "insurer": {"display": "Bảo hiểm xã hội Việt Nam"},
        "insurance": [{"coverage": {"reference": "#card"}}],
    }
