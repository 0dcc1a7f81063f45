"""Staff sign-in in the lookup service: answers, never exceptions; PINs only as salted hashes; wrong PINs lock the id
for a while that doubles. (The app's flows and the audit against a real sandbox are in tests/security.)"""

from __future__ import annotations

import pytest

from lookup import LookupService, PinAttempts, ServerConfig, SignInStatus, TrustList, hash_pin, is_pin_hash, pin_matches


class _Clock:
    """Seconds that move only when the test says so."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_wrong_pins_lock_the_id_for_a_time_that_doubles() -> None:
    clock = _Clock()
    attempts = PinAttempts(limit=3, lock_s=60, longest_s=100, clock=clock)
    assert [attempts.failed("Nurse-Lan") for _ in range(3)] == [0.0, 0.0, 60.0]
    assert attempts.locked_for("nurse-lan") == 60.0, "ids are compared without case"
    assert attempts.locked_for("doctor-minh") == 0.0, "one id's lock is not another's"
    clock.now += 61
    assert attempts.locked_for("nurse-lan") == 0.0 and attempts.left("nurse-lan") == 3
    assert [attempts.failed("nurse-lan") for _ in range(3)][-1] == 100.0, "the second lock is longer (capped)"
    clock.now += 101
    attempts.succeeded("nurse-lan")
    assert attempts.left("nurse-lan") == 3


def test_a_pin_hash_is_salted_and_a_costly_or_broken_one_never_matches() -> None:
    stored = hash_pin("246810")
    assert is_pin_hash(stored) and "246810" not in stored and stored != hash_pin("246810")
    assert pin_matches("246810", stored) and not pin_matches("246811", stored)
    scheme, _, r, p, salt, digest = stored.split("$")
    assert not is_pin_hash(f"{scheme}${2**30}${r}${p}${salt}${digest}"), "a hash asking for minutes of work"
    assert not is_pin_hash("scrypt$3$8$1$AAAA$AAAA") and not pin_matches("246810", "not a hash")


@pytest.mark.parametrize(
    ("staff_id", "pin"), [("", "246810"), ("nurse lan|x", "246810"), ("nurse-lan", ""), ("a" * 65, "1")]
)
async def test_a_malformed_id_or_pin_is_a_wrong_pin_and_nothing_is_sent(staff_id: str, pin: str) -> None:
    # Nothing listens on port 9: had anything been sent, the answer would be `offline`.
    config = ServerConfig(base_url="http://127.0.0.1:9/fhir", client_id="demo-er", client_secret="demo-er")
    service = LookupService(config, trust=TrustList([]))
    try:
        result = await service.sign_in(staff_id, pin)
    finally:
        await service.aclose()
    assert result.status is SignInStatus.WRONG_PIN and result.staff is None and service.staff is None


async def test_without_client_credentials_nobody_can_sign_in() -> None:
    service = LookupService(ServerConfig(base_url="http://127.0.0.1:9/fhir"), trust=TrustList([]))
    try:
        result = await service.sign_in("nurse-lan", "246810")
    finally:
        await service.aclose()
    assert result.status is SignInStatus.UNAVAILABLE and "client credentials" in result.message
