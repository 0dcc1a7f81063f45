"""What the screens say, in the clerk's language, driven by Textual's pilot against the real sandbox.

Every screen a clerk or patient meets (start, search, candidates, summary, break-glass, notices, admin, staff
sign-in, reception and lobby visits) is captured as it is drawn, in Vietnamese and in English, and checked for words
of the other language; and the precise sentences: a date that does not exist, a birth after today, a number with
the wrong count of digits, the lobby's not-found, a province renamed in 2025, the online mark and the ticking age.
"""

from __future__ import annotations

import datetime as dt
import itertools
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from textual.pilot import Pilot
from textual.screen import Screen
from textual.widgets import Button, Input

from kiosk.app import KioskApp
from kiosk.dialogs.break_glass import BreakGlassDialog
from kiosk.dialogs.notice import NoticeDialog
from kiosk.dialogs.staff_pin import StaffPinDialog
from kiosk.i18n import Lang, catalogue
from kiosk.screens.admin import AdminScreen
from kiosk.screens.candidates import CandidatesScreen
from kiosk.screens.search import SearchScreen
from kiosk.screens.summary import SummaryScreen
from kiosk.screens.visit import VisitScreen
from kiosk.settings import Mode, Settings, load_settings
from kiosk.widgets.words import Words
from kiosk.wiring import build_app
from lookup import LookupSource
from sandbox.server.runner import RunningSandbox
from sandbox.synthetic.cards import cccd_qr_text
from sandbox.synthetic.population import SyntheticPerson
from testkit.kiosk import people, sandbox, settings_for, sign_in, wait_until, wedge_scan, with_records
from testkit.serve import free_port, serve_env, served_kiosk

POPULATION = 400
SIZE = (160, 50)
NOBODY_CCCD = "001099999999"
"""A well-formed personal ID number nobody in the synthetic population carries."""

NEVER_IN_VIETNAMESE = {
    "year", "spelling", "possible", "probable", "certain", "offline", "online", "cache", "error", "true", "false",
    "stored_bytes", "ttl_seconds", "max_bytes", "file_bytes", "records", "session", "ended", "press", "quit",
    "formerly", "accents", "swapped", "seconds", "minutes", "hours", "days", "bytes", "yes", "no", "the", "and",
    "not", "server", "patient", "search", "found", "none", "unreachable", "timeout",
}  # fmt: skip
"""English words a Vietnamese screen must never show, whatever the catalogues hold."""
OTHER_LANGUAGE_KEYS = {"hint.lang", "header.lang"}
"""Messages that name the other language in its own words, on purpose."""
VIETNAMESE_DATA = {("tái", "khám"), ("y", "tế")}
"""Word pairs of the Vietnamese catalogue that the server's own Vietnamese data (appointment titles, facility names)
also holds: shown in English screens as data, not as untranslated words."""
_WORD = re.compile(r"\w+")


def _ascii_words(text: str) -> set[str]:
    return {w.lower() for w in _WORD.findall(text) if w.isascii() and w.isalpha()}


def english_only_words() -> set[str]:
    """Words of the English catalogue that the Vietnamese one never uses (so they cannot be a shared code)."""
    vi, en = catalogue("vi"), catalogue("en")
    english = set().union(*(_ascii_words(v) for k, v in en.items() if k not in OTHER_LANGUAGE_KEYS))
    return {w for w in english - set().union(*(_ascii_words(v) for v in vi.values())) if len(w) >= 3}


def vietnamese_pairs() -> set[tuple[str, str]]:
    """Pairs of adjacent words of the Vietnamese catalogue, one at least accented, that English ones never hold."""
    vi, en = catalogue("vi"), catalogue("en")
    pairs: set[tuple[str, str]] = set()
    for key, text in vi.items():
        if key in OTHER_LANGUAGE_KEYS or text == en.get(key):
            continue
        words = [w.lower() for w in _WORD.findall(re.sub(r"{\w+}", " | ", text))]
        pairs |= {(a, b) for a, b in itertools.pairwise(words) if not (a.isascii() and b.isascii())}
    english = set().union(*(_pairs(v) for v in en.values()))
    return pairs - english - VIETNAMESE_DATA


def _pairs(text: str) -> set[tuple[str, str]]:
    words = [w.lower() for w in _WORD.findall(text)]
    return set(itertools.pairwise(words))


def drawn(app: KioskApp) -> str:
    """What the screen on top shows now, as drawn in the terminal (dialogs, tables and, with the app run with
    `notifications=True`, toasts included)."""
    return "\n".join(strip.text for strip in app.screen._compositor.render_strips())


def foreign_words(lang: Lang, text: str) -> set[str] | set[tuple[str, str]]:
    """The words of `text` that belong to the other language (file paths and addresses are data, not words)."""
    text = " ".join(chunk for chunk in text.split() if "/" not in chunk)
    if lang == "vi":
        return _ascii_words(text) & (english_only_words() | NEVER_IN_VIETNAMESE)
    return _pairs(text) & vietnamese_pairs()


@pytest.fixture(scope="module")
def server() -> Iterator[RunningSandbox]:
    with sandbox(POPULATION) as running:
        yield running


async def app_for(running: RunningSandbox, mode: Mode, tmp_path: Path, **extra: object) -> KioskApp:
    app = build_app(settings_for(running, mode, tmp_path / f"cache-{mode.value}", **extra))
    await sign_in(app)
    return app


def _common_family(crowd: list[SyntheticPerson]) -> SyntheticPerson:
    """Someone whose family name and birth year several people share: a search for both must ask to choose."""
    for person in crowd:
        same = [p for p in crowd if p.family == person.family and p.birth_date.year == person.birth_date.year]
        if len(same) >= 2:
            return person
    raise AssertionError("no shared family name and birth year in the test population")


async def _search(app: KioskApp, pilot: Pilot[None], **fields: str) -> None:
    await app.run_action("search")
    await wait_until(pilot, lambda: isinstance(app.screen, SearchScreen) and app.screen.is_mounted)
    for name, value in fields.items():
        app.screen.query_one(f"#{name}", Input).value = value
    app.screen.query_one("#go", Button).press()


def showing(app: KioskApp, kind: type[Screen[Any]]) -> Callable[[], bool]:
    return lambda: isinstance(app.screen, kind)


def _form_error(app: KioskApp) -> str:
    return str(app.screen.query_one("#form-error", Words).content)


# -- the whole app, in each language -------------------------------------------------------------------------------


@pytest.mark.parametrize("lang", ["vi", "en"])
async def test_no_screen_shows_the_other_language(server: RunningSandbox, tmp_path: Path, lang: Lang) -> None:
    seen: dict[str, str] = {}

    def capture(name: str, app: KioskApp) -> None:
        text = drawn(app)
        seen[name] = text
        assert not foreign_words(lang, text), f"{name} in {lang} shows {sorted(foreign_words(lang, text))}:\n{text}"

    crowd = people(POPULATION)
    withheld = with_records(POPULATION, consented=False)[0]
    app = await app_for(server, Mode.ER, tmp_path, lang=lang)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        capture("start", app)
        await _search(app, pilot, family="x", birth="31/02/1990")
        await pilot.pause()
        capture("search: no such date", app)
        person = _common_family(crowd)
        await _search(app, pilot, family=person.family, birth=str(person.birth_date.year))
        await wait_until(pilot, lambda: isinstance(app.screen, CandidatesScreen), within=15)
        capture("candidates", app)
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, SummaryScreen | BreakGlassDialog), within=15)
        capture("summary", app)
        await pilot.press("ctrl+n")
        wedge_scan(app, cccd_qr_text(withheld))
        await wait_until(pilot, lambda: isinstance(app.screen, BreakGlassDialog), within=15)
        await pilot.pause()
        capture("break-glass", app)
        await pilot.press("ctrl+n")
        await _search(app, pilot, code=NOBODY_CCCD)
        await wait_until(pilot, lambda: isinstance(app.screen, NoticeDialog), within=15)
        capture("not found", app)
        await pilot.press("ctrl+n", "f9")
        await wait_until(pilot, lambda: catalogue(lang)["admin.loading"] not in drawn(app))
        capture("admin", app)
        await pilot.press("escape", "f10")
        await wait_until(pilot, lambda: isinstance(app.screen, StaffPinDialog))
        capture("staff sign-in", app)

    visitor = with_records(POPULATION)[1]
    for mode in (Mode.RECEPTION, Mode.LOBBY):
        app = await app_for(server, mode, tmp_path, lang=lang)
        async with app.run_test(size=SIZE, notifications=True) as pilot:
            capture(f"{mode.value} start", app)
            wedge_scan(app, cccd_qr_text(visitor))
            await wait_until(pilot, showing(app, VisitScreen), within=15)
            await pilot.pause()
            capture(f"{mode.value} visit", app)
            await pilot.press("ctrl+n")
            await _search(app, pilot, code=NOBODY_CCCD)
            await wait_until(pilot, showing(app, NoticeDialog), within=15)
            capture(f"{mode.value} not found", app)

    app = build_app(_no_server(tmp_path, lang=lang))
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await pilot.pause()
        capture("offline start", app)
        wedge_scan(app, cccd_qr_text(crowd[0]))
        await wait_until(pilot, lambda: isinstance(app.screen, NoticeDialog), within=20)
        capture("offline notice", app)
    assert len(seen) == 16


def _no_server(tmp_path: Path, **extra: object) -> Settings:
    return load_settings(
        server="http://127.0.0.1:9/fhir",
        mode=Mode.ER,
        cache_dir=tmp_path / "cache-offline",
        config_file=None,
        staff_sign_in=False,  # no server to sign staff in
        **extra,
    )


# -- one sentence at a time ------------------------------------------------------------------------------------------


async def test_match_reasons_are_in_the_clerks_language(server: RunningSandbox, tmp_path: Path) -> None:
    person = _common_family(people(POPULATION))
    app = await app_for(server, Mode.ER, tmp_path)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await _search(app, pilot, family=person.family, birth=str(person.birth_date.year))
        await wait_until(pilot, lambda: isinstance(app.screen, CandidatesScreen), within=15)
        text = drawn(app)
        assert "chỉ có năm" in text  # the year agrees, and it is all the clerk gave
        assert "year only" not in text and "spelling" not in text


async def test_admin_labels_and_values_are_in_vietnamese(server: RunningSandbox, tmp_path: Path) -> None:
    app = await app_for(server, Mode.ER, tmp_path)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await pilot.press("f9")
        await wait_until(pilot, lambda: isinstance(app.screen, AdminScreen) and "Đang đọc" not in drawn(app))
        text = drawn(app)
        for raw in ("stored_bytes", "ttl_seconds", "clinical_allowed", "True", "False", "closed", "total", "now"):
            assert raw not in text, raw
        assert "Bộ nhớ ngoại tuyến: thời gian lưu" in text and "3 ngày" in text
        assert re.search(r"dung lượng tối đa +\d+,\d MB", text)
        assert "đóng (bình thường)" in text


async def test_a_date_that_does_not_exist_is_named_not_blamed_on_the_format(
    server: RunningSandbox, tmp_path: Path
) -> None:
    app = await app_for(server, Mode.ER, tmp_path)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await _search(app, pilot, family="Nguyen", birth="31/02/1990")
        await pilot.pause()
        assert "Ngày 31/02/1990 không tồn tại" in _form_error(app)
        assert "dd/mm/yyyy" not in _form_error(app)


async def test_a_birth_after_today_is_refused_without_a_search(server: RunningSandbox, tmp_path: Path) -> None:
    app = await app_for(server, Mode.ER, tmp_path)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        for birth in ("2030", (app.context.today() + dt.timedelta(days=1)).strftime("%d/%m/%Y")):
            await _search(app, pilot, family="Nguyen", given="Lan", birth=birth)
            await pilot.pause()
            assert f"{birth} ở sau hôm nay" in _form_error(app)
        assert isinstance(app.screen, SearchScreen)
        assert not app.screen.progress.has_class("-running") and len(app.activity) == 0


async def test_a_number_with_eleven_digits_says_what_a_number_has_and_stays(
    server: RunningSandbox, tmp_path: Path
) -> None:
    app = await app_for(server, Mode.ER, tmp_path)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await _search(app, pilot, code="07909012345")
        await pilot.pause()
        message = _form_error(app)
        assert "11 ký tự" in message and "12 chữ số" in message and "BHYT" in message
        # Beside the field, not in a toast that is gone in four seconds; and nothing was looked up.
        assert isinstance(app.screen, SearchScreen) and not app._notifications
        assert app.screen.query_one("#code", Input).has_class("-invalid")
        assert len(app.activity) == 0


async def test_the_lobby_sends_a_patient_it_cannot_find_to_reception(server: RunningSandbox, tmp_path: Path) -> None:
    app = await app_for(server, Mode.LOBBY, tmp_path)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await _search(app, pilot, code=NOBODY_CCCD)
        await wait_until(pilot, lambda: isinstance(app.screen, NoticeDialog), within=15)
        text = drawn(app)
        assert "quầy tiếp đón" in text
        assert "họ tên" not in text  # the lobby has no name search to offer


async def test_a_province_merged_in_2025_is_shown_with_its_former_name(server: RunningSandbox, tmp_path: Path) -> None:
    person = next(p for p in with_records(POPULATION) if p.card_province != p.province and p.card_province in p.address)
    app = await app_for(server, Mode.ER, tmp_path)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        wedge_scan(app, cccd_qr_text(person))
        await wait_until(pilot, lambda: isinstance(app.screen, SummaryScreen), within=15)
        assert f"{person.province} (trước đây: {person.card_province})" in drawn(app)


async def test_the_header_says_offline_before_anyone_is_looked_up(tmp_path: Path) -> None:
    with sandbox(60) as running:
        app = await app_for(running, Mode.ER, tmp_path)
        running.stop()
        async with app.run_test(size=SIZE, notifications=True) as pilot:
            await wait_until(pilot, lambda: "Mất kết nối" in drawn(app).splitlines()[0], within=15)
            assert len(app.activity) == 0


async def test_offline_the_age_ticks_and_searches_say_they_only_searched_this_kiosk(tmp_path: Path) -> None:
    person = with_records(120)[0]
    now = [dt.datetime(2026, 12, 2, 9, 0, tzinfo=dt.UTC)]
    with sandbox(120) as running:
        app = build_app(settings_for(running, Mode.ER, tmp_path / "cache"), clock=lambda: now[0])
        await sign_in(app)
        async with app.run_test(size=SIZE, notifications=True) as pilot:
            wedge_scan(app, cccd_qr_text(person))
            await wait_until(pilot, lambda: isinstance(app.screen, SummaryScreen), within=15)
            running.stop()
            await pilot.press("ctrl+n")
            wedge_scan(app, cccd_qr_text(person))

            def cached() -> bool:
                screen = app.screen
                return isinstance(screen, SummaryScreen) and screen.outcome.source is LookupSource.CACHE

            await wait_until(pilot, cached, within=20)
            assert re.search(r"lưu cách đây \d+ giây", drawn(app))
            now[0] += dt.timedelta(hours=2)
            await wait_until(pilot, lambda: "lưu cách đây 2 giờ" in drawn(app), within=5)

            # A name search while offline: only the people this kiosk looked up before, and it says so.
            await pilot.press("ctrl+n")
            await _search(app, pilot, given=person.given, family=person.family, birth=str(person.birth_date.year))
            await wait_until(
                pilot, lambda: isinstance(app.screen, CandidatesScreen | SummaryScreen | NoticeDialog), within=20
            )
            assert isinstance(app.screen, CandidatesScreen), drawn(app)
            assert "chỉ tìm trong bộ nhớ tạm của máy này" in drawn(app)

            # Someone never looked up here: a next step, not a bare error.
            await pilot.press("ctrl+n")
            await _search(app, pilot, code=NOBODY_CCCD)
            await wait_until(pilot, lambda: isinstance(app.screen, NoticeDialog), within=20)
            text = " ".join(str(words.content) for words in app.screen.query(Words))
            assert "chưa từng tra cứu người này trên máy này" in text and "quy trình giấy" in text


async def test_the_served_page_says_session_ended_in_the_kiosks_language(tmp_path: Path) -> None:
    with served_kiosk(serve_env(tmp_path, server=f"http://127.0.0.1:{free_port()}/fhir")) as served:
        async with aiohttp.ClientSession() as session:
            async with session.get(served.open_url, allow_redirects=False) as signed_in:
                cookie = signed_in.headers["Set-Cookie"].split(";")[0]
            async with session.get(f"http://127.0.0.1:{served.port}/", headers={"Cookie": cookie}) as index:
                page = await index.text()
    assert "Phiên làm việc đã kết thúc." in page and "Mở lại" in page and '<html lang="vi">' in page
    assert "Session ended" not in page and ">Restart<" not in page


async def test_the_quit_hint_is_in_the_clerks_language(server: RunningSandbox, tmp_path: Path) -> None:
    app = await app_for(server, Mode.ER, tmp_path)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await pilot.press("ctrl+c")
        await wait_until(pilot, lambda: bool(app.screen.query("Toast")))
        assert "Nhấn Ctrl+Q để thoát ứng dụng." in drawn(app)
        assert "Press" not in drawn(app)
