"""An imported Patient's name is read by the one Patient reader: plain search and `$match` see the same name."""

from __future__ import annotations

import json
from pathlib import Path

from sandbox.server.config import SandboxConfig
from sandbox.server.runner import start_sandbox
from testkit.server import authorised_client

NICKNAMED = {
    "resourceType": "Patient",
    "id": "nick-1",
    # The nickname comes first: the official name is still the one both search and `$match` read.
    "name": [
        {"use": "nickname", "given": ["Bống"]},
        {"use": "official", "family": "Hoàng", "given": ["Thị", "Xuân"]},
    ],
    "gender": "female",
    "birthDate": "1987-03-09",
}


def _ids(bundle: dict[str, object]) -> list[str]:
    entries = bundle.get("entry") or []
    assert isinstance(entries, list)
    return [e["resource"]["id"] for e in entries]


def test_search_and_match_read_the_official_name_not_the_nickname(tmp_path: Path) -> None:
    source = tmp_path / "patients.ndjson"
    source.write_text(json.dumps(NICKNAMED, ensure_ascii=False) + "\n", encoding="utf-8")
    config = SandboxConfig(db_path=tmp_path / "names.sqlite", population=200, import_path=source, demo_clients=True)
    with start_sandbox(config) as sandbox, authorised_client(sandbox.base_url, "demo-er") as er:
        born = {"birthdate": "1987-03-09"}
        assert "nick-1" in _ids(er.get("Patient", params={"given": "Xuân", **born}).json())
        assert "nick-1" in _ids(er.get("Patient", params={"family": "hoang", "given": "thi xuan", **born}).json())
        assert "nick-1" not in _ids(er.get("Patient", params={"given": "Bống", **born}).json())

        assert sandbox.state.matching is not None and sandbox.state.matching.engine_ready
        query = {key: NICKNAMED[key] for key in ("resourceType", "name", "gender", "birthDate")}
        body = {"resourceType": "Parameters", "parameter": [{"name": "resource", "resource": query}]}
        matched = er.post("Patient/$match", json=body).json()
        assert _ids(matched)[0] == "nick-1"
