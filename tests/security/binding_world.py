"""The world of the binding tests: a real sandbox on 127.0.0.1, two people in it with shared records (the one the
kiosk asks for, and another whose records a hostile server swaps in), what the sandbox holds about the other, and
lookup services pointed at a proxy in front of the sandbox.

`Marks` are the other person's data that must never reach an outcome, a screen or the command's output: their name,
card number, patient id, allergies, document, referral and appointment ids.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from typing import Any

import httpx

from lookup.domain.identifiers import DEFAULT_TABLE, IdentifierKind
from lookup.domain.model import Identifier
from lookup.service.lookup_service import LookupService
from lookup.transport.config import ServerConfig
from lookup.trust.signatures import sign_document
from lookup.trust.trust_list import TrustList
from sandbox.server.runner import RunningSandbox
from sandbox.synthetic.facilities import FACILITIES_BY_CODE
from sandbox.synthetic.population import SyntheticPerson
from testkit.kiosk import with_records

Json = dict[str, Any]
POPULATION = 300
CCCD_SYSTEM = DEFAULT_TABLE.system(IdentifierKind.CCCD)


def resources_of(bundle: Json, kind: str) -> list[Json]:
    return [e["resource"] for e in bundle.get("entry") or [] if e["resource"].get("resourceType") == kind]


def allergies(documents: list[Json]) -> set[str]:
    return {str(r["code"]["text"]) for d in documents for r in resources_of(d, "AllergyIntolerance")}


@dataclass(frozen=True)
class Person:
    """A synthetic person and what the sandbox answers about them to the ER."""

    person: SyntheticPerson
    summary: Json
    """The `$summary` answer: the Patient and the signed documents."""
    patient: Json
    referrals: list[Json]
    appointments: list[Json]

    @property
    def id(self) -> str:
        return self.person.patient_id

    @property
    def identifier(self) -> Identifier:
        return Identifier(system=CCCD_SYSTEM, value=self.person.cccd)

    @property
    def documents(self) -> list[Json]:
        return resources_of(self.summary, "Bundle")

    def marks(self) -> list[str]:
        """What of this person must never be shown when someone else was asked for (JSON-quoted ids, so `p2` is
        not found inside `p21`)."""
        found = [self.person.full_name, self.person.cccd, f'"{self.id}"', *allergies(self.documents)]
        found += [json.dumps(d["id"]) for d in self.documents]
        found += [json.dumps(r["id"]) for r in self.referrals + self.appointments]
        return found


def read_person(er: httpx.Client, person: SyntheticPerson) -> Person:
    pid = person.patient_id
    summary = er.get(f"Patient/{pid}/$summary").json()
    referrals = er.get("ServiceRequest", params={"patient": f"Patient/{pid}"}).json()
    appointments = er.get("Appointment", params={"patient": f"Patient/{pid}"}).json()
    return Person(
        person=person,
        summary=summary,
        patient=er.get(f"Patient/{pid}").json(),
        referrals=resources_of(referrals, "ServiceRequest"),
        appointments=resources_of(appointments, "Appointment"),
    )


def pick_pair(er: httpx.Client) -> tuple[Person, Person]:
    """The person asked for (with an allergy) and another with other allergies, referrals and appointments."""
    asked: Person | None = None
    for candidate in with_records(POPULATION):
        person = read_person(er, candidate)
        if not allergies(person.documents):
            continue
        if asked is None:
            asked = person
        elif person.referrals and person.appointments and not allergies(person.documents) & allergies(asked.documents):
            return asked, person
    raise AssertionError("the synthetic population has no such pair")


def searchset(resources: list[Json]) -> Json:
    return {
        "resourceType": "Bundle",
        "type": "searchset",
        "total": len(resources),
        "entry": [{"resource": r, "search": {"mode": "match"}} for r in resources],
    }


def resign(running: RunningSandbox, document: Json, facility_code: str | None = None) -> Json:
    """`document` signed again with a facility's real key (by default the facility it names as custodian), as a
    trusted facility that wrote it so would have signed it."""
    code = facility_code or document["entry"][0]["resource"]["custodian"]["identifier"]["value"]
    keys = running.state.keys
    unsigned = {k: v for k, v in copy.deepcopy(document).items() if k != "signature"}
    display = FACILITIES_BY_CODE[code].display
    return sign_document(unsigned, keys.signing_key(code), keys.kid(code), facility=display)


def service(
    base_url: str,
    running: RunningSandbox,
    *,
    mode: str = "er",
    trust: TrustList | None = None,
    cache: Any = None,
) -> LookupService:
    """The real lookup service of a kiosk in `mode`, pointed at `base_url`, trusting the sandbox's facility keys."""
    config = ServerConfig(
        base_url=base_url, client_id=f"demo-{mode}", client_secret=f"demo-{mode}", timeout_s=10.0, mode=mode
    )
    return LookupService(
        config,
        trust=trust or TrustList.load(running.trust_list_path),
        cache=cache.records if cache is not None else None,
        outbox=cache.outbox if cache is not None else None,
    )
