"""Staff sign-in at the token endpoint: a wrong PIN is refused like a wrong secret, a member signs in only where
their role allows, PINs are kept as salted hashes, and the token names the person in the audit."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from sandbox.server.runner import RunningSandbox
from tests.security.policy_world import (
    STAFF_PINS,
    agent_ids,
    booked_today,
    client_for,
    server_events,
    token_response,
    world,
)


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningSandbox]:
    with world(tmp_path_factory, "staff") as running:
        yield running


def test_a_wrong_pin_is_refused_like_a_wrong_secret(sandbox: RunningSandbox) -> None:
    wrong = token_response(sandbox, "demo-er", "nurse-lan", pin="000000")
    assert wrong.status_code == 400 and wrong.json()["error"] == "invalid_grant"
    assert "access_token" not in wrong.json()
    assert token_response(sandbox, "demo-er", "nurse-lan").status_code == 200  # a success resets the lockout count


def test_an_unknown_staff_member_is_answered_as_a_wrong_pin(sandbox: RunningSandbox) -> None:
    form = {
        "grant_type": "client_credentials",
        "client_id": "demo-er",
        "client_secret": "demo-er",
        "staff_id": "nurse-nobody",
        "staff_pin": STAFF_PINS["nurse-lan"],
    }
    unknown = httpx.post(f"{sandbox.base_url}/auth/token", data=form)
    wrong = token_response(sandbox, "demo-er", "nurse-lan", pin="999999")
    assert unknown.status_code == wrong.status_code == 400
    assert unknown.json() == wrong.json()
    half = httpx.post(f"{sandbox.base_url}/auth/token", data={k: v for k, v in form.items() if k != "staff_id"})
    assert half.status_code == 400 and half.json()["error"] == "invalid_request"
    assert token_response(sandbox, "demo-er", "doctor-minh").status_code == 200


def test_staff_sign_in_only_on_kiosks_of_their_roles(sandbox: RunningSandbox) -> None:
    clerk_at_er = token_response(sandbox, "demo-er", "clerk-hoa")
    nurse_at_admin = token_response(sandbox, "demo-admin", "nurse-lan")
    assert clerk_at_er.status_code == nurse_at_admin.status_code == 400
    assert clerk_at_er.json()["error"] == "invalid_grant"
    assert token_response(sandbox, "demo-reception", "clerk-hoa").status_code == 200
    assert token_response(sandbox, "demo-lobby", "clerk-hoa").status_code == 200


def test_pins_are_kept_as_salted_hashes() -> None:
    from sandbox.server.auth import DEMO_STAFF, hash_pin, pin_matches

    for member in DEMO_STAFF:
        pin = STAFF_PINS[member.staff_id]
        assert pin not in member.pin_hash and member.pin_hash.startswith("scrypt$")
        assert pin_matches(pin, member.pin_hash) and not pin_matches(pin + "0", member.pin_hash)
    assert hash_pin("246810") != hash_pin("246810"), "each hash has its own salt"
    assert not pin_matches("246810", "not a hash")


def test_a_staff_token_names_the_person_in_the_audit_a_kiosk_token_does_not(sandbox: RunningSandbox) -> None:
    person, _ = booked_today(consent=True, skip=4)
    with client_for(sandbox, "demo-er", staff="doctor-minh") as doctor, client_for(sandbox, "demo-er") as kiosk:
        assert doctor.get(f"Patient/{person.id}/$summary").status_code == 200
        assert kiosk.get(f"Patient/{person.id}/$summary").status_code == 200
    named = [agent_ids(e) for e in server_events(sandbox, person.id)]
    assert {"demo-er", "doctor-minh"} in [n & {"demo-er", "doctor-minh"} for n in named]
    assert any(n & {"demo-er", "doctor-minh"} == {"demo-er"} for n in named)
