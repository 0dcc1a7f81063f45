"""Facility signing keys and the files the sandbox is pointed at.

Whoever knows a sandbox's seed must not be able to sign a document its trust list calls `valid`: keys come from the
system's random source on the first start, are kept private beside the database and survive restarts. `--db` and
`--trust-list-out` never replace a file that is not theirs (a kiosk's offline cache, another program's database,
notes); they stop with a clear error and leave it byte for byte as it was.
"""

from __future__ import annotations

import json
import os
import sqlite3
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from lookup.domain.model import SignatureStatus
from lookup.trust.signatures import verify_document
from lookup.trust.trust_list import TrustList
from offline_cache import DB_NAME, OfflineCache
from sandbox.server.config import SandboxConfig
from sandbox.server.runner import RunningSandbox, start_sandbox
from sandbox.synthetic.clinical import has_consent, has_documents
from testkit.server import bearer_token

ROOT = Path(__file__).resolve().parents[2]
POPULATION = 200
SEED = 3
SHARE = 0.4
PERSON = next(i for i in range(POPULATION) if has_documents(i, SEED, SHARE) and has_consent(i, SEED))


@pytest.fixture(autouse=True)
def _private_template_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Generated databases are cached per machine; these tests keep theirs apart (and look inside)."""
    directory = tmp_path_factory.getbasetemp() / "security-sandbox-cache"
    directory.mkdir(exist_ok=True)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("KIOSK_SANDBOX_CACHE", str(directory))
        yield directory


def _config(db: Path) -> SandboxConfig:
    return SandboxConfig(db_path=db, population=POPULATION, seed=SEED, document_share=SHARE, demo_clients=True)


def _documents(sandbox: RunningSandbox) -> list[dict[str, Any]]:
    """The signed document Bundles of a consenting person, as the ER reads them."""
    token = bearer_token(sandbox.base_url, "demo-er")
    response = httpx.get(
        f"{sandbox.base_url}/Patient/p{PERSON}/$summary",
        headers={"Authorization": f"Bearer {token}", "X-Purpose-Of-Use": "ETREAT"},
        timeout=30,
    )
    assert response.status_code == 200, response.text
    found = [e["resource"] for e in response.json()["entry"] if e["resource"]["resourceType"] == "Bundle"]
    assert found
    return found


def _public_keys(path: Path) -> dict[str, tuple[str, str]]:
    """(x, y) of each facility's key in a trust list, by facility code."""
    return {k["facility_code"]: (k["x"], k["y"]) for k in json.loads(path.read_text(encoding="utf-8"))["keys"]}


def test_two_sandboxes_from_the_same_seed_sign_with_different_keys(
    tmp_path: Path, _private_template_cache: Path
) -> None:
    with start_sandbox(_config(tmp_path / "a.sqlite")) as first, start_sandbox(_config(tmp_path / "b.sqlite")) as other:
        mine, theirs = _public_keys(first.trust_list_path), _public_keys(other.trust_list_path)
        assert mine.keys() == theirs.keys() and len(mine) >= 10
        assert all(mine[code] != theirs[code] for code in mine)
        documents = _documents(first)
        trusted, foreign = TrustList.load(first.trust_list_path), TrustList.load(other.trust_list_path)
        for document in documents:
            assert verify_document(document, trusted).status is SignatureStatus.VALID
            # Knowing the seed is not enough: one sandbox's documents are signed by no key the other trusts.
            assert verify_document(document, foreign).status is SignatureStatus.UNKNOWN_SIGNER
    # The template shared by every sandbox on the machine holds the population, never a key.
    cached = sorted(p.name for p in _private_template_cache.iterdir())
    assert cached and all(name.startswith("population-") and name.endswith(".sqlite") for name in cached)


def test_keys_survive_a_restart_over_the_same_database(tmp_path: Path) -> None:
    db = tmp_path / "sandbox.sqlite"
    with start_sandbox(_config(db)) as running:
        before = _documents(running)
        published = running.trust_list_path.read_bytes()
    assert (tmp_path / "sandbox-facility-keys.json").is_file()
    with start_sandbox(_config(db)) as again:
        assert again.trust_list_path.read_bytes() == published
        after = _documents(again)
        trust = TrustList.load(again.trust_list_path)
    assert [d["id"] for d in after] == [d["id"] for d in before]
    for document in before + after:
        assert verify_document(document, trust).status is SignatureStatus.VALID


def test_the_key_file_is_private_and_the_trust_list_public(tmp_path: Path) -> None:
    with start_sandbox(_config(tmp_path / "sandbox.sqlite"), trust_list_path=tmp_path / "trust.json") as running:
        trust_path = running.trust_list_path
    key_file = tmp_path / "sandbox-facility-keys.json"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    private = json.loads(key_file.read_text(encoding="utf-8"))["keys"]
    assert len(private) >= 10 and all("d" in key for key in private)
    public = json.loads(trust_path.read_text(encoding="utf-8"))["keys"]
    assert {k["kid"] for k in public} == {k["kid"] for k in private}
    assert not any(member in key for key in public for member in ("d", "p", "q", "dp", "dq", "qi", "k"))
    assert len(TrustList.load(trust_path).facility_keys()) == len(public)


def _kiosk_cache(folder: Path) -> Path:
    """A real kiosk offline cache, with a queued audit event in it."""
    cache = OfflineCache.open(folder, key_file=folder.with_name("kiosk-cache.key"), ttl_seconds=3600.0)
    try:
        cache.outbox.append("audit", "kept", b'{"resourceType": "AuditEvent", "id": "kept"}')
    finally:
        cache.close()
    return folder / DB_NAME


def _other_sqlite(path: Path) -> Path:
    conn = sqlite3.connect(path)
    conn.executescript("CREATE TABLE meta (key TEXT, value TEXT); CREATE TABLE notes (body TEXT);")
    conn.execute("INSERT INTO notes VALUES ('ward rota')")
    conn.commit()
    conn.close()
    return path


def _text_file(path: Path) -> Path:
    path.write_text("ca trực: điều dưỡng Lan, bác sĩ Hùng\n", encoding="utf-8")
    return path


def _run_sandbox_command(tmp_path: Path, *args: str) -> tuple[int | None, dict[str, Any]]:
    """`kiosk sandbox ... --json` in a child process: its exit code (None while it still serves) and first line."""
    env = {**os.environ, "KIOSK_CONFIG_FILE": str(tmp_path / "none.toml")}
    command = [sys.executable, "-m", "kiosk.cli", "sandbox", "--port", "0", "--synthetic", "20", "--json", *args]
    child = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None
        line = child.stdout.readline()
        try:
            code: int | None = child.wait(timeout=10)
        except subprocess.TimeoutExpired:
            code = None
    finally:
        if child.poll() is None:
            child.terminate()
            child.wait(timeout=10)
        for stream in (child.stdout, child.stderr):
            if stream is not None:
                stream.close()
    assert line, "the command printed nothing"
    return code, json.loads(line)


@pytest.mark.parametrize("make", [_kiosk_cache, _other_sqlite, _text_file], ids=["kiosk-cache", "sqlite", "text"])
def test_db_refuses_a_file_that_is_not_a_sandbox_database(tmp_path: Path, make: Any) -> None:
    target = make(tmp_path / "kiosk-cache" if make is _kiosk_cache else tmp_path / "other.db")
    before = target.read_bytes()
    neighbours = sorted(p.name for p in target.parent.iterdir())
    code, answer = _run_sandbox_command(tmp_path, "--db", str(target))
    assert code == 1, answer
    assert "not a sandbox database" in answer["error"] and "Traceback" not in answer["error"]
    assert target.read_bytes() == before
    assert sorted(p.name for p in target.parent.iterdir()) == neighbours  # no keys or trust list beside it
    if make is _kiosk_cache:
        cache = OfflineCache.open(
            target.parent, key_file=target.parent.with_name("kiosk-cache.key"), ttl_seconds=3600.0
        )
        try:
            assert len(cache.outbox.entries()) == 1
        finally:
            cache.close()


def test_start_sandbox_refuses_a_file_that_is_not_a_sandbox_database(tmp_path: Path) -> None:
    target = _text_file(tmp_path / "notes.sqlite")
    before = target.read_bytes()
    with pytest.raises(ValueError, match="not a sandbox database"):
        start_sandbox(_config(target))
    assert target.read_bytes() == before


def _private_jwks(path: Path) -> Path:
    path.write_text(json.dumps({"keys": [{"kty": "EC", "crv": "P-256", "x": "x", "y": "y", "d": "d"}]}))
    return path


def _card_issuer_trust_list(path: Path) -> Path:
    issuer = {"kty": "EC", "crv": "P-256", "kid": "issuer-1", "iss": "https://spec.smarthealth.cards/examples/issuer"}
    path.write_text(json.dumps({"keys": [issuer | {"x": "x", "y": "y"}]}))
    return path


@pytest.mark.parametrize(
    "make", [_text_file, _private_jwks, _card_issuer_trust_list], ids=["text", "private-keys", "card-issuers"]
)
def test_trust_list_out_refuses_a_file_that_is_not_a_facility_trust_list(tmp_path: Path, make: Any) -> None:
    target = make(tmp_path / "trust.json")
    before = target.read_bytes()
    code, answer = _run_sandbox_command(
        tmp_path, "--db", str(tmp_path / "sandbox.sqlite"), "--trust-list-out", str(target)
    )
    assert code == 1, answer
    assert "--trust-list-out" in answer["error"] and "Traceback" not in answer["error"]
    assert target.read_bytes() == before
    assert not (tmp_path / "sandbox.sqlite").exists()  # refused before anything was prepared
