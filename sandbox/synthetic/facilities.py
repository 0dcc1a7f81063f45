"""The synthetic health facilities that sign documents, each with a deterministic ES256 key.

Two central hospitals (Bạch Mai in the north, Chợ Rẫy in the south), provincial hospitals and district health
centres. Keys are derived from the seed and the facility code, so one seed always yields one trust list; the trust
list (`jwks`) carries public keys only, each with `facility_code` and `facility_name`.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Final, Literal

from cryptography.hazmat.primitives.asymmetric import ec
from joserfc.jwk import ECKey

_P256_ORDER: Final = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551


@dataclass(frozen=True, slots=True)
class Facility:
    """A facility that writes and signs shared documents."""

    code: str
    name: str
    level: Literal["central", "provincial", "district"]
    province_code: str
    """Current (34-unit) province code."""

    @property
    def kid(self) -> str:
        return f"facility-{self.code}"

    @property
    def display(self) -> str:
        return f"{self.code} {self.name}"


FACILITIES: Final[tuple[Facility, ...]] = (
    Facility("01929", "Bệnh viện Bạch Mai", "central", "01"),
    Facility("79033", "Bệnh viện Chợ Rẫy", "central", "79"),
    Facility("38001", "Bệnh viện Đa khoa tỉnh Thanh Hóa", "provincial", "38"),
    Facility("40001", "Bệnh viện Hữu nghị Đa khoa Nghệ An", "provincial", "40"),
    Facility("31001", "Bệnh viện Hữu nghị Việt Tiệp Hải Phòng", "provincial", "31"),
    Facility("48001", "Bệnh viện Đà Nẵng", "provincial", "48"),
    Facility("66001", "Bệnh viện Đa khoa vùng Tây Nguyên", "provincial", "66"),
    Facility("92001", "Bệnh viện Đa khoa Trung ương Cần Thơ", "provincial", "92"),
    Facility("01101", "Trung tâm Y tế khu vực Cầu Giấy", "district", "01"),
    Facility("79101", "Trung tâm Y tế khu vực Sài Gòn", "district", "79"),
    Facility("38101", "Trung tâm Y tế khu vực Hoằng Hóa", "district", "38"),
    Facility("92101", "Trung tâm Y tế khu vực Ninh Kiều", "district", "92"),
)
FACILITIES_BY_CODE: Final[dict[str, Facility]] = {f.code: f for f in FACILITIES}
_NORTH_UNTIL: Final = 44
"""Current province codes up to Quảng Trị look to Bạch Mai; the rest to Chợ Rẫy."""


def central_for(province_code: str) -> Facility:
    return FACILITIES_BY_CODE["01929" if int(province_code) <= _NORTH_UNTIL else "79033"]


def local_facilities(province_code: str) -> list[Facility]:
    """Facilities in the province, else the central hospital of its half of the country."""
    local = [f for f in FACILITIES if f.province_code == province_code]
    return local or [central_for(province_code)]


@lru_cache(maxsize=256)
def facility_key(code: str, seed: int) -> ECKey:
    """The facility's private signing key, the same for the same seed."""
    digest = hashlib.sha256(f"sandbox-facility-key:{seed}:{code}".encode()).digest()
    scalar = int.from_bytes(digest, "big") % (_P256_ORDER - 1) + 1
    return ECKey.import_key(ec.derive_private_key(scalar, ec.SECP256R1()))


def jwks(seed: int) -> dict[str, Any]:
    """The trust list of every facility: public keys only."""
    keys = []
    for facility in FACILITIES:
        public = facility_key(facility.code, seed).as_dict(private=False)
        public.update(
            kid=facility.kid, use="sig", alg="ES256", facility_code=facility.code, facility_name=facility.name
        )
        keys.append(public)
    return {"keys": keys}
