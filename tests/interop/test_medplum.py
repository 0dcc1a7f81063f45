"""The kiosk's own client against Medplum's FHIR server core: a server with no `$match`, no `$summary`, no
CapabilityStatement, no token endpoint and no `next` links, loaded through its own REST API (`conftest.py`).

The service is built as `kiosk lookup` builds it (`kiosk.wiring.lookup_service` from `Settings`), with no client
id or secret; `kiosk lookup --json` runs as a process and the Textual app through its pilot.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from rich.console import Console
from rich.table import Table
from rich.text import Text
from textual.widgets import Static

from kiosk.app import KioskApp
from kiosk.screens.summary import SummaryScreen
from kiosk.settings import Mode, Settings, load_settings
from kiosk.widgets.sections import SectionList
from kiosk.wiring import build_app, lookup_service
from lookup import Demographics, Identifier, LookupService, LookupStatus, TrustList
from lookup.domain.identifiers import DEFAULT_TABLE
from lookup.domain.model import SectionState
from scanners.payloads import interpret
from testkit.kiosk import wait_until, wedge_scan
from tests.interop.conftest import AN, ANH, BINH, BINH_RESULTS, CCCD, Medplum

AN_CARD = f"{AN}||Nguyễn Văn An|15011990|Nam|12 Phố Huế, Hà Nội|01012021"
BINH_CARD = f"{BINH}||Trần Thị Bình|30111985|Nữ|5 Lê Lợi, Hà Nội|01012021"
SIZE = (120, 40)


def settings(medplum: Medplum, folder: Path, **extra: object) -> Settings:
    """An ER kiosk on Medplum: no client credentials, no trust list, no staff sign-in (the server has none)."""
    return load_settings(
        server=medplum.base_url,
        mode=Mode.ER,
        cache_dir=folder / "cache",
        cache_key_file=folder / "cache.key",
        audit_journal_dir=folder / "audit-journal",
        config_file=None,
        staff_sign_in=False,
        **extra,
    )


@pytest.fixture
async def service(medplum: Medplum, tmp_path: Path) -> AsyncIterator[LookupService]:
    made = lookup_service(settings(medplum, tmp_path), TrustList.empty(), DEFAULT_TABLE, None, timeout_s=5.0)
    yield made
    await made.aclose()


def kiosk_lookup(medplum: Medplum, folder: Path, *args: str) -> dict[str, Any]:
    """`kiosk lookup --json` as a process, configured by the environment alone."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("KIOSK_")  # nothing of the caller's own kiosk leaks in
    }
    env |= {
        "KIOSK_SERVER": medplum.base_url,
        "KIOSK_MODE": "er",
        "KIOSK_CACHE_DIR": str(folder / "cache"),
        "KIOSK_CACHE_KEY_FILE": str(folder / "cache.key"),
        "KIOSK_AUDIT_JOURNAL_DIR": str(folder / "audit-journal"),
        "KIOSK_CONFIG_FILE": str(folder / "none.toml"),
        "KIOSK_STAFF_SIGN_IN": "false",
    }
    done = subprocess.run(
        [sys.executable, "-m", "kiosk.cli", "lookup", *args, "--json", "--timeout", "5"],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.strip().splitlines()
    assert len(lines) == 1, done.stderr
    data: dict[str, Any] = json.loads(lines[0])
    return data


def screen_text(app: KioskApp) -> str:
    """Everything the current screen shows in its static texts and section lists, as plain text."""
    console = Console(file=io.StringIO(), width=200, record=True, color_system=None)
    for widget in app.screen.query(Static):
        content = widget.content
        console.print(content if isinstance(content, str | Text | Table) else str(content), markup=False)
    for sections in app.screen.query(SectionList):
        console.print(sections.render(), markup=False)
    return console.export_text()


def test_the_server_answers_a_page_with_a_larger_total_and_no_next_link(medplum: Medplum) -> None:
    """What the paging test relies on: Medplum cuts a search at `_count` and says so only by its `total`."""
    params = {"patient": f"Patient/{medplum.ids[BINH]}", "_count": "10"}
    bundle = httpx.get(f"{medplum.base_url}/Observation", params=params).json()
    assert bundle["total"] == BINH_RESULTS
    assert len(bundle["entry"]) == 10
    assert not [link for link in bundle.get("link", []) if link.get("relation") == "next"]


async def test_a_card_number_finds_the_patient_with_no_credentials(service: LookupService, medplum: Medplum) -> None:
    outcome = await service.by_identifier(Identifier(system=CCCD, value=AN))
    assert outcome.status is LookupStatus.FOUND, outcome.message
    assert outcome.patient is not None and outcome.patient.id == medplum.ids[AN]
    assert outcome.patient.demographics.family == "Nguyễn"
    # No client id or secret was configured, so no token was asked for and none was needed.
    assert not service.client.has_credentials


async def test_client_credentials_are_dropped_where_the_server_has_no_token_endpoint(
    medplum: Medplum, tmp_path: Path
) -> None:
    configured = settings(medplum, tmp_path, client_id="kiosk-er", client_secret="not-needed")
    made = lookup_service(configured, TrustList.empty(), DEFAULT_TABLE, None, timeout_s=5.0)
    try:
        assert made.client.has_credentials
        outcome = await made.by_identifier(Identifier(system=CCCD, value=AN))
        assert outcome.status is LookupStatus.FOUND, outcome.message
        assert not made.client.has_credentials
    finally:
        await made.aclose()


async def test_a_scanned_card_opens_its_patient(service: LookupService, medplum: Medplum) -> None:
    scan = interpret(AN_CARD, format="text", decoder="paste", trust=TrustList.empty(), systems=DEFAULT_TABLE)
    outcome = await service.by_scan(scan)
    assert outcome.status is LookupStatus.FOUND, outcome.message
    assert outcome.patient is not None and outcome.patient.id == medplum.ids[AN]


async def test_a_name_search_falls_back_to_plain_search(service: LookupService, medplum: Medplum) -> None:
    outcome = await service.by_demographics(Demographics(family="Nguyễn", middle="Văn", given="An"))
    assert outcome.status in (LookupStatus.CANDIDATES, LookupStatus.FOUND), outcome.message
    found = {c.patient.id for c in outcome.candidates} | ({outcome.patient.id} if outcome.patient else set())
    assert medplum.ids[AN] in found
    assert medplum.ids[BINH] not in found
    # Medplum has no `$match`: the client tried it once, remembered it missing, and searched.
    features = await service.client.features()
    assert features.match is False


async def test_a_search_by_birth_date_tells_namesakes_apart(service: LookupService, medplum: Medplum) -> None:
    query = Demographics.model_validate({"family": "Nguyễn", "given": "Anh", "birth_date": "1975-06-02"})
    outcome = await service.by_demographics(query)
    found = {c.patient.id for c in outcome.candidates} | ({outcome.patient.id} if outcome.patient else set())
    assert medplum.ids[ANH] in found
    best = outcome.patient.id if outcome.patient else outcome.candidates[0].patient.id
    assert best == medplum.ids[ANH]


async def test_the_summary_is_assembled_without_the_summary_operation(service: LookupService, medplum: Medplum) -> None:
    outcome = await service.open_patient(medplum.ids[AN])
    assert outcome.status is LookupStatus.FOUND, outcome.message
    summary = outcome.summary
    assert summary is not None
    assert (await service.client.features()).summary is False
    assert [a.text for a in summary.allergies] == ["Penicillin"]
    assert "Tăng huyết áp" in [p.text for p in summary.problems]
    assert any("Amoxicillin" in m.text for m in summary.medications)
    # The server holds no signed documents: everything it sent is shown as unsigned, never as verified.
    assert summary.documents == ()
    assert {a.provenance.signature.value for a in summary.allergies} == {"unsigned"}
    # Amoxicillin is a penicillin: the kiosk raises the conflict itself.
    assert [a.drug_class for a in summary.alerts if a.kind == "drug-allergy"] == ["penicillins"]


async def test_results_beyond_a_page_are_never_shown_as_complete(service: LookupService, medplum: Medplum) -> None:
    outcome = await service.open_patient(medplum.ids[BINH])
    assert outcome.status is LookupStatus.FOUND, outcome.message
    summary = outcome.summary
    assert summary is not None
    shown = len(summary.results)
    assert shown > 0
    state = summary.completeness["results"]
    # Either every result the server holds is on the list, or the section says that more exist.
    assert shown == BINH_RESULTS or state is SectionState.INCOMPLETE, (shown, state)
    assert summary.completeness["allergies"] is SectionState.NO_INFORMATION


def audit_count(medplum: Medplum) -> int:
    bundle = httpx.get(f"{medplum.base_url}/AuditEvent", params={"_count": "0"}).json()
    return int(bundle["total"])


def test_kiosk_lookup_prints_the_penicillin_allergy_unsigned(medplum: Medplum, tmp_path: Path) -> None:
    audits = audit_count(medplum)
    data = kiosk_lookup(medplum, tmp_path, "--identifier", f"{CCCD}|{AN}")
    assert data["status"] == "found", data["message"]
    assert data["source"] == "network"
    assert data["patient"]["id"] == medplum.ids[AN]
    allergies = data["summary"]["allergies"]
    assert [a["text"] for a in allergies] == ["Penicillin"]
    assert allergies[0]["provenance"]["signature"] == "unsigned"
    assert data["summary"]["completeness"]["allergies"] == "recorded"
    assert data["summary"]["documents"] == []
    assert audit_count(medplum) > audits, "the kiosk's AuditEvent of the lookup reached the server"


async def test_the_er_app_shows_the_allergy_on_the_summary_screen(medplum: Medplum, tmp_path: Path) -> None:
    app = build_app(settings(medplum, tmp_path))
    async with app.run_test(size=SIZE) as pilot:
        wedge_scan(app, AN_CARD)
        await wait_until(pilot, lambda: isinstance(app.screen, SummaryScreen), within=30)
        await wait_until(pilot, lambda: "Penicillin" in screen_text(app), within=10)
        text = screen_text(app)
        assert "Nguyễn Văn An" in text
        assert "Traceback" not in text


async def test_the_er_app_says_the_results_are_incomplete(medplum: Medplum, tmp_path: Path) -> None:
    app = build_app(settings(medplum, tmp_path))
    async with app.run_test(size=SIZE) as pilot:
        wedge_scan(app, BINH_CARD)
        await wait_until(pilot, lambda: isinstance(app.screen, SummaryScreen), within=30)
        await wait_until(pilot, lambda: "Chưa đầy đủ" in screen_text(app), within=10)
        assert "Trần Thị Bình" in screen_text(app)
