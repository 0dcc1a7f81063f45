"""A hostile server answers about another person: every path refuses the whole answer as `wrong-patient` and shows,
keeps and prints nothing of it.

A real proxy on 127.0.0.1 stands in front of a real sandbox and swaps parts of its answers: another person's signed
documents in a `$summary`, another Patient, a document whose entries name another patient (in every reference form
FHIR allows), the same on a server without `$summary` (documents found by search), another person's referrals and
appointments for reception, a health link holding two people's records. The kiosk is the real lookup service, the
real `kiosk lookup --json` process, and the real Textual app driven by its pilot.
"""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kiosk.dialogs.notice import NoticeDialog
from kiosk.screens.summary import SummaryScreen
from kiosk.screens.visit import VisitScreen
from kiosk.settings import Mode
from kiosk.wiring import build_app
from lookup.domain.model import LookupOutcome
from lookup.service.audit import Delivery
from sandbox.server.runner import RunningSandbox
from sandbox.synthetic.cards import cccd_qr_text
from testkit.kiosk import sandbox, settings_for, sign_in, wait_until, wedge_scan
from testkit.server import authorised_client
from tests.security.binding_world import (
    POPULATION,
    Json,
    Person,
    pick_pair,
    resign,
    resources_of,
    searchset,
    service,
)
from tests.security.swap_proxy import Rewrite, swapping

DOCUMENT_BASE = "https://hssk.sandbox.invalid/fhir"
WRONG_PATIENT_VI = "Hồ sơ trả về không phải của người bệnh này"


@pytest.fixture(scope="module")
def full() -> Iterator[RunningSandbox]:
    with sandbox(POPULATION) as running:
        yield running


@pytest.fixture(scope="module")
def pair(full: RunningSandbox) -> tuple[Person, Person]:
    with authorised_client(full.base_url, "demo-er") as er:
        return pick_pair(er)


def shows_none_of(outcome: LookupOutcome, other: Person) -> None:
    said = outcome.model_dump_json()
    leaked = [mark for mark in other.marks() if mark in said]
    assert not leaked, f"the outcome shows the other person's {leaked}"
    assert outcome.patient is None and outcome.summary is None and not outcome.candidates


def answer_with(asked: Person, patients: list[Json], documents: list[Json]) -> Json:
    """A `$summary` answer for `asked`, holding these Patients and documents."""
    entries = [{"fullUrl": f"{DOCUMENT_BASE}/Patient/{p['id']}", "resource": p} for p in patients]
    entries += [{"resource": d} for d in documents]
    return {**asked.summary, "entry": entries}


def summary_of(asked: Person, answer: Json) -> Rewrite:
    def rewrite(path: str, params: dict[str, str], real: Json) -> Json | None:
        return answer if path == f"Patient/{asked.id}/$summary" else None

    return rewrite


# -- (a) another person's signed documents in the `$summary` ----------------------------------------------------


async def test_summary_with_another_persons_documents_is_refused_and_not_kept(
    full: RunningSandbox, pair: tuple[Person, Person], tmp_path: Path
) -> None:
    from offline_cache import OfflineCache

    asked, other = pair
    swapped = answer_with(asked, [asked.patient], other.documents)
    cache = OfflineCache.open(tmp_path / "cache", key_file=tmp_path / "cache.key", ttl_seconds=3600.0)
    try:
        with swapping(full.base_url, summary_of(asked, swapped)) as proxy:
            lookup = service(proxy.base_url, full, cache=cache)
            try:
                outcome = await lookup.by_identifier(asked.identifier)
            finally:
                await lookup.aclose()
        assert proxy.swapped == 1
        assert outcome.status.value == "wrong-patient", outcome.status
        shows_none_of(outcome, other)
        assert outcome.message and "another patient" in outcome.message
        # Nothing of the refused answer is kept offline, about either person.
        assert cache.records.get(f"patient/{asked.id}") is None
        assert cache.records.get(f"patient/{other.id}") is None
        events = [Delivery.decode(e.payload).body for e in cache.outbox.claim(50)]
        refused = [e for e in events if str(e.get("outcomeDesc", "")).endswith("wrong-patient")]
        assert len(refused) == 1, [e.get("outcomeDesc") for e in events]
        assert refused[0]["entity"][0]["what"]["reference"] == f"Patient/{asked.id}"
    finally:
        cache.close()


# -- (b) another Patient -----------------------------------------------------------------------------------------


def _patient_swaps(asked: Person, other: Person) -> dict[str, Rewrite]:
    def in_summary(path: str, params: dict[str, str], real: Json) -> Json | None:
        if path == f"Patient/{asked.id}/$summary":
            return answer_with(asked, [other.patient], asked.documents)
        return None

    def by_identifier(path: str, params: dict[str, str], real: Json) -> Json | None:
        return searchset([other.patient]) if path == "Patient" and "identifier" in params else None

    def second_patient(path: str, params: dict[str, str], real: Json) -> Json | None:
        if path == f"Patient/{asked.id}/$summary":
            return answer_with(asked, [asked.patient, other.patient], asked.documents)
        return None

    return {"in-summary": in_summary, "identifier-search": by_identifier, "a-second-patient": second_patient}


@pytest.mark.parametrize("swap", ["in-summary", "identifier-search", "a-second-patient"])
async def test_another_patient_resource_is_refused(
    full: RunningSandbox, pair: tuple[Person, Person], swap: str
) -> None:
    asked, other = pair
    with swapping(full.base_url, _patient_swaps(asked, other)[swap]) as proxy:
        lookup = service(proxy.base_url, full)
        try:
            outcome = await lookup.by_identifier(asked.identifier)
        finally:
            await lookup.aclose()
    assert proxy.swapped >= 1
    assert outcome.status.value == "wrong-patient", outcome.status
    shows_none_of(outcome, other)


async def test_a_patient_without_the_scanned_identifier_is_refused(
    full: RunningSandbox, pair: tuple[Person, Person]
) -> None:
    """The Patient of the summary has the right id but not the card's number: not the person whose card it is."""
    asked, _ = pair
    card = asked.person.cccd
    stripped = {
        **asked.patient,
        "identifier": [i for i in asked.patient["identifier"] if i["value"] != card],
    }
    swapped = answer_with(asked, [stripped], asked.documents)
    with swapping(full.base_url, summary_of(asked, swapped)) as proxy:
        lookup = service(proxy.base_url, full)
        try:
            outcome = await lookup.by_identifier(asked.identifier)
        finally:
            await lookup.aclose()
    assert outcome.status.value == "wrong-patient", outcome.status
    assert outcome.message and "identifier" in outcome.message


# -- (c) a document whose entries name another patient ----------------------------------------------------------


def _with_foreign_allergy(running: RunningSandbox, asked: Person, other: Person, form: str) -> Json:
    """One of `asked`'s documents with `other`'s allergy added, naming `other` in reference form `form`, signed
    again by the document's own facility (so the signature alone cannot tell)."""
    document = copy.deepcopy(asked.documents[0])
    allergy = copy.deepcopy(next(r for d in other.documents for r in resources_of(d, "AllergyIntolerance")))
    allergy["id"] = f"foreign-{allergy['id']}"
    references = {
        "relative": f"Patient/{other.id}",
        "absolute": f"{DOCUMENT_BASE}/Patient/{other.id}",
        "versioned": f"Patient/{other.id}/_history/2",
        "urn-uuid": f"urn:uuid:{uuid.uuid4()}",
    }
    allergy["patient"] = {"reference": references[form]}
    document["entry"].append({"fullUrl": f"{DOCUMENT_BASE}/AllergyIntolerance/{allergy['id']}", "resource": allergy})
    if form == "urn-uuid":
        document["entry"].append({"fullUrl": references[form], "resource": copy.deepcopy(other.patient)})
    return resign(running, document)


@pytest.mark.parametrize("form", ["relative", "absolute", "versioned", "urn-uuid"])
async def test_a_document_with_an_entry_about_another_patient_is_refused(
    full: RunningSandbox, pair: tuple[Person, Person], form: str
) -> None:
    asked, other = pair
    mixed = _with_foreign_allergy(full, asked, other, form)
    swapped = answer_with(asked, [asked.patient], [mixed, *asked.documents[1:]])
    with swapping(full.base_url, summary_of(asked, swapped)) as proxy:
        lookup = service(proxy.base_url, full)
        try:
            outcome = await lookup.by_identifier(asked.identifier)
        finally:
            await lookup.aclose()
    assert outcome.status.value == "wrong-patient", outcome.status
    shows_none_of(outcome, other)


@pytest.mark.parametrize("form", ["urn-uuid", "versioned", "absolute"])
async def test_the_patients_own_document_in_any_reference_form_still_opens(
    full: RunningSandbox, pair: tuple[Person, Person], form: str
) -> None:
    """The binding reads references as FHIR writes them: the asked person's own documents stay `valid`."""
    asked, _ = pair
    document = copy.deepcopy(asked.documents[0])
    composition = document["entry"][0]["resource"]
    patient_entry = next(e for e in document["entry"] if e["resource"]["resourceType"] == "Patient")
    if form == "urn-uuid":
        patient_entry["fullUrl"] = f"urn:uuid:{uuid.uuid4()}"
        composition["subject"] = {"reference": patient_entry["fullUrl"]}
    else:
        prefix = f"{DOCUMENT_BASE}/" if form == "absolute" else ""
        suffix = "/_history/3" if form == "versioned" else ""
        composition["subject"] = {"reference": f"{prefix}Patient/{asked.id}{suffix}"}
    swapped = answer_with(asked, [asked.patient], [resign(full, document), *asked.documents[1:]])
    with swapping(full.base_url, summary_of(asked, swapped)) as proxy:
        lookup = service(proxy.base_url, full)
        try:
            outcome = await lookup.by_identifier(asked.identifier)
        finally:
            await lookup.aclose()
    assert outcome.status.value == "found", outcome.message
    assert outcome.summary is not None and outcome.summary.allergies
    assert {d.signature.status.value for d in outcome.summary.documents} == {"valid"}


# -- (d) a server without `$summary`: documents by search, the Patient by read ----------------------------------


@pytest.fixture(scope="module")
def plain() -> Iterator[RunningSandbox]:
    with sandbox(POPULATION, supports_summary=False) as running:
        yield running


@pytest.mark.parametrize("swap", ["documents", "patient"])
async def test_assembled_answer_about_another_person_is_refused(
    plain: RunningSandbox, pair: tuple[Person, Person], swap: str
) -> None:
    asked, other = pair
    with authorised_client(plain.base_url, "demo-er") as er:
        params = {"type": "document", "composition.subject": f"Patient/{other.id}"}
        other_documents = resources_of(er.get("Bundle", params=params).json(), "Bundle")
    assert other_documents

    def rewrite(path: str, params: dict[str, str], real: Json) -> Json | None:
        if swap == "documents" and path == "Bundle" and params.get("composition.subject") == f"Patient/{asked.id}":
            return searchset(other_documents)
        if swap == "patient" and path == f"Patient/{asked.id}":
            return other.patient
        return None

    with swapping(plain.base_url, rewrite) as proxy:
        lookup = service(proxy.base_url, plain)
        try:
            outcome = await lookup.open_patient(asked.id)
        finally:
            await lookup.aclose()
    assert proxy.swapped >= 1
    assert outcome.status.value == "wrong-patient", outcome.status
    shows_none_of(outcome, other)


# -- (e) reception: another person's referrals and appointments ------------------------------------------------


async def test_reception_referrals_of_another_person_are_refused(
    full: RunningSandbox, pair: tuple[Person, Person]
) -> None:
    asked, other = pair

    def rewrite(path: str, params: dict[str, str], real: Json) -> Json | None:
        if path == "ServiceRequest" and params.get("patient") == f"Patient/{asked.id}":
            return searchset(other.referrals)
        return None

    with swapping(full.base_url, rewrite) as proxy:
        lookup = service(proxy.base_url, full, mode="reception")
        try:
            outcome = await lookup.by_identifier(asked.identifier)
        finally:
            await lookup.aclose()
    assert proxy.swapped == 1
    assert outcome.status.value == "wrong-patient", outcome.status
    shows_none_of(outcome, other)


def _appointments_of(asked: Person, other: Person) -> Rewrite:
    def rewrite(path: str, params: dict[str, str], real: Json) -> Json | None:
        if path == "Appointment" and params.get("patient") == f"Patient/{asked.id}":
            return searchset(other.appointments)
        return None

    return rewrite


async def test_reception_appointments_of_another_person_are_refused(
    full: RunningSandbox, pair: tuple[Person, Person]
) -> None:
    asked, other = pair
    with swapping(full.base_url, _appointments_of(asked, other)) as proxy:
        lookup = service(proxy.base_url, full, mode="reception")
        try:
            with pytest.raises(Exception) as refused:  # the base commit raises nothing at all
                await lookup.appointments_today(asked.id)
        finally:
            await lookup.aclose()
    assert type(refused.value).__name__ == "WrongPatientError"
    assert not [mark for mark in other.marks() if mark in str(refused.value)]


# -- (f) `kiosk lookup --json` as a process -------------------------------------------------------------------


@pytest.mark.parametrize("swap", ["documents", "patient"])
def test_kiosk_lookup_json_prints_wrong_patient_and_nothing_of_it(
    full: RunningSandbox, pair: tuple[Person, Person], tmp_path: Path, swap: str
) -> None:
    asked, other = pair
    if swap == "documents":
        swapped = answer_with(asked, [asked.patient], other.documents)
    else:
        swapped = answer_with(asked, [other.patient], other.documents)
    env = {
        **os.environ,
        "KIOSK_CLIENT_ID": "demo-er",
        "KIOSK_CLIENT_SECRET": "demo-er",
        "KIOSK_TRUST_LIST": str(full.trust_list_path),
        "KIOSK_CACHE_DIR": str(tmp_path / "cache"),
        "KIOSK_CONFIG_FILE": str(tmp_path / "none.toml"),
        "KIOSK_MODE": "er",
    }
    with swapping(full.base_url, summary_of(asked, swapped)) as proxy:
        env["KIOSK_SERVER"] = proxy.base_url
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "kiosk.cli",
                "lookup",
                "--identifier",
                asked.identifier.token,
                "--json",
                "--no-cache",
            ],
            capture_output=True,
            text=True,
            timeout=120,
            env=env,
        )
    lines = done.stdout.strip().splitlines()
    assert done.returncode == 0 and len(lines) == 1, done.stderr
    data: dict[str, Any] = json.loads(lines[0])
    assert data["status"] == "wrong-patient", data["status"]
    assert data["patient"] is None and data["summary"] is None and data["candidates"] == []
    leaked = [mark for mark in other.marks() if mark in done.stdout or mark in done.stderr]
    assert not leaked, f"the command printed the other person's {leaked}"


# -- a SMART Health Link holding two people's records ---------------------------------------------------------


async def test_health_link_with_another_persons_document_is_refused(
    full: RunningSandbox, pair: tuple[Person, Person]
) -> None:
    from tests.security.link_files import LinkFiles, link_text

    asked, other = pair
    with LinkFiles([asked.documents[0], other.documents[0]]) as files:
        lookup = service(full.base_url, full)
        try:
            outcome = await lookup.by_link(link_text(files))
        finally:
            await lookup.aclose()
    assert outcome.status.value == "wrong-patient", outcome.status
    shows_none_of(outcome, other)
    assert outcome.message and "health link" in outcome.message


# -- (h) the app: a red alert, and nothing of the other person on screen -------------------------------------


def _screen_text(app: Any) -> str:
    from textual.widgets import Static

    return "\n".join(str(w.render()) for w in app.screen.query(Static))


async def test_er_app_shows_the_wrong_patient_alert_and_not_the_other_person(
    full: RunningSandbox, pair: tuple[Person, Person], tmp_path: Path
) -> None:
    asked, other = pair
    with swapping(full.base_url, summary_of(asked, other.summary)) as proxy:
        settings = settings_for(full, Mode.ER, tmp_path / "cache").model_copy(update={"server": proxy.base_url})
        app = build_app(settings)
        await sign_in(app)
        async with app.run_test(size=(120, 40)) as pilot:
            wedge_scan(app, cccd_qr_text(asked.person))
            await wait_until(pilot, lambda: isinstance(app.screen, NoticeDialog | SummaryScreen), within=20)
            screen = app.screen
            shown = _screen_text(app)
            assert isinstance(screen, NoticeDialog), f"the app opened {type(screen).__name__}"
            assert WRONG_PATIENT_VI in shown
            assert screen.query_one(".dialog-box").has_class("-danger")
            assert other.person.full_name not in shown and asked.person.full_name not in shown


async def test_reception_app_refuses_another_persons_appointments(
    full: RunningSandbox, pair: tuple[Person, Person], tmp_path: Path
) -> None:
    asked, other = pair
    with swapping(full.base_url, _appointments_of(asked, other)) as proxy:
        settings = settings_for(full, Mode.RECEPTION, tmp_path / "cache").model_copy(update={"server": proxy.base_url})
        app = build_app(settings)
        await sign_in(app)
        async with app.run_test(size=(120, 40)) as pilot:
            wedge_scan(app, cccd_qr_text(asked.person))
            await wait_until(pilot, lambda: any(isinstance(s, VisitScreen) for s in app.screen_stack), within=20)
            visit = next(s for s in app.screen_stack if isinstance(s, VisitScreen))
            await wait_until(pilot, lambda: visit.appointments is not None, within=20)
            assert not visit.appointments, "another person's appointments are listed for check-in"
            assert isinstance(app.screen, NoticeDialog) and WRONG_PATIENT_VI in _screen_text(app)
            described = [a.get("description", "") for a in other.appointments]
            on_screen = "\n".join(str(w.render()) for w in visit.query("Static"))
            assert not [d for d in described if d and d in on_screen]


def test_the_proxy_passes_answers_through_unchanged(full: RunningSandbox, pair: tuple[Person, Person]) -> None:
    """The harness itself: with nothing to swap, the proxy's answers are the sandbox's."""
    asked, _ = pair
    with (
        swapping(full.base_url, lambda path, params, real: None) as proxy,
        authorised_client(proxy.base_url, "demo-er") as er,
    ):
        answer = er.get(f"Patient/{asked.id}/$summary")
    assert answer.status_code == 200
    assert [d["id"] for d in resources_of(answer.json(), "Bundle")] == [d["id"] for d in asked.documents]
