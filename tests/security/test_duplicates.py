"""Possible duplicates, attacked: the review queue in a copied cache folder shows no name, number, birth date, record
id or staff member in clear; the server takes a Linkage only from the ER and the admin role, naming who decided, two
different real Patients and no temporary identity, and never makes a second one for the same two."""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from lookup.domain.temporary import new_temporary_number
from lookup.service.duplicate_finder import DuplicateFinder, Offer
from lookup.service.duplicate_review import linkage_resource
from lookup.service.offline_store import CachedPatient, OfflineStore
from lookup.service.ranking import query_keys, record_keys
from offline_cache import DB_NAME, OfflineCache
from offline_cache.review import ReviewState
from sandbox.server.runner import RunningSandbox
from tests.security.policy_world import Json, client_for, people, temporary_body, world

Person = dict[str, Any]
NAME, CCCD, OTHER_CCCD, BIRTH, STAFF = (
    "Nguyễn Thị Hồng Nhung",
    "001190012345",
    "079190054321",
    "1990-01-02",
    "nurse-lan",
)


def _patient(patient_id: str, cccd: str) -> Person:
    return {
        "id": patient_id,
        "identifiers": [{"system": "http://fhir.hl7.org.vn/core/sid/cccd", "value": cccd}],
        "demographics": {
            "family": "Nguyễn",
            "middle": "Thị Hồng",
            "given": "Nhung",
            "birth_date": BIRTH,
            "sex": "female",
            "province": "Hà Nội",
        },
    }


def _forms() -> set[bytes]:
    """The values as written, unaccented, JSON-escaped and as UTF-16."""
    plain = "".join(c for c in unicodedata.normalize("NFD", NAME) if unicodedata.category(c) != "Mn")
    texts = {
        NAME,
        plain,
        plain.lower(),
        "Nhung",
        CCCD,
        OTHER_CCCD,
        BIRTH,
        "02/01/1990",
        "pnhung-a",
        "pnhung-b",
        "pnhung-c",
        STAFF,
    }
    forms = {t.encode() for t in texts} | {json.dumps(t).strip('"').encode() for t in texts}
    return forms | {t.encode("utf-16-le") for t in (NAME, CCCD)}


def test_the_review_queue_holds_nothing_identifying_in_clear(tmp_path: Path) -> None:
    cache = OfflineCache.open(tmp_path / "cache", key_file=tmp_path / "key", ttl_seconds=3600.0)
    store = OfflineStore(cache.records, clinical=True, record_keys=record_keys, query_keys=query_keys)
    for patient_id, cccd in (("pnhung-a", CCCD), ("pnhung-b", OTHER_CCCD)):
        assert store.save(CachedPatient.model_validate({"patient": _patient(patient_id, cccd)}))
    finder = DuplicateFinder(cache.records, cache.review)
    assert finder.scan(cache.records.scan()).new == 1
    (waiting,) = cache.review.waiting()
    assert b'"Nhung"' in waiting.details and CCCD.encode() in waiting.details  # the queue holds them, sealed
    # Another pair keeps waiting (its details sealed in the file); the first is decided (its staff member sealed).
    cache.review.offer([Offer("pnhung-a", "pnhung-c", waiting.score, waiting.details)])
    cache.review.decide("pnhung-a", "pnhung-b", ReviewState.SAME, STAFF, "pending")
    files = {p.name: p.read_bytes() for p in (tmp_path / "cache").iterdir() if p.name.startswith(DB_NAME)}
    cache.close()
    files |= {
        f"{p.name} (closed)": p.read_bytes() for p in (tmp_path / "cache").iterdir() if p.name.startswith(DB_NAME)
    }
    assert sum(len(raw) for raw in files.values()) > 10_000
    for name, raw in files.items():
        for form in _forms():
            assert form not in raw, f"a patient value or staff id is in clear in {name}"


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningSandbox]:
    with world(tmp_path_factory, "duplicates") as running:
        yield running


def _ids(start: int) -> Iterator[tuple[str, str]]:
    """Pairs of real Patients from `start` on (each test its own, whatever order the tests run in)."""
    everyone = [p.id for p in people()][start:]
    return iter(zip(everyone[::2], everyone[1::2], strict=False))


def test_only_the_er_and_the_admin_link_two_patients(sandbox: RunningSandbox) -> None:
    pairs = _ids(10)
    for client, expected in (("demo-lobby", 403), ("demo-reception", 403), ("demo-er", 201), ("demo-admin", 201)):
        with client_for(sandbox, client) as http:
            answer = http.post("Linkage", json=linkage_resource(*next(pairs), STAFF))
        assert answer.status_code == expected, (client, answer.text)


def test_a_linkage_names_who_decided_and_two_real_patients(sandbox: RunningSandbox) -> None:
    source, alternate = next(_ids(30))
    nobody: Json = {k: v for k, v in linkage_resource(source, alternate, STAFF).items() if k != "author"}
    with client_for(sandbox, "demo-er") as er:
        assert er.post("Linkage", json=nobody).status_code == 400  # a token of nobody, and no author
        forged = linkage_resource(source, alternate, "x" * 65)
        assert er.post("Linkage", json=forged).status_code == 400
        assert er.post("Linkage", json=linkage_resource(source, source, STAFF)).status_code == 400
        assert er.post("Linkage", json=linkage_resource(source, "no-such-patient", STAFF)).status_code == 404
        temporary = er.post("Patient", json=temporary_body(new_temporary_number())).json()["id"]
        assert er.post("Linkage", json=linkage_resource(source, temporary, STAFF)).status_code == 409
        three = linkage_resource(source, alternate, STAFF)
        three["item"] = [*three["item"], {"type": "alternate", "resource": {"reference": f"Patient/{temporary}"}}]
        assert er.post("Linkage", json=three).status_code == 400
    with client_for(sandbox, "demo-er", staff="doctor-minh") as signed_in:
        made = signed_in.post("Linkage", json=nobody)
        again = signed_in.post("Linkage", json=linkage_resource(alternate, source, STAFF))
    assert made.status_code == 201 and again.status_code == 200
    assert again.json() == made.json()
    assert made.json()["author"]["identifier"]["value"] == "doctor-minh"  # the token's staff member, named by nobody
    assert made.headers["location"].endswith(f"/Linkage/{made.json()['id']}")
