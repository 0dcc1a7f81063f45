"""How the lookup service reaches one FHIR server."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator

from lookup.domain.origins import PLAIN_HTTP_REFUSED, plain_http_off_machine


class ServerConfig(BaseModel):
    """One FHIR R4 server and the kiosk's credentials for it. Credentials are optional: many servers inside a
    hospital network have no token endpoint and are used without one."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    base_url: Annotated[str, Field(pattern=r"^https?://")]
    client_id: str | None = None
    client_secret: SecretStr | None = None
    scope: str | None = None
    """Sent with the token request when set; the server decides scopes from the client otherwise."""
    timeout_s: Annotated[float, Field(gt=0, le=120)] = 3.0
    """The budget of one request; connecting gets at most `connect_timeout_s` of it."""
    connect_timeout_s: Annotated[float, Field(gt=0, le=60)] = 1.5
    mode: Literal["er", "reception", "lobby"] = "er"
    facility_code: str | None = None
    """This hospital's facility code: referrals and appointments addressed to it are prefetched."""
    retries: Annotated[int, Field(ge=0, le=5)] = 2
    """Extra attempts of an idempotent request after a retryable fault."""
    max_retry_after_s: Annotated[float, Field(ge=0, le=60)] = 2.0
    """A 429/503 asking to wait longer than this is not waited for: the caller gets `busy` at once."""
    breaker_reset_s: Annotated[float, Field(gt=0, le=600)] = 10.0
    """How long a failed server is left alone before one trial request."""
    population_hint: Annotated[int | None, Field(gt=0)] = None
    """The number of patients on the server, when known, for the matching threshold; asked of the server if not."""
    user_agent: str = "kiosk-patient-lookup/0.1"
    allow_insecure_http: bool = False
    """Plain `http://` to a server that is not loopback is refused unless the operator sets this knowingly."""

    @model_validator(mode="after")
    def _encrypted_off_machine(self) -> ServerConfig:
        if plain_http_off_machine(self.base_url) and not self.allow_insecure_http:
            raise ValueError(PLAIN_HTTP_REFUSED)
        return self

    def timeout_for(self, step: str) -> float:
        """The budget of one request of a step: a summary carries every document, so it gets twice the time of
        an identifier search; `$match` ranks a population, half as much again; the capability and token requests
        that open a session get at most 2 s, since a server that cannot say hello in 2 s will not serve a lookup."""
        factor = {"summary": 2.0, "match": 1.5}.get(step, 1.0)
        seconds = self.timeout_s * factor
        return min(seconds, 2.0) if step == "connect" else seconds
