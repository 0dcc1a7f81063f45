"""No patient data in any log line: a full run (sandbox, service, cache, command line) with every logger at DEBUG,
and every captured line searched for the names, identifiers, birth dates, phones and addresses of the people used,
as written and as they would appear in a URL."""

from __future__ import annotations

import asyncio
import logging
import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote, quote_plus

import pytest

from lookup.domain.identifiers import DEFAULT_TABLE, IdentifierKind
from lookup.domain.model import Identifier, LookupStatus
from sandbox.server.config import SandboxConfig
from sandbox.server.runner import RunningSandbox, start_sandbox
from sandbox.synthetic import clinical
from sandbox.synthetic.cards import cccd_qr_text
from sandbox.synthetic.population import SyntheticPerson, person_at
from tests.reliability.conftest import POPULATION, SEED, SHARE, KioskFactory, consenting_people
from tests.reliability.proxy import Fault, FaultPlan, FaultProxy


def _without_consent() -> SyntheticPerson:
    for index in range(POPULATION):
        if clinical.has_documents(index, SEED, SHARE) and not clinical.has_consent(index, SEED):
            return person_at(index, SEED)
    raise AssertionError("no person without consent in the sandbox population")


def secrets_of(people: list[SyntheticPerson]) -> set[str]:
    """Every form in which these people's data could show up in a log line."""
    found: set[str] = set()
    for p in people:
        values = {
            p.full_name,
            f"{p.family} {p.given}",
            p.cccd,
            p.bhxh,
            p.birth_date.isoformat(),
            p.birth_date.strftime("%d%m%Y"),
            p.birth_date.strftime("%d/%m/%Y"),
            p.address,
        }
        if p.middle:
            values.add(f"{p.middle} {p.given}")
        if p.phone:
            values.add(p.phone)
        for value in list(values):
            values.update({quote(value), quote_plus(value), quote(value, safe="")})
        found.update(v for v in values if len(v) >= 6)
    return found


def _leaks(lines: list[str], secrets: set[str]) -> list[str]:
    return [f"{secret!r} in: {line[:200]}" for line in lines for secret in secrets if secret in line]


async def test_a_full_run_at_debug_logs_no_patient_data(
    sandbox: RunningSandbox,
    proxy: FaultProxy,
    make_kiosk: KioskFactory,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    people = consenting_people(14)[12:14]
    refuser = _without_consent()
    kiosk = make_kiosk()
    with start_sandbox(
        SandboxConfig(
            db_path=tmp_path / "plain.sqlite",
            population=POPULATION,
            seed=SEED,
            document_share=SHARE,
            demo_clients=True,
            supports_match=False,
            supports_summary=False,
        ),
        trust_list_path=tmp_path / "plain-trust.json",
    ) as plain:
        plain_kiosk = make_kiosk(base_url=plain.base_url)
        # Online: a card, a typed BHXH number, a demographic search ($match and plain search), consent refused
        # then break-glass, today's appointments and check-in.
        assert (await kiosk.scan(people[0])).status is LookupStatus.FOUND
        bhyt = Identifier(system=DEFAULT_TABLE.system(IdentifierKind.BHYT), value=people[1].bhxh)
        assert (await kiosk.service.by_identifier(bhyt)).status is LookupStatus.FOUND
        for service in (kiosk.service, plain_kiosk.service):
            await service.by_demographics(people[1].demographics())
        assert (await plain_kiosk.scan(people[0])).status is LookupStatus.FOUND
        refused = await kiosk.scan(refuser)
        assert refused.status is LookupStatus.CONSENT_REQUIRED
        assert (await kiosk.service.break_glass(refuser.patient_id, "bất tỉnh, cấp cứu")).status is LookupStatus.FOUND
        for appointment in await kiosk.service.appointments_today(people[0].patient_id):
            await kiosk.service.check_in(appointment.id)
        await kiosk.service.flush_outbox()
        # Offline: the same lookups answered from the cache, with the faults logged.
        proxy.plan = FaultPlan(Fault.STATUS, status=500)
        assert (await kiosk.scan(people[0])).status is LookupStatus.FOUND
        await kiosk.service.by_demographics(people[1].demographics())
        proxy.plan = FaultPlan(Fault.TRUNCATE)
        await kiosk.service.by_identifier(bhyt)
        proxy.plan = None

    reason = tmp_path / "reason.txt"
    reason.write_text("ngất\n", encoding="utf-8")
    process = await asyncio.to_thread(
        subprocess.run,
        [
            sys.executable,
            "-c",
            "import logging, sys; logging.basicConfig(level=logging.DEBUG); from kiosk.cli import main; "
            "sys.exit(main(sys.argv[1:]))",
            "lookup",
            "--qr-text-file",
            "-",
            "--break-glass-file",
            str(reason),
            "--json",
        ],
        input=cccd_qr_text(people[1]),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={
            **os.environ,
            "KIOSK_SERVER": proxy.base_url("/fhir"),
            "KIOSK_CLIENT_ID": "demo-er",
            "KIOSK_CLIENT_SECRET": "demo-er",
            "KIOSK_TRUST_LIST": str(sandbox.trust_list_path),
            "KIOSK_CACHE_DIR": str(tmp_path / "cli-cache"),
            "KIOSK_CACHE_KEY_FILE": str(tmp_path / "cli-cache.key"),
            "KIOSK_CONFIG_FILE": str(tmp_path / "none.toml"),
        },
    )
    assert process.returncode == 0 and '"status": "found"' in process.stdout.replace('":"', '": "')
    logged = [r.getMessage() for r in caplog.records] + [line for line in caplog.text.splitlines() if line.strip()]
    debug_lines = process.stderr.splitlines()
    assert len(logged) > 20 and any("DEBUG" in line for line in debug_lines)  # the run did log, at DEBUG
    secrets = secrets_of([*people, refuser])
    assert _leaks(logged, secrets) == []
    assert _leaks(debug_lines, secrets) == []
