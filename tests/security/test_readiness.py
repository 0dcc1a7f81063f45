"""Honest readiness of the reference server, over real loopback HTTP.

The server says ready (`start_sandbox` returns, `/metadata` answers 200) only when `$match` runs on the matching
engine: a query with a one-letter typo in the given name, sent the moment the server is ready, gets the same answer
as a minute later. While the engine is being built the FHIR routes answer 503 with Retry-After; a failed build is
said in the CapabilityStatement (no `$match`) instead of being served quietly by a weaker ranking. The index is
stored beside the database and loaded on the next start; a damaged, altered or stale one is rebuilt.

The build is made slow by holding the engine's `add_many` (the one step every build goes through), so the window
in which a server could claim to be ready too early is seconds wide, not a race.
"""

from __future__ import annotations

import json
import random
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from lookup.domain.model import Demographics
from lookup.matching import MatchEngine
from sandbox.server.config import SandboxConfig
from sandbox.server.runner import RunningSandbox, start_sandbox
from sandbox.synthetic.population import generate_people
from testkit.queries import typo
from testkit.server import bearer_token

POPULATION = 1200
SEED = 8
PEOPLE = list(generate_people(POPULATION, SEED))
Answer = list[tuple[str, float, str]]


@pytest.fixture(autouse=True)
def _private_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Generated databases are cached per machine; these tests keep theirs apart."""
    monkeypatch.setenv("KIOSK_SANDBOX_CACHE", str(tmp_path_factory.getbasetemp() / "readiness-cache"))


@pytest.fixture
def held_build(monkeypatch: pytest.MonkeyPatch) -> Iterator[threading.Event]:
    """Hold every engine build at its first batch until the returned event is set (or 5 s have passed)."""
    release = threading.Event()
    original = MatchEngine.add_many

    def held(self: MatchEngine, items: Iterable[tuple[str, Demographics]]) -> None:
        release.wait(timeout=5)
        original(self, items)

    monkeypatch.setattr(MatchEngine, "add_many", held)
    yield release
    release.set()


def _config(folder: Path, **switches: Any) -> SandboxConfig:
    return SandboxConfig(
        db_path=folder / "sandbox.sqlite", population=POPULATION, seed=SEED, demo_clients=True, **switches
    )


def _token(base_url: str) -> str:
    return bearer_token(base_url, "demo-er")


def _typo_queries() -> list[tuple[str, dict[str, Any]]]:
    """(patient id, Patient as a clerk would type it: the given name with one letter wrong, the rest right)."""
    rng = random.Random(3)
    queries = []
    for person in rng.sample(PEOPLE, 8):
        query = {
            "resourceType": "Patient",
            "name": [{"family": person.family, "given": [typo(person.given, rng)]}],
            "birthDate": person.birth_date.isoformat(),
            "gender": person.sex.value,
        }
        queries.append((person.patient_id, query))
    return queries


def _match(sandbox: RunningSandbox, queries: Iterable[dict[str, Any]]) -> list[Answer]:
    answers = []
    headers = {"Authorization": f"Bearer {_token(sandbox.base_url)}"}
    with httpx.Client(base_url=sandbox.base_url + "/", headers=headers, timeout=30) as client:
        for query in queries:
            body = {"resourceType": "Parameters", "parameter": [{"name": "resource", "resource": query}]}
            response = client.post("Patient/$match", json=body)
            assert response.status_code == 200, response.text
            answers.append(
                [
                    (e["resource"]["id"], e["search"]["score"], e["search"]["extension"][0]["valueCode"])
                    for e in response.json().get("entry", [])
                ]
            )
    return answers


def _offers_match(base_url: str) -> bool:
    response = httpx.get(f"{base_url}/metadata", timeout=30)
    assert response.status_code == 200
    operations = response.json()["rest"][0].get("operation", [])
    return any(o["name"] == "match" for o in operations)


def test_match_right_after_ready_answers_as_the_engine_does(tmp_path: Path, held_build: threading.Event) -> None:
    wanted, queries = zip(*_typo_queries(), strict=True)
    threading.Timer(1.5, held_build.set).start()
    with start_sandbox(_config(tmp_path)) as sandbox:
        at_once = _match(sandbox, queries)
        assert sandbox.state.matching is not None
        assert sandbox.state.matching.wait_ready(timeout=60)
        later = _match(sandbox, queries)
        assert _offers_match(sandbox.base_url)
    assert at_once == later
    found = [answer[0][0] if answer else None for answer in at_once]
    assert found == list(wanted)  # a one-letter typo in the given name finds the person


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def test_nothing_claims_ready_while_the_engine_is_built(tmp_path: Path, held_build: threading.Event) -> None:
    port = _free_port()
    base = f"http://127.0.0.1:{port}/fhir"
    started: list[RunningSandbox] = []
    starter = threading.Thread(target=lambda: started.append(start_sandbox(_config(tmp_path), port=port)))
    starter.start()
    try:
        answers: list[httpx.Response] = []
        deadline = time.monotonic() + 60
        while len(answers) < 3 and time.monotonic() < deadline:
            try:
                answers.append(httpx.get(f"{base}/metadata", timeout=5))
            except httpx.TransportError:
                time.sleep(0.05)  # not listening yet: preparing the database
        assert answers, "the server never answered while its engine was held"
        for answer in answers:
            assert answer.status_code == 503
            assert int(answer.headers["Retry-After"]) > 0
            outcome = answer.json()
            assert outcome["resourceType"] == "OperationOutcome"
            assert outcome["issue"][0]["code"] == "transient"
            assert "starting" in outcome["issue"][0]["diagnostics"]
        held = httpx.post(f"{base}/Patient/$match", json={"resourceType": "Parameters"}, timeout=5)
        assert held.status_code == 503
        assert not started, "start_sandbox returned while the engine was still being built"
    finally:
        held_build.set()
        starter.join(timeout=60)
    assert started
    with started[0] as sandbox:
        assert _offers_match(sandbox.base_url)


def test_a_failed_build_withdraws_match_from_the_capability_statement(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(self: MatchEngine, items: Iterable[tuple[str, Demographics]]) -> None:
        raise MemoryError("no room for the index")

    monkeypatch.setattr(MatchEngine, "add_many", broken)
    with start_sandbox(_config(tmp_path)) as sandbox:
        assert sandbox.state.matching is not None
        sandbox.state.matching.wait_ready(timeout=60)
        assert not _offers_match(sandbox.base_url)
    assert any("could not be built" in record.getMessage() for record in caplog.records)


def _restart(folder: Path) -> tuple[str | None, list[Answer]]:
    with start_sandbox(_config(folder)) as sandbox:
        assert sandbox.state.matching is not None
        how = getattr(sandbox.state.matching, "prepared_by", None)
        return how, _match(sandbox, (query for _, query in _typo_queries()))


def _index_of(folder: Path) -> Path:
    return folder / "sandbox-match-index.npz"


def _damage(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))


def _another_database(path: Path, folder: Path) -> None:
    """The index of another population put beside this database."""
    other = folder / "other"
    other.mkdir()
    config = SandboxConfig(db_path=other / "sandbox.sqlite", population=300, seed=SEED + 1, demo_clients=True)
    with start_sandbox(config):
        pass
    shutil.copyfile(_index_of(other), path)


TAMPERING: dict[str, Callable[[Path, Path], object]] = {
    "missing": lambda path, _: path.unlink(),
    "one bit flipped": lambda path, _: _damage(path),
    "replaced by text": lambda path, _: path.write_text("print('hello')", encoding="utf-8"),
    "made from another database": _another_database,
}


@pytest.mark.parametrize("tamper", TAMPERING.values(), ids=TAMPERING.keys())
def test_the_stored_index_is_loaded_on_restart_and_rebuilt_when_it_does_not_fit(
    tmp_path: Path, tamper: Callable[[Path, Path], object]
) -> None:
    first, answers = _restart(tmp_path)
    assert first == "built" and _index_of(tmp_path).is_file()
    again, same = _restart(tmp_path)
    assert again == "loaded" and same == answers
    tamper(_index_of(tmp_path), tmp_path)
    rebuilt, after = _restart(tmp_path)
    assert rebuilt == "built" and after == answers
    loaded, last = _restart(tmp_path)
    assert loaded == "loaded" and last == answers


def test_people_imported_after_the_index_was_stored_are_found(tmp_path: Path) -> None:
    first, _ = _restart(tmp_path)
    assert first == "built"
    newcomer = {
        "resourceType": "Patient",
        "id": "imported-1",
        "name": [{"family": "Quách", "given": ["Thị", "Ngọc Diệp"]}],
        "gender": "female",
        "birthDate": "1961-02-03",
    }
    source = tmp_path / "more.ndjson"
    source.write_text(json.dumps(newcomer, ensure_ascii=False) + "\n", encoding="utf-8")
    with start_sandbox(_config(tmp_path, import_path=source)) as sandbox:
        assert sandbox.state.matching is not None
        assert getattr(sandbox.state.matching, "prepared_by", None) == "built"
        query = {
            "resourceType": "Patient",
            "name": [{"family": "Quách", "given": ["Thị", "Ngọc Diệc"]}],
            "birthDate": "1961-02-03",
        }
        found = _match(sandbox, [query])[0]
    assert found and found[0][0] == "imported-1"


def test_the_command_line_prints_ready_only_when_match_runs_on_the_engine(tmp_path: Path) -> None:
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "kiosk.cli", "sandbox", "--port", str(port), "--db", str(tmp_path / "cli.sqlite"),
         "--synthetic", "2000", "--demo-clients", "--json"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )  # fmt: skip
    try:
        assert process.stdout is not None
        facts = json.loads(process.stdout.readline())
        base = f"http://127.0.0.1:{port}/fhir"
        assert facts["base_url"] == base
        assert facts["match"] == "engine"
        assert _offers_match(base)  # at once: listening, and with the engine built
    finally:
        process.terminate()
        process.wait(timeout=30)
