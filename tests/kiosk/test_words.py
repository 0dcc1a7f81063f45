"""The words on screen: both catalogues complete, placeholders filled, ages and charts readable."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest

from kiosk.activity import LookupActivity
from kiosk.i18n import Translator, catalogue
from kiosk.screens.search import birth_problem, code_problem, read_birth
from kiosk.widgets.chart import HourlyChart
from kiosk.widgets.context import format_age
from lookup.matching.explain import NOTES
from lookup.transport.faults import FaultKind
from offline_cache.stats import CacheStats

KIOSK = Path(__file__).resolve().parents[2] / "kiosk"


def test_both_languages_have_the_same_messages_and_placeholders() -> None:
    vi, en = catalogue("vi"), catalogue("en")
    assert list(vi) == list(en), "the catalogues hold the same keys in the same order"
    for key in vi:
        assert set(re.findall(r"{(\w+)}", vi[key])) == set(re.findall(r"{(\w+)}", en[key])), key


def test_every_match_reason_and_fault_has_words() -> None:
    en = catalogue("en")
    assert {f"match.{code}" for code in NOTES} <= set(en)
    assert {f"fault.{kind.value}" for kind in FaultKind} <= set(en)
    assert {f"admin.cache.{name}" for name in CacheStats.model_fields} <= set(en)


def test_birth_dates_and_numbers_are_refused_precisely() -> None:
    today = dt.date(2026, 12, 2)
    assert birth_problem("31/02/1990", today) == "search.no-such-date"
    assert birth_problem("1990-02-31", today) == "search.no-such-date"
    assert birth_problem("2030", today) == "search.future-birth"
    assert birth_problem("03/12/2026", today) == "search.future-birth"
    assert birth_problem("02/12/2026", today) is None and birth_problem("1983", today) is None
    assert birth_problem("abc", today) == "search.bad-birth"
    assert code_problem("07909012345") == "search.bad-code"
    for good in ("079090123456", "0111077012", "DN4010111077012", "079 090 123 456", "shc:/5676290952432060"):
        assert code_problem(good) is None, good


def test_every_literal_key_in_the_code_is_in_the_catalogue() -> None:
    used: set[str] = set()
    for path in KIOSK.rglob("*.py"):
        used |= set(re.findall(r"""\bt\(\s*"([a-z0-9-]+\.[a-z0-9.-]+)\"""", path.read_text(encoding="utf-8")))
    assert used, "the scan found no message keys"
    missing = sorted(used - set(catalogue("en")))
    assert not missing


def test_translator_switches_language_and_fills_values() -> None:
    t = Translator("vi")
    assert t("action.ok") == "Đồng ý"
    assert t.toggle() == "en"
    assert t("candidates.title", n=3) == "3 possible patients: choose the right one"
    assert t("no.such-key") == "no.such-key"


@pytest.mark.parametrize(
    ("seconds", "expected"),
    [(30, "30 seconds"), (600, "10 minutes"), (7200, "2 hours"), (3 * 86400, "3 days")],
)
def test_ages_in_the_largest_sensible_unit(seconds: float, expected: str) -> None:
    assert format_age(Translator("en"), seconds) == expected


def test_birth_field_reads_dates_and_years() -> None:
    assert read_birth("21/03/1983") == (dt.date(1983, 3, 21), None)
    assert read_birth("1983") == (None, 1983)
    assert read_birth("") == (None, None)
    with pytest.raises(ValueError):
        read_birth("31/02/1983")


def test_lookups_per_hour_counts_the_last_day_only() -> None:
    now = dt.datetime(2026, 11, 29, 12, 30, tzinfo=dt.UTC)
    clock_value = [now - dt.timedelta(hours=30)]
    activity = LookupActivity(lambda: clock_value[0])
    activity.record()
    for hours_ago in (5, 5, 0):
        clock_value[0] = now - dt.timedelta(hours=hours_ago)
        activity.record()
    clock_value[0] = now
    counts = activity.per_hour()
    assert len(counts) == 24
    assert counts[-1] == 1 and counts[-6] == 2 and sum(counts) == 3
    chart = HourlyChart.draw(counts, Translator("en")).plain
    assert "Lookups per hour" in chart and "total 3" in chart and "█" in chart and "-24h" in chart
    assert "tổng 3" in HourlyChart.draw(counts, Translator("vi")).plain
