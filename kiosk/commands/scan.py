"""`kiosk scan PATH... [--json]`: decode codes in image files, videos or folders of frames, and read what they say.

With `--json`, one object per input path: `{"source", "results": [...], "error"}`; each result has `format`, `text`,
`decoder`, `kind`, `identifiers`, `former_identifiers`, `demographics`, `signature`, `warnings` and `insurance`
(a health-insurance card's `card_number`, `valid_from`, `valid_to`, `benefit_level`, `source`, `in_force` and its
`state` today: valid | expiring | expired | not-yet-valid | unknown; null for other codes). Health cards are
checked against the trust list (`KIOSK_TRUST_LIST` or `--trust-list`); the parts of a multi-part card may be given
as separate paths, in any order. The exit code is 1 when any path could not be read.
"""

from __future__ import annotations

import argparse
import datetime as dt
from pathlib import Path
from typing import Any

from kiosk.output import CommandError, emit, say
from kiosk.services.trust import TrustFile
from kiosk.settings import load_settings
from lookup import IdentifierSystems, ScanResult
from lookup.domain.model import Eligibility


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("scan", help="decode codes in images, videos or folders of frames")
    p.add_argument("paths", nargs="+", type=Path, metavar="PATH", help="image, video, or folder of frames")
    p.add_argument("--json", action="store_true", help="one JSON object per path")
    p.add_argument("--trust-list", type=Path, default=None, help="JWKS of trusted keys (default: KIOSK_TRUST_LIST)")
    p.add_argument(
        "--decoder",
        action="append",
        choices=("zxing-cpp", "pyzbar"),
        help="use only this decoder (repeatable; default: every installed one)",
    )


def insurance_json(insurance: Eligibility | None, today: dt.date | None = None) -> dict[str, Any] | None:
    """An insurance card's validity as the commands print it, with what the desk is told today (`state`)."""
    if insurance is None:
        return None
    return insurance.model_dump(mode="json") | {"state": insurance.state(today or dt.date.today())}


def result_json(result: ScanResult) -> dict[str, Any]:
    def ids(items: Any) -> list[dict[str, str]]:
        return [{"system": i.system, "value": i.value} for i in items]

    return {
        "format": result.format,
        "text": result.text,
        "decoder": result.decoder,
        "kind": result.kind.value,
        "identifiers": ids(result.identifiers),
        "former_identifiers": ids(result.former_identifiers),
        "demographics": result.demographics.model_dump(mode="json", exclude_none=True),
        "signature": {
            "status": result.signature.status.value,
            "issuer": result.signature.issuer,
            "reason": result.signature.reason,
        },
        "warnings": list(result.warnings),
        "insurance": insurance_json(result.insurance),
    }


def _line(source: str, result: ScanResult) -> str:
    ids = ", ".join(f"{i.system.rsplit('/', 1)[-1]} {i.value}" for i in result.identifiers) or "no identifier"
    parts = [source, result.kind.value, f"{result.format} by {result.decoder}", ids]
    name = result.demographics.full_name
    if name:
        parts.append(name)
    if result.kind.value == "shc":
        parts.append(f"signature {result.signature.status.value}")
    parts.extend(f"warning: {w}" for w in result.warnings)
    return "  ".join(parts)


def run(args: argparse.Namespace) -> int:
    from scanners.decoders import DecoderChain
    from scanners.payloads import ShcChunks, interpret
    from scanners.sources import SourceError, scan_path

    settings = load_settings()
    trust = TrustFile.read(args.trust_list or settings.trust_list).trust_list()
    systems = IdentifierSystems(settings.identifier_systems)
    chain = DecoderChain.available(tuple(args.decoder or ("zxing-cpp", "pyzbar")))
    if not chain.names:
        raise CommandError("no decoder is installed; run `kiosk doctor`")
    chunks = ShcChunks()
    failed = False
    for path in args.paths:
        source = str(path)
        try:
            decoded = scan_path(path, chain)
        except SourceError as exc:
            failed = True
            if args.json:
                emit({"source": source, "results": [], "error": str(exc)})
            else:
                say(f"{source}  error: {exc}")
            continue
        results = [
            interpret(d.text, format=d.format, decoder=d.decoder, trust=trust, systems=systems, chunks=chunks)
            for d in decoded
        ]
        if args.json:
            emit({"source": source, "results": [result_json(r) for r in results], "error": None})
        elif not results:
            say(f"{source}  no code found")
        else:
            for result in results:
                say(_line(source, result))
    return 1 if failed else 0
