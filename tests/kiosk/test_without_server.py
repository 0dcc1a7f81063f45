"""A kiosk installed without the `sandbox` extra: the app, the lookup service and the scanners run without FastAPI,
and the commands that start the reference server say how to install it instead of failing on an import."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# Hiding a module in sys.modules makes every later import of it fail, as on a machine where it is not installed.
WITHOUT_SERVER = "import sys\nfor name in ('fastapi', 'uvicorn', 'starlette'): sys.modules[name] = None\n"


def _run(code: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "KIOSK_SERVER": "http://127.0.0.1:9/fhir",
        "KIOSK_CACHE_DIR": str(tmp_path / "cache"),
        "KIOSK_CONFIG_FILE": str(tmp_path / "none.toml"),
    }
    return subprocess.run(
        [sys.executable, "-c", WITHOUT_SERVER + code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )


def test_the_kiosk_and_its_lookup_service_run_without_the_server_stack(tmp_path: Path) -> None:
    code = (
        "import kiosk.app, kiosk.wiring, scanners.payloads.dispatch, offline_cache\n"
        "from lookup import LookupService, ServerConfig\n"
        "from lookup import TrustList\n"
        "LookupService(ServerConfig(base_url='http://127.0.0.1:9/fhir'), trust=TrustList.empty())\n"
        "from kiosk.cli import main\n"
        "main(['run', '--ready-check'])\n"
    )
    result = _run(code, tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.startswith("ready")


def test_starting_the_server_without_the_extra_says_how_to_install_it(tmp_path: Path) -> None:
    argv = ["sandbox", "--db", str(tmp_path / "s.db"), "--json"]
    sandbox = _run(f"from kiosk.cli import main\nraise SystemExit(main({argv!r}))", tmp_path)
    assert sandbox.returncode == 1
    error = json.loads(sandbox.stdout.splitlines()[-1])["error"]
    assert "kiosk-patient-lookup[sandbox]" in error and "fastapi" in error
    assert not (tmp_path / "s.db").exists()

    demo = _run("from kiosk.cli import main\nraise SystemExit(main(['demo']))", tmp_path)
    assert demo.returncode == 1
    assert "kiosk-patient-lookup[sandbox]" in demo.stderr and "Traceback" not in demo.stderr
