"""Property tests: whatever text or bytes reach a parser, the outcome is a result or a `PayloadError`, nothing else."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lookup.domain.model import ScanReading, ScanResult, SignatureStatus
from lookup.trust.trust_list import TrustList
from scanners.payloads import PayloadError, ShcChunks, interpret, parse_payload
from scanners.payloads.bhyt import parse_bhyt
from scanners.payloads.cccd import parse_cccd
from scanners.payloads.common import clean_text
from scanners.payloads.numbers import parse_number
from scanners.payloads.shc import numeric_to_jws, parse_shc, verify_jws
from scanners.payloads.shl import parse_shl
from scanners.wedge import interpret_wedge
from tests.scanners.conftest import FHIR

FIELD = st.one_of(
    st.text(max_size=12),
    st.from_regex(r"\d{1,14}", fullmatch=True),
    st.from_regex(r"\d{2}/?\d{2}/?\d{4}", fullmatch=True),
    st.text(min_size=1, max_size=10).map(lambda t: t.encode("utf-8").hex()),
    st.sampled_from(["", "-", "$", "Nam", "Nữ", "1", "2", "Nguyễn Văn An", "0123456789abcdef-0123"]),
)
PIPED = st.lists(FIELD, min_size=1, max_size=18).map("|".join)
CARDLIKE = st.tuples(st.from_regex(r"\d{12}|\d{10}|[A-Z]{2}\d{13}", fullmatch=True), PIPED).map("|".join)
SHC = st.one_of(
    st.from_regex(r"shc:/\d{0,300}", fullmatch=True),
    st.from_regex(r"shc:/\d{1,2}/\d{1,2}/\d{0,80}", fullmatch=True),
    st.lists(
        st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", max_size=40),
        min_size=3,
        max_size=3,
    )
    .map(".".join)
    .map(lambda jws: "shc:/" + "".join(f"{ord(c) - 45:02d}" for c in jws)),
)
JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=10),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=4),
    max_leaves=8,
)
SHL_FIELDS = st.fixed_dictionaries(
    {},
    optional={
        "url": st.one_of(st.text(max_size=20), st.just("https://x.example/m")),
        "key": st.one_of(st.text(max_size=44), st.from_regex(r"[A-Za-z0-9_-]{43}", fullmatch=True)),
        "flag": st.one_of(st.text(max_size=3), st.just("LP")),
        "exp": JSONISH,
        "label": JSONISH,
        "v": JSONISH,
    },
)
SHL = st.one_of(SHL_FIELDS, JSONISH).map(
    lambda obj: "shlink:/" + base64.urlsafe_b64encode(json.dumps(obj).encode()).decode().rstrip("=")
)
ANY_TEXT = st.one_of(
    st.text(),
    st.binary().map(lambda b: b.decode("utf-8", "replace")),
    st.binary().map(lambda b: b.decode("latin-1")),
    PIPED,
    CARDLIKE,
    SHC,
    SHL,
)

TRUST = TrustList.empty()


def _only_payload_errors(parse: Callable[[str], Any], text: str) -> None:
    try:
        result = parse(text)
    except PayloadError as exc:
        assert str(exc)
        assert len(text) < 12 or text not in str(exc)
        return
    assert isinstance(result, ScanReading | str | type(None))


PARSERS: dict[str, Callable[[str], Any]] = {
    "cccd": parse_cccd,
    "bhyt": parse_bhyt,
    "number": parse_number,
    "shc": lambda t: parse_shc(t, TRUST, chunks=ShcChunks()),
    "shc-alone": lambda t: parse_shc(t, None),
    "jws": lambda t: verify_jws(t, TRUST),
    "numeric": numeric_to_jws,
    "shl": parse_shl,
    "any": lambda t: parse_payload(t, trust=TRUST, chunks=ShcChunks()),
}

FAST = settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FAST
@given(text=ANY_TEXT, name=st.sampled_from(sorted(PARSERS)))
def test_every_parser_returns_or_raises_a_payload_error(text: str, name: str) -> None:
    _only_payload_errors(PARSERS[name], text)


@FAST
@given(text=CARDLIKE)
def test_card_shaped_text(text: str) -> None:
    for name in ("cccd", "bhyt", "number", "any"):
        _only_payload_errors(PARSERS[name], text)


@FAST
@given(text=ANY_TEXT)
def test_interpret_and_wedge_never_raise(text: str) -> None:
    assert isinstance(interpret(text, trust=TRUST), ScanResult)
    assert isinstance(interpret_wedge(text, trust=TRUST), ScanResult)
    assert isinstance(clean_text(text), str)


@FAST
@given(raw=st.binary(max_size=300))
def test_arbitrary_bytes_as_any_payload(raw: bytes) -> None:
    for codec in ("utf-8", "latin-1", "cp1252"):
        _only_payload_errors(PARSERS["any"], raw.decode(codec, "replace"))


KEYS = st.lists(
    st.tuples(st.one_of(st.characters(), st.sampled_from(["\r", "\n", "]", "Q"])), st.floats(0, 0.4)), max_size=60
)


@FAST
@given(keys=KEYS, prefix=st.sampled_from([None, "]Q"]))
def test_wedge_detector_hands_back_every_key(keys: list[tuple[str, float]], prefix: str | None) -> None:
    from scanners.wedge import WedgeDetector

    detector = WedgeDetector(prefix=prefix)
    now = 0.0
    out = []
    for char, gap in keys:
        now += gap
        out += detector.feed(char, now)
    out += detector.poll(now + 10)
    assert not detector.pending
    kept = "".join(e.text for e in out)
    typed = "".join(c for c, _ in keys)
    if prefix is None:
        assert kept.replace("\r", "").replace("\n", "") == typed.replace("\r", "").replace("\n", "")


VALID_JWS = (FHIR / "example-00-d-jws.txt").read_text(encoding="utf-8").strip()


@FAST
@given(
    at=st.integers(0, len(VALID_JWS) - 1),
    cut=st.integers(0, 40),
    insert=st.text(alphabet="ABCxyz019-_.=", max_size=4),
)
def test_damaged_health_cards_with_trusted_keys(shc_trust: TrustList, at: int, cut: int, insert: str) -> None:
    damaged = VALID_JWS[:at] + insert + VALID_JWS[at + cut :]
    try:
        payload = verify_jws(damaged, shc_trust)
    except PayloadError:
        return
    assert payload.signature.status is not SignatureStatus.VALID or damaged == VALID_JWS
    numeric = "shc:/" + "".join(f"{ord(c) - 45:02d}" for c in damaged)
    _only_payload_errors(lambda t: parse_shc(t, shc_trust), numeric)
