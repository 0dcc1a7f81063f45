"""The network half of a lookup: each step of the protocol as one method, against any FHIR R4 server.

Where the server publishes an operation (`$match`, `$summary`) it is used; where it does not, or answers 404/405/501
to it, the same answer is assembled from standard searches run in parallel (`lookup.service.assembly`). Every method
raises `FhirError`; the service decides what a fault means for the clerk.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import Any

from lookup.domain.model import Candidate, Demographics, Identifier, MatchGrade, PatientRecord, SectionState
from lookup.fhir.bundles import bundle_total, match_entries, search_entries
from lookup.fhir.documents import resources, split_summary
from lookup.fhir.patient import patient_record, patient_resource
from lookup.service.assembly import (
    MAX_PAGES,
    PROBE_KINDS,
    first_fault,
    glass_refused,
    read_pages,
    records,
)
from lookup.transport.client import FhirClient
from lookup.transport.faults import FaultKind, FhirError

Json = dict[str, Any]


class Fetched:
    """The documents and loose resources of one patient, as the server gave them (`lookup.service.binding` checks
    they are about that patient); `patients` are the Patient resources the answer held besides its documents,
    `records` the (fullUrl, resource) pairs of `loose` as searched, and `gaps` the sections the server sent only part
    of or failed to answer for."""

    def __init__(
        self,
        patient: PatientRecord | None,
        documents: list[Json],
        loose: list[Json],
        patients: list[Json] | None = None,
        gaps: dict[str, SectionState] | None = None,
        records: list[tuple[str | None, Json]] | None = None,
    ) -> None:
        self.patient = patient
        self.documents = documents
        self.loose = loose
        self.patients = patients or []
        self.gaps = gaps or {}
        self.records = records if records is not None else [(None, r) for r in loose]


class Fetcher:
    """Protocol steps over one FhirClient."""

    def __init__(self, client: FhirClient) -> None:
        self.client = client
        self._population: int | None = client.config.population_hint

    async def _pages(self, first: Json, limit: int = MAX_PAGES) -> list[Json]:
        """A searchset and its following pages (at most `limit`), for servers that page."""
        return await read_pages(self.client, first, limit)

    async def patients_by_identifiers(self, identifiers: Sequence[Identifier]) -> list[PatientRecord]:
        """The Patients found by one of the identifiers, in one request (comma = OR in FHIR token search); a server
        that refuses the OR form is asked once per identifier, in parallel. Each should carry one of them: the
        service refuses the answer when one does not (`lookup.service.binding.bind_identified`)."""
        tokens = list(dict.fromkeys(i.token for i in identifiers))
        try:
            bundles = [await self.client.get("Patient", {"identifier": ",".join(tokens)})]
        except FhirError as exc:
            if len(tokens) == 1 or exc.kind is not FaultKind.BAD_REQUEST:
                raise
            bundles = list(await asyncio.gather(*(self.client.get("Patient", {"identifier": t}) for t in tokens)))
        found: dict[str, PatientRecord] = {}
        for bundle in bundles:
            for resource in search_entries(bundle, "Patient"):
                record = patient_record(resource)
                if record is not None:
                    found[record.id] = record
        return list(found.values())

    async def patient(self, patient_id: str, headers: Mapping[str, str] | None = None) -> PatientRecord | None:
        try:
            resource = await self.client.get(f"Patient/{patient_id}", headers=headers)
        except FhirError as exc:
            if exc.kind is FaultKind.NOT_FOUND:
                return None
            raise
        return patient_record(resource)

    @property
    def _summary_timeout(self) -> float:
        return self.client.config.timeout_for("summary")

    @property
    def known_population(self) -> int:
        """The population last learnt from the server, or a large guess (stricter `certain`) when never asked."""
        return self._population or 1_000_000

    async def population(self) -> int:
        """How many patients the server holds, for the matching threshold (a large guess when it will not say)."""
        if self._population is None:
            try:
                total = bundle_total(await self.client.get("Patient", {"_summary": "count", "_count": "1"}))
            except FhirError as exc:
                if exc.offline:
                    raise
                total = None
            self._population = total if total else 1_000_000
        return self._population

    async def match(
        self, query: Demographics, count: int = 10
    ) -> list[tuple[PatientRecord, float | None, MatchGrade | None]] | None:
        """`$match` candidates, or None when the server has no `$match`."""
        features = await self.client.features()
        if features.match is False:
            return None
        params = {
            "resourceType": "Parameters",
            "parameter": [
                {"name": "resource", "resource": patient_resource(query)},
                {"name": "count", "valueInteger": count},
                {"name": "onlyCertainMatches", "valueBoolean": False},
            ],
        }
        try:
            bundle = await self.client.post(
                "Patient/$match", params, idempotent=True, timeout_s=self.client.config.timeout_for("match")
            )
        except FhirError as exc:
            if (features.match is not True and exc.kind in PROBE_KINDS) or exc.kind is FaultKind.NOT_SUPPORTED:
                self.client.forget("match")
                return None
            raise
        self.client.learn("match")
        found = []
        for resource, score, grade in match_entries(bundle):
            record = patient_record(resource)
            if record is not None:
                found.append((record, score, grade))
        return found

    async def search(self, query: Demographics, count: int = 50, *, narrow: bool = False) -> list[PatientRecord]:
        """Plain searches, loose enough to survive typos (each is one filter family), run in parallel.

        `narrow` (the lobby) sends one search naming everything it has, and only when that singles a person out
        (a full birth date with both names or a phone): a lobby may not browse, and the server refuses less."""
        if narrow:
            return await self._narrow_search(query, count)
        searches: list[list[tuple[str, str]]] = []
        years: list[tuple[str, str]] = []
        if query.birth_date is not None:
            years = [("birthdate", query.birth_date.isoformat())]
        elif query.birth_year is not None:
            years = [("birthdate", f"ge{query.birth_year - 1}-01-01"), ("birthdate", f"le{query.birth_year + 1}-12-31")]
        if query.given and years:
            searches.append([("given", query.given), *years])
        if query.family and query.given:
            searches.append([("family", query.family), ("given", query.given)])
        if query.phone:
            searches.append([("phone", query.phone)])
        if not searches and years:
            searches.append(years + ([("gender", query.sex.value)] if query.sex else []))
        if not searches:
            return []
        for params in searches:
            params.append(("_count", str(count)))
        bundles = await asyncio.gather(*(self.client.get("Patient", params) for params in searches))
        found: dict[str, PatientRecord] = {}
        for bundle in bundles:
            for resource in search_entries(bundle, "Patient"):
                record = patient_record(resource)
                if record is not None:
                    found.setdefault(record.id, record)
        return list(found.values())

    async def _narrow_search(self, query: Demographics, count: int) -> list[PatientRecord]:
        if query.birth_date is None or not ((query.family and query.given) or query.phone):
            return []
        params = [("birthdate", query.birth_date.isoformat()), ("_count", str(count))]
        if query.family and query.given:
            params += [("family", query.family), ("given", query.given)]
        if query.phone:
            params.append(("phone", query.phone))
        bundle = await self.client.get("Patient", params)
        return [r for r in (patient_record(p) for p in search_entries(bundle, "Patient")) if r is not None]

    async def summary(self, patient_id: str, headers: Mapping[str, str]) -> Fetched:
        """`$summary`, or the same documents assembled from standard queries when the server lacks it.

        A `$summary` answer is taken as it is, with no per-resource queries beside it: it is the server's own
        statement of what it shares for this purpose (consent and break-glass applied), and a query per resource
        type would cost every lookup nine more requests."""
        features = await self.client.features()
        if features.summary is not False:
            try:
                bundle = await self.client.get(
                    f"Patient/{patient_id}/$summary", headers=headers, timeout_s=self._summary_timeout
                )
            except FhirError as exc:
                advertised = features.summary is True
                if glass_refused(exc, headers):
                    raise
                if exc.kind is FaultKind.NOT_SUPPORTED or (not advertised and exc.kind in PROBE_KINDS):
                    self.client.forget("summary")
                else:
                    raise
            else:
                self.client.learn("summary")
                resource, documents = split_summary(bundle)
                patient = patient_record(resource) if resource is not None else None
                patients = [r for r in resources(bundle) if r.get("resourceType") == "Patient"]
                return Fetched(patient, documents, [], patients)
        return await self.assemble(patient_id, headers)

    async def assemble(self, patient_id: str, headers: Mapping[str, str]) -> Fetched:
        """The union of what a server without `$summary` offers, all asked in parallel: the Patient, its documents
        by standard search (`Bundle?composition.subject=`) and its records per resource type
        (`lookup.service.assembly.records`). `loose` holds every record; which of them the documents already show
        is decided once their signatures are checked (`lookup.service.assembly.shown_records`)."""
        try:
            async with asyncio.TaskGroup() as group:
                patient_task = group.create_task(self.patient(patient_id, headers))
                documents_task = group.create_task(self._documents(patient_id, headers))
                records_task = group.create_task(records(self.client, patient_id, headers, self._summary_timeout))
        except* FhirError as failed:
            raise first_fault(failed) from None
        documents = documents_task.result() or []
        found = records_task.result()
        if found.unavailable is not None and not documents:
            raise found.unavailable
        loose = [resource for _url, resource in found.found]
        return Fetched(patient_task.result(), documents, loose, gaps=found.gaps, records=found.found)

    async def _documents(self, patient_id: str, headers: Mapping[str, str]) -> list[Json] | None:
        params = {"type": "document", "composition.subject": f"Patient/{patient_id}", "_count": "100"}
        try:
            first = await self.client.get("Bundle", params, headers=headers, timeout_s=self._summary_timeout)
        except FhirError as exc:
            if exc.kind in PROBE_KINDS and not glass_refused(exc, headers):
                return None
            raise
        documents: list[Json] = []
        for page in await self._pages(first):
            documents.extend(r for r in search_entries(page, "Bundle") if r.get("type") == "document")
        return documents

    async def appointments(self, patient_id: str, day: str) -> list[Json]:
        bundle = await self.client.get("Appointment", {"patient": f"Patient/{patient_id}", "date": day})
        return search_entries(bundle, "Appointment")

    async def referrals_of(self, patient_id: str, facility_code: str | None) -> list[Json]:
        """A patient's referrals (addressed to this facility when its code is known): what reception is shown."""
        params = {"patient": f"Patient/{patient_id}", "_count": "50"}
        if facility_code:
            params["performer"] = f"Organization/{facility_code}"
        bundle = await self.client.get("ServiceRequest", params)
        return search_entries(bundle, "ServiceRequest")

    async def referrals_to(self, facility_code: str) -> list[Json]:
        params = {"performer": f"Organization/{facility_code}", "status": "active", "_count": "200"}
        pages = await self._pages(await self.client.get("ServiceRequest", params))
        return [r for page in pages for r in search_entries(page, "ServiceRequest")]


def candidates_from_match(
    found: Sequence[tuple[PatientRecord, float | None, MatchGrade | None]], ranked: Sequence[Candidate]
) -> list[Candidate]:
    """`$match` results with the server's score and grade, and the local engine's per-field explanation."""
    local = {c.patient.id: c for c in ranked}
    out: list[Candidate] = []
    for record, score, grade in found:
        mine = local.get(record.id)
        out.append(
            Candidate(
                patient=record,
                score=score if score is not None else (mine.score if mine else 0.0),
                grade=grade or (mine.grade if mine else MatchGrade.POSSIBLE),
                agreements=mine.agreements if mine else (),
            )
        )
    return out
