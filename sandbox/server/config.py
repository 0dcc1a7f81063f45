"""How a sandbox server is set up: where its database is, what it generates or imports, which features it offers."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from sandbox.server.limits import AbuseLimits


class SandboxConfig(BaseModel):
    """Settings of one sandbox server.

    `population` people are generated from `seed` when the database does not hold them yet; `import_path` names a
    Bulk Data style NDJSON file of FHIR Patient resources loaded besides. The switches turn `$match` and
    `$summary` off to play a plain FHIR server, so clients can prove their fallbacks.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    db_path: Path
    supports_match: bool = True
    supports_summary: bool = True
    demo_clients: bool = False
    population: Annotated[int | None, Field(ge=0, le=20_000_000)] = None
    seed: int = 1
    import_path: Path | None = None
    document_share: Annotated[float, Field(ge=0.0, le=1.0)] = 0.4
    """Share of synthetic people who have shared documents (the others have a Patient resource only)."""
    token_lifetime_s: Annotated[int, Field(ge=1, le=86_400)] = 3600
    base_path: str = "/fhir"
    limits: AbuseLimits = AbuseLimits()
    """Body size, request rate and token lockout caps (`sandbox.server.limits`)."""
