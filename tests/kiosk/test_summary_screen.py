"""The ER summary as a nurse reads it, against the real sandbox and its synthetic records: an empty section says what
its emptiness means, a drug the patient is allergic to is a red alert at the top, labs carry their range and flag,
current medication includes active e-prescriptions, blood type is a critical fact and not an allergy; and
`kiosk lookup --json` says the same (`summary.completeness`, `summary.alerts`)."""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from kiosk.commands.lookup import outcome_json
from kiosk.screens.summary import SummaryScreen
from kiosk.settings import Mode
from kiosk.widgets.sections import SectionList
from kiosk.wiring import build_app
from lookup.domain.provinces import OLD_PROVINCES_BY_NAME
from sandbox.server.runner import RunningSandbox
from sandbox.synthetic import clinical
from sandbox.synthetic.cards import cccd_qr_text
from sandbox.synthetic.documents import person_documents
from sandbox.synthetic.population import SyntheticPerson
from testkit.kiosk import SEED, sandbox, settings_for, sign_in, wait_until, wedge_scan, with_records

POPULATION = 300
SIZE = (140, 60)
SECTIONS = {
    "allergies",
    "problems",
    "medications",
    "prescriptions",
    "referrals",
    "appointments",
    "encounters",
    "immunizations",
    "results",
    "critical_facts",
}
Json = dict[str, Any]


@pytest.fixture(scope="module")
def server() -> Iterator[RunningSandbox]:
    with sandbox(POPULATION) as running:
        yield running


def records_of(person: SyntheticPerson) -> list[Json]:
    """Every resource of the person's shared documents, as the sandbox makes them."""
    plan = clinical.events(person.index, SEED, OLD_PROVINCES_BY_NAME[person.card_province].current_code)
    patient = {"resourceType": "Patient", "id": person.patient_id}
    documents = person_documents(patient, person.index, SEED, plan, dt.date.today())
    return [e["resource"] for d in documents for e in d["entry"]]


def someone(fits: Callable[[list[Json]], bool]) -> tuple[SyntheticPerson, list[Json]]:
    return next((p, r) for p in with_records(POPULATION) if fits(r := records_of(p)))


def of_type(records: list[Json], kind: str) -> list[Json]:
    return [r for r in records if r["resourceType"] == kind]


def no_allergy_data(records: list[Json]) -> bool:
    sections = [s for c in of_type(records, "Composition") for s in c.get("section", [])]
    stated = [s for s in sections if s["code"]["coding"][0]["code"] == "48765-2"]
    return not of_type(records, "AllergyIntolerance") and not stated


def no_known_allergy(records: list[Json]) -> bool:
    codes = [a["code"]["coding"][0]["code"] for a in of_type(records, "AllergyIntolerance")]
    return codes == ["716186003"]


def aspirin_slip(records: list[Json]) -> bool:
    allergic = any(a["code"]["text"] == "Aspirin" for a in of_type(records, "AllergyIntolerance"))
    drugs = [m["medicationCodeableConcept"]["text"] for m in of_type(records, "MedicationRequest")]
    return allergic and "Aspirin 81 mg" in drugs


def high_creatinine(records: list[Json]) -> bool:
    values = sorted(
        (o["effectiveDateTime"], o["valueQuantity"]["value"])
        for o in of_type(records, "Observation")
        if o["code"]["coding"][0]["code"] == "14682-9"
    )
    return bool(values) and values[-1][1] > 106


def recent_prescription(records: list[Json]) -> bool:
    recent = (dt.date.today() - dt.timedelta(days=150)).isoformat()
    return any(m["status"] == "active" and m["authoredOn"] >= recent for m in of_type(records, "MedicationRequest"))


def with_allergy(records: list[Json]) -> bool:
    return any(a["code"]["coding"][0]["code"] != "716186003" for a in of_type(records, "AllergyIntolerance"))


class Shown:
    """What the ER app showed for one person: the summary's text, its red runs, and the command's JSON of it."""

    def __init__(self, text: str, red: list[str], data: dict[str, Any]) -> None:
        self.text = text
        self.red = red
        self.json = data


async def shown(server: RunningSandbox, tmp_path: Path, person: SyntheticPerson, lang: str = "vi") -> Shown:
    """Scan the person's card in the ER app (a nurse signed in) and read their summary."""
    app = build_app(settings_for(server, Mode.ER, tmp_path / "cache", lang=lang))
    await sign_in(app)
    async with app.run_test(size=SIZE) as pilot:
        wedge_scan(app, cccd_qr_text(person))
        await wait_until(pilot, lambda: isinstance(app.screen, SummaryScreen))
        screen = app.screen
        assert isinstance(screen, SummaryScreen) and screen.patient.id == person.patient_id
        console = Console(file=io.StringIO(), width=200, record=True, color_system=None)
        red: list[str] = []
        for sections in screen.query(SectionList):
            rendered = sections.render()
            console.print(rendered, markup=False)
            red += [rendered.plain[s.start : s.end] for s in rendered.spans if "red" in str(s.style)]
        return Shown(console.export_text(), red, outcome_json(screen.outcome))


def part(text: str, title: str, following: str) -> str:
    start = text.index(title)
    return text[start : text.index(following, start + len(title))]


async def test_no_allergy_data_is_no_information_on_screen_and_in_json(server: RunningSandbox, tmp_path: Path) -> None:
    person, _ = someone(no_allergy_data)
    seen = await shown(server, tmp_path, person)
    completeness = seen.json["summary"]["completeness"]
    assert set(completeness) == SECTIONS
    assert set(completeness.values()) <= {"recorded", "none-known", "no-information", "not-shared"}
    assert completeness["allergies"] == "no-information"
    allergies = part(seen.text, "Dị ứng", "Bệnh lý")
    assert "Chưa có thông tin" in allergies
    assert "không có" not in allergies.casefold()


async def test_no_known_allergy_is_said_as_such(server: RunningSandbox, tmp_path: Path) -> None:
    person, _ = someone(no_known_allergy)
    seen = await shown(server, tmp_path, person)
    assert seen.json["summary"]["completeness"]["allergies"] == "none-known"
    assert seen.json["summary"]["allergies"] == []
    assert "Không có dị ứng đã biết" in part(seen.text, "Dị ứng", "Bệnh lý")


async def test_an_aspirin_allergy_with_an_aspirin_prescription_is_a_red_alert(
    server: RunningSandbox, tmp_path: Path
) -> None:
    person, _ = someone(aspirin_slip)
    seen = await shown(server, tmp_path, person)
    alerts = seen.json["summary"]["alerts"]
    assert any(a["kind"] == "drug-allergy" and "Aspirin 81 mg" in a["text"] for a in alerts)
    line = "Dị ứng Aspirin nhưng được kê Aspirin 81 mg"
    assert line in seen.text
    assert seen.text.index("CẢNH BÁO") < seen.text.index("Thông tin sống còn") < seen.text.index("Bệnh lý")
    assert any(line in run for run in seen.red)


async def test_labs_show_their_range_and_flag(server: RunningSandbox, tmp_path: Path) -> None:
    person, _ = someone(high_creatinine)
    seen = await shown(server, tmp_path, person)
    labs = part(seen.text, "Xu hướng xét nghiệm", "Tiêm chủng")
    creatinine = next(line for line in labs.splitlines() if "Creatinin" in line)
    assert "µmol/L ↑ H (62–106)" in creatinine
    assert any("↑ H" in run for run in seen.red)


async def test_active_prescriptions_are_current_medication(server: RunningSandbox, tmp_path: Path) -> None:
    person, records = someone(recent_prescription)
    seen = await shown(server, tmp_path, person)
    assert seen.json["summary"]["completeness"]["medications"] == "recorded"
    medications = part(seen.text, "Thuốc đang dùng", "Đơn thuốc điện tử")
    # A chronic drug of the latest prescription (paracetamol for a fever is supplied for a few days only).
    drugs = [m["medicationCodeableConcept"]["text"] for m in of_type(records, "MedicationRequest")]
    drug = next(d for d in reversed(drugs) if not d.startswith("Paracetamol"))
    assert drug in medications
    # "theo đơn thuốc điện tử" (from an e-prescription), which the detail column may wrap after "theo".
    assert "đơn thuốc điện tử" in medications
    assert "Chưa có thông tin" not in medications and "không có" not in medications


async def test_blood_type_is_a_critical_fact_not_an_allergy(server: RunningSandbox, tmp_path: Path) -> None:
    person, records = someone(with_allergy)
    blood_type = next(o for o in of_type(records, "Observation") if o["code"]["coding"][0]["code"] == "882-1")
    group = blood_type["valueCodeableConcept"]["text"]
    seen = await shown(server, tmp_path, person)
    critical = part(seen.text, "Thông tin sống còn", "Dị ứng")
    assert f"Nhóm máu: {group}" in critical
    allergies = part(seen.text, "Dị ứng", "Bệnh lý")
    assert "Nhóm máu" not in allergies and group not in allergies
    assert seen.json["summary"]["completeness"]["critical_facts"] == "recorded"
