"""Optional parts of the installation, and the one sentence that says how to add a missing one."""

from __future__ import annotations

import importlib.util

from kiosk.output import CommandError

SANDBOX_MODULES = ("fastapi", "uvicorn")


def require_sandbox_extra() -> None:
    """The reference server's web stack comes with the `sandbox` extra; a kiosk installed without it says so plainly
    instead of failing on an import deep inside the server."""
    missing = [name for name in SANDBOX_MODULES if importlib.util.find_spec(name) is None]
    if missing:
        raise CommandError(
            f"the reference server is not installed ({', '.join(missing)} missing): "
            "pip install 'kiosk-patient-lookup[sandbox]'"
        )
