"""The synthetic health facilities that sign documents.

Two central hospitals (Bạch Mai in the north, Chợ Rẫy in the south), provincial hospitals and district health
centres. Who they are follows from the code; their signing keys do not come from the seed but are made at random by
each sandbox (`sandbox.server.facility_keys`), so knowing the seed forges nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal


@dataclass(frozen=True, slots=True)
class Facility:
    """A facility that writes and signs shared documents."""

    code: str
    name: str
    level: Literal["central", "provincial", "district"]
    province_code: str
    """Current (34-unit) province code."""

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
