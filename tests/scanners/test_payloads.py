"""Payload parsers: ID card, VNeID, insurance card, bare numbers, SMART Health Cards and Links."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from lookup.domain.identifiers import DEFAULT_TABLE, IdentifierKind
from lookup.domain.model import ScanKind, Sex, SignatureStatus
from lookup.trust.trust_list import TrustList
from scanners.payloads import PayloadError, ShcChunks, interpret, parse_payload
from scanners.payloads.bhyt import parse_bhyt
from scanners.payloads.cccd import parse_cccd
from scanners.payloads.numbers import parse_number
from scanners.payloads.shc import parse_shc
from scanners.payloads.shl import parse_shl
from tests.scanners.conftest import FHIR, SHC_ISSUER

CCCD = DEFAULT_TABLE.system(IdentifierKind.CCCD)
CMND = DEFAULT_TABLE.system(IdentifierKind.CMND)
BHYT = DEFAULT_TABLE.system(IdentifierKind.BHYT)

CARD_2021 = "094083123451|3099789364|Nguyễn Gia Mạnh|21031983|Nam|165/7, Phường 9, TP Sóc Trăng|06042021"
CARD_2024 = "093186002237|362499103|Nguyễn Thị Kim Thư|11011986|Nữ|56 Trần Hoàng Na, Cần Thơ|04102024||||"
BHYT_OLD = (
    "DN401AA31900313|4cc3aa205669e1bb87742048c6b06e67|04/09/1985|1|437479207068e1baa76e206de1bb816d20564e5054"
    "2d20434e2074e1bb956e6720437479204456205654|01 - 043|01/07/2017|31/12/2017|21/07/2017|01059710639215|-|4|"
    "01/07/2022|1f2fa22c47f0bd18-7102|$"
)
BHYT_NEW = (
    "0111077012|4e677579e1bb856e205469e1babf6e20c490e1baa174|29/03/1988|1|-|01 - C54|01/07/2023|-|31/07/2023|"
    "01050111077012|-|4| 01/10/2027|4641c59ff02659c3-1202|4|5175e1baad6e2043e1baa775204769e1baa5792c205468c3a0"
    "6e68207068e1bb912048c3a0204ee1bb9969|$"
)


def test_cccd_2021_card() -> None:
    p = parse_cccd(CARD_2021)
    assert p.kind is ScanKind.CCCD
    assert [(i.system, i.value) for i in p.identifiers] == [(CCCD, "094083123451")]
    d = p.demographics
    assert (d.family, d.middle, d.given) == ("Nguyễn", "Gia", "Mạnh")
    assert d.birth_date == dt.date(1983, 3, 21) and d.sex is Sex.MALE
    assert d.address is not None and "Sóc Trăng" in d.address
    assert p.warnings == ()


def test_cccd_2024_trailing_fields_and_old_id_as_former() -> None:
    p = parse_cccd(CARD_2024)
    assert [i.value for i in p.identifiers] == ["093186002237"]
    assert [(i.system, i.value) for i in p.former_identifiers] == [(CMND, "362499103")]
    assert p.demographics.middle == "Thị Kim" and p.demographics.sex is Sex.FEMALE


def test_cccd_empty_old_id_and_extra_12_digit_value() -> None:
    p = parse_cccd("093186002237||Nguyễn Thị Kim Thư|11011986|Nữ|Cần Thơ|04102024|001186000999|")
    assert [i.value for i in p.identifiers] == ["093186002237"]
    assert [(i.system, i.value) for i in p.former_identifiers] == [(CCCD, "001186000999")]


def test_six_field_variant_with_slashed_dates() -> None:
    p = parse_cccd("093186002237|Nguyễn Thị Kim Thư|11/01/1986|Nữ|Cần Thơ|04/10/2024")
    assert p.demographics.birth_date == dt.date(1986, 1, 11)
    assert p.kind is ScanKind.CCCD


def test_vneid_has_no_issue_date() -> None:
    assert parse_cccd("093186002237|362499103|Nguyễn Thị Kim Thư|11011986|Nữ|Cần Thơ|").kind is ScanKind.VNEID


def _as_windows_1252(raw: bytes) -> str:
    """What a Windows program shows for UTF-8 bytes: cp1252, undefined bytes passed through as C1 controls."""
    return "".join(bytes([b]).decode("cp1252", "strict") if b not in b"\x81\x8d\x8f\x90\x9d" else chr(b) for b in raw)


def test_mojibake_bom_and_crlf_repaired() -> None:
    garbled = _as_windows_1252(CARD_2021.encode("utf-8"))
    assert "Nguyá»…n" in garbled
    p = parse_payload("\ufeff" + garbled + "\r\n")
    assert p.demographics.family == "Nguyễn" and p.demographics.given == "Mạnh"
    latin = CARD_2024.encode("utf-8").decode("latin-1")
    assert parse_payload(latin).demographics.given == "Thư"


def test_century_digit_disagreement_is_a_warning() -> None:
    # 0 = male born 19xx; the card says Nữ and 2001.
    p = parse_cccd("094083123451||Nguyễn Thị Lan|21032001|Nữ|Sóc Trăng|06042021")
    assert len(p.warnings) == 2
    assert all("century" in w for w in p.warnings)
    assert parse_cccd("094283123451||Nguyễn Văn An|21032083|Nam|Sóc Trăng|06042021").warnings  # 2083 is future


@pytest.mark.parametrize(
    "text",
    [
        "094083123451|x",
        "09408312345|3099789364|Nguyễn Gia Mạnh|21031983|Nam|a|06042021",
        "094083123451|3099789364|Nguyễn Gia Mạnh|31021983|Nam|a|06042021",
        "094083123451|3099789364|Nguyễn Gia Mạnh|21031983|Khác|a|06042021",
        "094083123451|3099789364|12345|21031983|Nam|a|06042021",
    ],
)
def test_cccd_errors_never_echo_the_payload(text: str) -> None:
    with pytest.raises(PayloadError) as caught:
        parse_cccd(text)
    assert "094083123451" not in str(caught.value) and "Mạnh" not in str(caught.value)


def test_bhyt_new_card() -> None:
    p = parse_bhyt(BHYT_NEW)
    assert p.kind is ScanKind.BHYT
    assert [(i.system, i.value) for i in p.identifiers] == [(BHYT, "0111077012")]
    assert p.demographics.full_name == "Nguyễn Tiến Đạt"
    assert p.demographics.address == "Quận Cầu Giấy, Thành phố Hà Nội"
    assert p.warnings == ()


def test_bhyt_old_card_masked_number_comes_from_office_field() -> None:
    p = parse_bhyt(BHYT_OLD)
    assert [i.value for i in p.identifiers] == ["9710639215"]
    assert p.demographics.full_name == "Lê Việt Hưng"
    assert p.demographics.birth_date == dt.date(1985, 9, 4)
    assert p.warnings


def test_bhyt_old_card_keeps_both_numbers_and_year_only_birth() -> None:
    name = "Trần Văn Bình".encode().hex()
    p = parse_bhyt(f"HT2790123456789|{name}|1950|1|-|79 - 001|01/01/2024|31/12/2024|01/01/2024|79010123456789|$")
    assert [i.value for i in p.identifiers] == ["0123456789", "HT2790123456789"]
    assert p.demographics.birth_year == 1950 and p.demographics.birth_date is None
    mismatch = parse_bhyt(f"HT2790123456789|{name}|1950|1|-|79 - 001|01/01/2024|-|01/01/2024|79019999999999")
    assert mismatch.warnings


def test_bare_numbers() -> None:
    assert parse_number("001 090 001 234").kind is ScanKind.PERSONAL_ID
    assert parse_number("0111077012").identifiers[0].system == BHYT
    assert parse_number("123456789").identifiers[0].system == CMND
    card = parse_number("dn4010111077012")
    assert card.kind is ScanKind.INSURANCE_NUMBER and card.identifiers[0].value == "0111077012"
    assert parse_number("999190001234").warnings  # province code 999 does not exist
    with pytest.raises(PayloadError):
        parse_number("12345")


def _shc(name: str) -> str:
    return (FHIR / name).read_text(encoding="utf-8").strip()


def test_shc_single_card_verifies(shc_trust: TrustList) -> None:
    p = parse_shc(_shc("example-00-f-qr-code-numeric-value-0.txt"), shc_trust)
    assert p.kind is ScanKind.SHC
    assert p.signature.status is SignatureStatus.VALID and p.signature.issuer == SHC_ISSUER
    assert p.demographics.family == "Anyperson" and p.demographics.birth_date == dt.date(1951, 1, 20)


def test_shc_three_chunks_in_any_order(shc_trust: TrustList) -> None:
    chunks = ShcChunks()
    parts = [_shc(f"example-02-f-qr-code-numeric-value-{i}.txt") for i in (2, 0, 1)]
    first = [parse_shc(part, shc_trust, chunks=chunks) for part in parts[:2]]
    assert all(p.signature.status is SignatureStatus.UNSIGNED and p.warnings for p in first)
    done = parse_shc(parts[2], shc_trust, chunks=chunks)
    assert done.signature.status is SignatureStatus.VALID
    with pytest.raises(PayloadError):
        parse_shc(parts[0], shc_trust)  # a lone part without a collector


def _change_digit(text: str, at: int) -> str:
    """Change the second digit of the pair at `at` so that the character it codes stays a letter or digit."""
    pair = text[at : at + 2]
    for digit in "0123456789":
        value = int(pair[0] + digit)
        if digit != pair[1] and value <= 77 and chr(value + 45).isalnum():
            return text[: at + 1] + digit + text[at + 2 :]
    raise AssertionError("no replacement digit")


@pytest.mark.parametrize("where", [0.5, 0.97])
def test_shc_with_one_changed_character_does_not_verify(shc_trust: TrustList, where: float) -> None:
    text = _shc("example-00-f-qr-code-numeric-value-0.txt")
    at = 5 + (int((len(text) - 5) * where) // 2 * 2)  # after "shc:/", at the start of a pair
    p = parse_shc(_change_digit(text, at), shc_trust)
    assert p.signature.status is SignatureStatus.INVALID


def test_shc_unused_base64_bits_changed_do_not_verify(shc_trust: TrustList) -> None:
    from scanners.payloads.shc import verify_jws

    token = _shc("example-00-d-jws.txt")
    last = token[-1]
    # 64 signature bytes leave two spare bits in the last character; flipping one keeps the bytes the same.
    twin = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    flipped = twin[twin.index(last) ^ 1]
    assert verify_jws(token[:-1] + flipped, shc_trust).signature.status is SignatureStatus.INVALID


def test_shc_unknown_signer_and_hl7_resign(shc_trust: TrustList) -> None:
    text = _shc("example-00-f-qr-code-numeric-value-0.txt")
    assert parse_shc(text, TrustList.empty()).signature.status is SignatureStatus.UNKNOWN_SIGNER
    assert parse_shc(text, None).signature.status is SignatureStatus.UNKNOWN_SIGNER
    from scanners.payloads.shc import verify_jws

    # The vectors were issued in June 2023 (HL7's re-signed ones in May 2024) and both examples 03 expire a year
    # later: each is checked at a time inside its validity, and today the expired one is not valid.
    issued, resigned = dt.datetime(2024, 1, 1, tzinfo=dt.UTC), dt.datetime(2024, 6, 1, tzinfo=dt.UTC)
    for name in ("example-00-d-jws.txt", "example-02-d-jws.txt", "example-03-d-jws.txt"):
        assert verify_jws(_shc(name), shc_trust, now=issued).signature.status is SignatureStatus.VALID
        assert verify_jws(_shc(f"hl7/{name}"), shc_trust, now=resigned).signature.status is SignatureStatus.VALID
    expired = verify_jws(_shc("example-03-d-jws.txt"), shc_trust).signature
    assert expired.status is SignatureStatus.INVALID and expired.reason == "the card expired on 2024-06-21 16:19 UTC"


def test_shc_without_signature_is_unsigned(shc_trust: TrustList) -> None:
    from scanners.payloads.shc import verify_jws

    header, payload, _ = _shc("example-00-d-jws.txt").split(".")
    p = verify_jws(f"{header}.{payload}.", shc_trust)
    assert p.signature.status is SignatureStatus.UNSIGNED and p.demographics.family == "Anyperson"


def test_shc_key_trusted_for_another_issuer(shc_jwks: dict[str, object]) -> None:
    other = json.loads(json.dumps(shc_jwks))
    for key in other["keys"]:
        key["iss"] = "https://other.example/issuer"
    p = parse_shc(_shc("example-00-f-qr-code-numeric-value-0.txt"), TrustList.from_jwks(other))
    assert p.signature.status is SignatureStatus.UNKNOWN_SIGNER


def test_shl_payload() -> None:
    details = json.loads((FHIR / "IPS_IG-bundle-01-shl-details.json").read_text(encoding="utf-8"))
    for text in (details["shlink"], details["shlinkBare"]):
        scan = parse_shl(text)
        assert scan.kind is ScanKind.SHL and scan.identifiers == ()
        assert details["shlinkJsonPayload"]["key"] not in repr(scan)
    with pytest.raises(PayloadError, match="not base64url JSON"):
        parse_shl("shlink:/bm90IGpzb24")


def test_interpret_never_raises_and_says_why() -> None:
    result = interpret("hello world", format="QRCode", decoder="zxing-cpp")
    assert result.kind is ScanKind.UNKNOWN and result.warnings
    assert interpret(CARD_2021).kind is ScanKind.CCCD
    assert interpret(BHYT_NEW).kind is ScanKind.BHYT
    assert interpret("001090001234").kind is ScanKind.PERSONAL_ID
