"""`kiosk lookup`: one lookup from the command line, by identifier, by a scanned code's text, or by demographics.

A staff member named by `KIOSK_STAFF_ID` (or `staff_id` in the settings) with `KIOSK_STAFF_PIN` (the environment
only, never a file or the command line) is signed in first, online or offline as in the app; the server's audit and
the kiosk's own then name them.

With `--json` it prints one object: `status` (found | candidates | not-found | consent-required | offline |
refused | wrong-patient | identity-mismatch), `source` (network | cache), `age_seconds`, `patient`, `candidates`
(only those worth a person's choice: none `certainly-not`, no `possible` one whose score rounds under 0.01),
`summary` (its sections, and `documents` with each one's facility, type, date and signature status: valid | invalid |
unknown-signer | signer-mismatch | unsigned), plus `message` saying why a lookup ended as it did. `wrong-patient`
means the server answered with another person's Patient or records: `patient` and `summary` are null, and
`message` names what did not match, never what it held. A lookup that ends in a fault of the server is still an
answer (exit 0); only unusable input or settings are errors.
`summary.completeness` maps every section (allergies, problems, medications, prescriptions, referrals,
appointments, encounters, immunizations, results, critical_facts) to `recorded`, `none-known` (the source states
there are none), `no-information` (nothing received), `not-shared` (consent or the kiosk's scope withheld it),
`incomplete` (the server sent only part of it) or `not-read` (its search failed while the others answered);
`summary.alerts` lists `{"kind": "drug-allergy", "text", "allergy", "drug", "drug_class"}`; `summary.medications`
includes active e-prescriptions (`from_prescription`), `summary.critical_facts` blood type, pregnancy, devices, DNR
and flags, and each result its `low`, `high` and `flag` (H | L | HH | LL | A).
`identity-mismatch`: the scanned card's number found a record whose name, birth date or sex are not the card's;
`card` and `record` are the two identities, `differs` the fields that disagree, `summary` is null and nothing
clinical was asked for; `--patient-id ID --identity-confirmed` opens it once a person has confirmed (audited). A
card whose number is on no record ends `not-found` with the card's demographics in `fallback` (the `message` says
a search by them is possible; it is not run).
`--identifier` also takes a temporary number as printed (`TMP-1234-5678-9`); when that temporary identity was linked
to a real patient, the real patient is opened by id and `reached_through` holds the temporary number (else null).
A health-insurance card's QR adds `insurance` (`card_number`, `valid_from`, `valid_to`, `benefit_level`, `source`
card | gateway, `in_force`, `state` valid | expiring | expired | not-yet-valid | unknown): the insurance gateway's
answer, or the card's own dates when the gateway cannot be reached.
A health card whose signature is invalid or unknown is such an error unless `--accept-unverified-card` is given;
then the object also carries `warnings`. A code's text, a break-glass reason and a health link's passcode come from a
file or standard input (`--qr-text-file`, `--break-glass-file`, `--passcode-file`; `-` reads standard input), never
from the command line, which every user of the machine can read.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
from typing import TYPE_CHECKING, Any

from kiosk.commands.secrets import SecretOption, check_one_stdin
from kiosk.output import CommandError, emit, say
from kiosk.settings import Mode, Settings, load_settings
from lookup import Demographics, Identifier, LookupOutcome, LookupStatus, ScanResult, Sex

if TYPE_CHECKING:
    from lookup import LookupService, TrustList

FLUSH_TIMEOUT_S = 3.0
QR_TEXT = SecretOption("qr-text", "the text of a scanned code (CCCD, BHYT, shc:/, shlink:/)", 64 * 1024)
BREAK_GLASS = SecretOption("break-glass", "the reason to open the records without consent", 4 * 1024)
PASSCODE = SecretOption("passcode", "the patient's passcode of a SMART Health Link", 1024)
SECRET_OPTIONS = [QR_TEXT, BREAK_GLASS, PASSCODE]
"""Read from files or standard input only (`kiosk.commands.secrets`): the command line is public on a machine."""


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("lookup", help="find a patient and their verified summary")
    what = p.add_argument_group("what to look up (one of)")
    what.add_argument("--identifier", metavar="SYSTEM|VALUE", help="an identifier token, e.g. a CCCD number")
    QR_TEXT.add_to(what)
    what.add_argument("--patient-id", metavar="ID", help="open a patient chosen among candidates")
    what.add_argument(
        "--identity-confirmed",
        action="store_true",
        help="with --patient-id: a person confirmed the record of an identity-mismatch is the patient (audited)",
    )
    who = p.add_argument_group("or demographics")
    who.add_argument("--family")
    who.add_argument("--middle")
    who.add_argument("--given")
    who.add_argument("--birthdate", metavar="YYYY-MM-DD")
    who.add_argument("--birth-year", type=int, metavar="YYYY")
    who.add_argument("--gender", choices=[s.value for s in Sex])
    who.add_argument("--province")
    who.add_argument("--phone")
    BREAK_GLASS.add_to(p)
    PASSCODE.add_to(p)
    p.add_argument(
        "--accept-unverified-card",
        action="store_true",
        help="look up a health card whose signature is invalid or unknown anyway (the output carries a warning)",
    )
    p.add_argument("--server", help="FHIR base URL (default: KIOSK_SERVER)")
    p.add_argument("--mode", choices=[m.value for m in Mode])
    p.add_argument("--timeout", type=float, default=5.0, help="seconds per request (default 5)")
    p.add_argument("--no-cache", action="store_true", help="neither read nor write the offline cache")
    p.add_argument("--json", action="store_true", help="print one JSON object")


def _demographics(args: argparse.Namespace) -> Demographics | None:
    fields: dict[str, Any] = {
        "family": args.family,
        "middle": args.middle,
        "given": args.given,
        "birth_year": args.birth_year,
        "sex": Sex(args.gender) if args.gender else None,
        "province": args.province,
        "phone": args.phone,
    }
    if args.birthdate:
        try:
            fields["birth_date"] = dt.date.fromisoformat(args.birthdate)
        except ValueError:
            raise CommandError("--birthdate must be written YYYY-MM-DD") from None
    fields = {k: v for k, v in fields.items() if v is not None}
    return Demographics(**fields) if fields else None


def outcome_json(outcome: LookupOutcome) -> dict[str, Any]:
    """The command's JSON shape for one outcome."""
    data = outcome.model_dump(mode="json")
    summary = data.get("summary")
    if summary is not None:
        summary.pop("patient", None)
        summary["documents"] = [
            {
                "facility": d["facility_name"] or d["facility_code"],
                "type": d["type"],
                "date": d["date"],
                "signature": d["signature"]["status"],
            }
            for d in summary["documents"]
        ]
    candidates = [
        {"patient": c["patient"], "score": c["score"], "grade": c["grade"], "agreements": c["agreements"]}
        for c in data["candidates"]
    ]
    return {
        "status": data["status"],
        "source": data["source"],
        "age_seconds": data["age_seconds"],
        "patient": data["patient"],
        "candidates": candidates,
        "summary": summary,
        "message": data["message"],
        "card": data["card"],
        "record": _identity(data["patient"]) if outcome.status is LookupStatus.IDENTITY_MISMATCH else None,
        "differs": data["differs"],
        "fallback": data["fallback"],
        "reached_through": data["reached_through"],
    }


def _identity(patient: dict[str, Any] | None) -> dict[str, Any] | None:
    """A record's identity as the card's is written: its demographics, with its identifiers."""
    if patient is None:
        return None
    return {**patient["demographics"], "identifiers": patient["identifiers"], "id": patient["id"]}


def _identifier(text: str) -> Identifier:
    """`SYSTEM|VALUE`, or a temporary number as printed on a wristband (`TMP-1234-5678-9`)."""
    from lookup.domain.temporary import TEMPORARY_SYSTEM, temporary_number

    number = temporary_number(text)
    if number is not None:
        return Identifier(system=TEMPORARY_SYSTEM, value=number)
    try:
        return Identifier.parse_token(text)
    except ValueError as exc:
        raise CommandError(f"--identifier: {exc}") from None


def _plain(outcome: LookupOutcome) -> str:
    lines = [f"{outcome.status.value} ({outcome.source.value})"]
    if outcome.age_seconds is not None:
        lines[0] += f", {outcome.age_seconds:.0f} s old"
    if outcome.message:
        lines.append(outcome.message)
    if outcome.patient is not None:
        lines.append(f"patient {outcome.patient.id}: {outcome.patient.demographics.full_name}")
    if outcome.card is not None:
        lines.append(f"card: {outcome.card.full_name}; differs: {', '.join(outcome.differs) or '-'}")
    for c in outcome.candidates:
        lines.append(f"  {c.score:.3f} {c.grade.value:<13} {c.patient.id} {c.patient.demographics.full_name}")
    if outcome.summary is not None:
        for d in outcome.summary.documents:
            lines.append(
                f"  {d.date or '?'} {d.type.value:<8} {d.facility_name or d.facility_code} {d.signature.status}"
            )
    return "\n".join(lines)


def _scan(settings: Settings, text: str, trust: TrustList) -> ScanResult:
    from lookup import IdentifierSystems
    from scanners.payloads import interpret

    return interpret(
        text, format="text", decoder="paste", trust=trust, systems=IdentifierSystems(settings.identifier_systems)
    )


def _unverified(scan: ScanResult, *, accept: bool) -> list[str]:
    """A card whose signature does not hold identifies nobody unless the user says so, and then says so."""
    if not scan.unverified:
        return []
    status = scan.signature.status.value
    why = f"the card's signature is {status}" + (f" ({scan.signature.reason})" if scan.signature.reason else "")
    if not accept:
        raise CommandError(f"{why}: nobody was looked up; pass --accept-unverified-card to look it up anyway")
    return [f"{why}: looked up anyway (--accept-unverified-card); confirm the person's identity another way"]


async def _sign_in(service: LookupService, settings: Settings, stopped: str = "nobody was looked up") -> None:
    """Sign the staff member of `KIOSK_STAFF_ID` / `KIOSK_STAFF_PIN` in (optional: without them the server's audit
    names the kiosk's client alone); a refused sign-in stops the command before any lookup."""
    if settings.staff_id is None and settings.staff_pin is None:
        return
    if settings.staff_id is None or settings.staff_pin is None:
        raise CommandError("KIOSK_STAFF_ID and KIOSK_STAFF_PIN go together")
    result = await service.sign_in(settings.staff_id, settings.staff_pin.get_secret_value())
    if result.staff is None:
        raise CommandError(f"staff sign-in {result.status.value}: {result.message}; {stopped}")


async def _lookup(
    args: argparse.Namespace, settings: Settings, warnings: list[str], extra: dict[str, Any]
) -> LookupOutcome:
    from kiosk.services.cache import open_cache_or_none
    from kiosk.services.trust import TrustFile
    from kiosk.wiring import lookup_service, require_encryption
    from lookup import IdentifierSystems

    if settings.server is None:
        raise CommandError("no server configured: set KIOSK_SERVER or pass --server")
    require_encryption(settings)
    trust = TrustFile.read(settings.trust_list).trust_list()
    cache = None if args.no_cache else open_cache_or_none(settings)
    systems = IdentifierSystems(settings.identifier_systems)
    service = lookup_service(settings, trust, systems, cache, timeout_s=args.timeout)
    try:
        await _sign_in(service, settings)
        query = _demographics(args)
        if args.patient_id:
            outcome = await service.open_patient(args.patient_id, confirmed_identity=args.identity_confirmed)
        elif args.identifier:
            identifier = _identifier(args.identifier)
            outcome = await service.by_identifier(identifier)
        elif args.qr_text:
            scan = _scan(settings, args.qr_text, trust)
            warnings.extend(_unverified(scan, accept=args.accept_unverified_card))
            if scan.insurance is not None:
                extra["insurance"] = await service.eligibility(scan.insurance.card_number, scan.insurance)
            if scan.kind.value == "shl":
                outcome = await service.by_link(scan.text, passcode=args.passcode)
            else:
                outcome = await service.by_scan(scan)
        elif query is not None:
            outcome = await service.by_demographics(query)
        else:
            raise CommandError(
                "give --identifier, --qr-text-file, --patient-id or demographics (--family, --given ...)"
            )
        if args.break_glass and outcome.status is LookupStatus.CONSENT_REQUIRED and outcome.patient is not None:
            outcome = await service.break_glass(outcome.patient.id, args.break_glass)
        # An audit that cannot go out now stays queued in the cache's outbox for the next flush.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(service.flush_outbox(), FLUSH_TIMEOUT_S)
        return outcome
    finally:
        await service.aclose()
        if cache is not None:
            cache.close()


def read_secret_options(args: argparse.Namespace) -> None:
    """Refuse the literal secret options, then read each `--NAME-file` into `args.NAME`."""
    for option in SECRET_OPTIONS:
        option.refuse_literal(args)
    check_one_stdin(args, SECRET_OPTIONS)
    for option in SECRET_OPTIONS:
        setattr(args, option.dest, option.read(args))


def run(args: argparse.Namespace) -> int:
    read_secret_options(args)
    settings = load_settings(server=args.server, mode=Mode(args.mode) if args.mode else None)
    warnings: list[str] = []
    extra: dict[str, Any] = {}
    outcome = asyncio.run(_lookup(args, settings, warnings, extra))
    if args.json:
        from kiosk.commands.scan import insurance_json

        insurance = {"insurance": insurance_json(extra["insurance"])} if "insurance" in extra else {}
        emit(outcome_json(outcome) | insurance | ({"warnings": warnings} if warnings else {}))
    else:
        say("\n".join([*(f"warning: {w}" for w in warnings), _plain(outcome)]))
    return 0
