"""The ER summary from a plain FHIR server (no `$summary`, no documents): a record kept on its own is shown unsigned,
and a section the server sent only part of, or failed to answer for, says so on screen, never looking complete."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from rich.console import Console

from kiosk.i18n import Lang, Translator
from kiosk.screens.summary import SummaryScreen
from kiosk.settings import Mode, load_settings
from kiosk.widgets.sections import SectionList
from kiosk.wiring import build_app
from testkit.kiosk import wait_until, wedge_scan
from tests.lookup.conftest import CARD
from tests.lookup.fhirserver import serve
from tests.lookup.plainserver import Plain, allergy, condition

CARD_QR = f"{CARD}||Nguyễn Thị Lan|12041990|Nữ|12 Phố Huế, Hà Nội|01012021"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[Plain, str, Path]]:
    app = Plain()
    app.add("p1", CARD)
    app.documents["p1"] = []
    app.keep("p1", allergy("p1", "a1", "Penicillin"), allergy("p1", "a2", "Aspirin", criticality="low"))
    app.keep("p1", condition("p1", "c1", "Hen phế quản"))
    app.page_size = 1
    app.claimed_total["AllergyIntolerance"] = 3
    app.fault, app.fault_path = "500", "Condition"
    facility = app.key.as_dict(private=False) | {"kid": app.kid, "facility_code": "01001", "facility_name": "Bạch Mai"}
    trust = tmp_path / "trust.json"
    trust.write_text(json.dumps({"keys": [facility]}), encoding="utf-8")
    with serve(app) as base:
        yield app, base, trust


@pytest.mark.parametrize("lang", ["vi", "en"])
async def test_partly_read_and_unread_sections_say_so_on_screen(
    server: tuple[Plain, str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, lang: Lang
) -> None:
    _, base, trust = server
    # This server has no staff identity; staff sign-in is tested elsewhere.
    monkeypatch.setenv("KIOSK_STAFF_SIGN_IN", "false")
    settings = load_settings(
        server=base,
        client_id="demo-er",
        client_secret="demo-er",
        trust_list=trust,
        mode=Mode.ER,
        cache_dir=tmp_path / "cache",
        cache_key_file=tmp_path / "keys" / "cache.key",
        config_file=None,
        lang=lang,
    )
    app = build_app(settings)
    t = Translator(lang)
    async with app.run_test(size=(140, 60)) as pilot:
        wedge_scan(app, CARD_QR)
        await wait_until(pilot, lambda: isinstance(app.screen, SummaryScreen))
        console = Console(file=io.StringIO(), width=200, record=True, color_system=None)
        for sections in app.screen.query(SectionList):
            console.print(sections.render(), markup=False)
        text = console.export_text()
    allergies = text[text.index(t("summary.allergies")) :]
    assert "Penicillin" in allergies and "Aspirin" in allergies
    assert t("sig.unsigned") in allergies
    assert allergies.index(t("state.incomplete")) > allergies.index("Aspirin"), "the note stands under the items"
    problems = text[text.index(t("summary.problems")) :]
    assert problems.split("\n")[0].strip().endswith(t("state.not-read"))
    assert "Hen phế quản" not in text
    assert t("state.no-information") not in problems.split("\n")[0]
