"""A document signed with a trusted key of another facility than the one it names is `signer-mismatch`, never
`valid`; the sandbox's own documents, each signed by the facility it names, stay `valid`.

A real proxy on 127.0.0.1 in front of a real sandbox puts into one patient's `$summary` a document that claims to
be from Bạch Mai and is signed with the (trusted) key of a district health centre, or with a card issuer's key
that the trust list also holds; the kiosk is the real lookup service and `kiosk lookup --json`.
"""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from joserfc.jwk import ECKey

from lookup.domain.model import LookupOutcome
from lookup.trust.signatures import sign_document
from lookup.trust.trust_list import TrustList
from sandbox.server.runner import RunningSandbox
from sandbox.synthetic.documents import FACILITY_SYSTEM
from sandbox.synthetic.facilities import FACILITIES_BY_CODE
from testkit.kiosk import sandbox
from testkit.server import authorised_client
from tests.security.binding_world import POPULATION, Json, Person, pick_pair, resign, service
from tests.security.swap_proxy import Rewrite, swapping

BACH_MAI = FACILITIES_BY_CODE["01929"]
DISTRICT = FACILITIES_BY_CODE["01101"]
"""Trung tâm Y tế khu vực Cầu Giấy: a facility the trust list holds, but not the one the forged document names."""


@pytest.fixture(scope="module")
def full() -> Iterator[RunningSandbox]:
    with sandbox(POPULATION) as running:
        yield running


@pytest.fixture(scope="module")
def asked(full: RunningSandbox) -> Person:
    with authorised_client(full.base_url, "demo-er") as er:
        return pick_pair(er)[0]


def from_bach_mai(document: Json) -> Json:
    """`document` rewritten to name Bạch Mai as its author and custodian (its Organization entry too), unsigned."""
    claimed = {k: v for k, v in copy.deepcopy(document).items() if k != "signature"}
    composition = claimed["entry"][0]["resource"]
    reference = {
        "reference": f"Organization/{BACH_MAI.code}",
        "display": BACH_MAI.name,
        "identifier": {"system": FACILITY_SYSTEM, "value": BACH_MAI.code},
    }
    composition["custodian"] = dict(reference)
    composition["author"] = [dict(reference)]
    for entry in claimed["entry"]:
        if entry["resource"]["resourceType"] == "Organization":
            entry["resource"] = {
                "resourceType": "Organization",
                "id": BACH_MAI.code,
                "identifier": [{"system": FACILITY_SYSTEM, "value": BACH_MAI.code}],
                "name": BACH_MAI.name,
            }
            entry["fullUrl"] = f"https://hssk.sandbox.invalid/fhir/Organization/{BACH_MAI.code}"
    return claimed


def replacing_first_document(asked: Person, forged: Json) -> Rewrite:
    def rewrite(path: str, params: dict[str, str], real: Json) -> Json | None:
        if path != f"Patient/{asked.id}/$summary":
            return None
        entries = list(real["entry"])
        first = next(i for i, e in enumerate(entries) if e["resource"]["resourceType"] == "Bundle")
        entries[first] = {"resource": forged}
        return {**real, "entry": entries}

    return rewrite


async def lookup_through(
    full: RunningSandbox, asked: Person, rewrite: Rewrite, trust: TrustList | None = None
) -> LookupOutcome:
    with swapping(full.base_url, rewrite) as proxy:
        lookup = service(proxy.base_url, full, trust=trust)
        try:
            return await lookup.by_identifier(asked.identifier)
        finally:
            await lookup.aclose()


def statuses(outcome: LookupOutcome) -> dict[str, str]:
    assert outcome.summary is not None, outcome.message
    return {d.id: d.signature.status.value for d in outcome.summary.documents}


async def test_the_sandboxs_own_documents_stay_valid(full: RunningSandbox, asked: Person) -> None:
    outcome = await lookup_through(full, asked, lambda path, params, real: None)
    assert outcome.status.value == "found"
    assert set(statuses(outcome).values()) == {"valid"}
    assert len(statuses(outcome)) == len(asked.documents)


async def test_a_district_key_on_a_document_naming_bach_mai_is_signer_mismatch(
    full: RunningSandbox, asked: Person
) -> None:
    forged = resign(full, from_bach_mai(asked.documents[0]), facility_code=DISTRICT.code)
    outcome = await lookup_through(full, asked, replacing_first_document(asked, forged))
    assert outcome.status.value == "found"
    found = statuses(outcome)
    assert found[forged["id"]] == "signer-mismatch", found
    assert {s for i, s in found.items() if i != forged["id"]} == {"valid"}
    assert outcome.summary is not None
    check = next(d.signature for d in outcome.summary.documents if d.id == forged["id"])
    assert check.reason is not None and DISTRICT.code in check.reason and BACH_MAI.code in check.reason
    # Every item the forged document brought carries the same status, so no allergy from it reads as signed.
    from_forged = [
        i for i in (*outcome.summary.allergies, *outcome.summary.problems) if i.provenance.document_id == forged["id"]
    ]
    assert all(i.provenance.signature.value == "signer-mismatch" for i in from_forged)


async def test_bach_mais_own_key_on_the_same_document_is_valid(full: RunningSandbox, asked: Person) -> None:
    """The control of the test above: the same claim signed by the facility it names holds."""
    honest = resign(full, from_bach_mai(asked.documents[0]), facility_code=BACH_MAI.code)
    outcome = await lookup_through(full, asked, replacing_first_document(asked, honest))
    assert statuses(outcome)[honest["id"]] == "valid"


async def test_a_card_issuers_key_makes_no_facility_document_valid(
    full: RunningSandbox, asked: Person, tmp_path: Path
) -> None:
    issuer = ECKey.generate_key("P-256")
    jwks = json.loads(full.trust_list_path.read_text(encoding="utf-8"))
    public = issuer.as_dict(private=False) | {"kid": "issuer-1", "iss": "https://issuer.example/shc"}
    trust = TrustList.from_jwks({"keys": [*jwks["keys"], public]})
    unsigned = {k: v for k, v in asked.documents[0].items() if k != "signature"}
    forged = sign_document(unsigned, issuer, "issuer-1")
    outcome = await lookup_through(full, asked, replacing_first_document(asked, forged), trust=trust)
    assert statuses(outcome)[forged["id"]] == "signer-mismatch"


def test_kiosk_lookup_json_says_signer_mismatch(full: RunningSandbox, asked: Person, tmp_path: Path) -> None:
    forged = resign(full, from_bach_mai(asked.documents[0]), facility_code=DISTRICT.code)
    env = {
        **os.environ,
        "KIOSK_CLIENT_ID": "demo-er",
        "KIOSK_CLIENT_SECRET": "demo-er",
        "KIOSK_TRUST_LIST": str(full.trust_list_path),
        "KIOSK_CACHE_DIR": str(tmp_path / "cache"),
        "KIOSK_CONFIG_FILE": str(tmp_path / "none.toml"),
        "KIOSK_MODE": "er",
    }
    command = [sys.executable, "-m", "kiosk.cli", "lookup", "--identifier", asked.identifier.token]
    with swapping(full.base_url, replacing_first_document(asked, forged)) as proxy:
        env["KIOSK_SERVER"] = proxy.base_url
        done = subprocess.run([*command, "--json", "--no-cache"], capture_output=True, text=True, timeout=120, env=env)
    data: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[0])
    assert data["status"] == "found", done.stderr
    signatures = [d["signature"] for d in data["summary"]["documents"]]
    assert signatures.count("signer-mismatch") == 1 and set(signatures) == {"valid", "signer-mismatch"}
