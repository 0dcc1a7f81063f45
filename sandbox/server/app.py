"""The sandbox coordination server: `create_app(config)` builds the FastAPI application.

All FHIR routes live under `config.base_path` (`/fhir`): the CapabilityStatement, the OAuth2 token endpoint, and
the routes of `routes_patients`, `routes_workflow`, `routes_visits`, `routes_identity`, `routes_eligibility` and
`routes_linkage`.
The database is prepared (generated, imported, indexed) before the application is returned, so a server started
from it answers at once.
"""

from __future__ import annotations

from typing import Annotated, Any, Final

from fastapi import APIRouter, FastAPI, Form, Request
from fastapi.responses import JSONResponse

from lookup.domain.temporary import LINK_OPERATION, UNLINK_OPERATION
from lookup.fhir.capabilities import OAUTH_URIS_URL
from sandbox.server import (
    routes_eligibility,
    routes_identity,
    routes_linkage,
    routes_patients,
    routes_visits,
    routes_workflow,
)
from sandbox.server.auth import Authority, TokenError
from sandbox.server.config import SandboxConfig
from sandbox.server.facility_keys import FacilityKeys
from sandbox.server.fhir import now_instant
from sandbox.server.http import FhirResponse, base_url, install_error_handlers, state_of
from sandbox.server.limits import (
    AbuseGuard,
    AbuseLimitsMiddleware,
    LockedOut,
    address_of,
    capability_extension,
    capability_text,
    guard_of,
    retry_after,
)
from sandbox.server.loader import prepare
from sandbox.server.matcher import Matching
from sandbox.server.policy import role_scopes
from sandbox.server.readiness import StartingGate
from sandbox.server.state import SandboxState

Json = dict[str, Any]
_SEARCH_PARAMS: Final[dict[str, list[tuple[str, str]]]] = {
    "Patient": [("identifier", "token"), ("family", "string"), ("given", "string"), ("birthdate", "date"),
                ("gender", "token"), ("address-state", "string"), ("phone", "token"), ("_id", "token")],
    "Bundle": [("type", "token"), ("composition.subject", "reference"), ("composition.patient", "reference")],
    "Appointment": [("patient", "reference"), ("date", "date"), ("status", "token")],
    "ServiceRequest": [("performer", "reference"), ("status", "token"), ("patient", "reference")],
    "AuditEvent": [("patient", "reference"), ("date", "date"), ("_tag", "token"), ("type", "token"),
                   ("subtype", "token"), ("agent", "token")],
    "Consent": [("patient", "reference")],
    "Encounter": [("date", "date")],
    "HealthcareService": [],
    "Provenance": [("target", "reference")],
    "CoverageEligibilityRequest": [],
    "Linkage": [],
}  # fmt: skip
_INTERACTIONS: Final[dict[str, list[str]]] = {
    "Patient": ["read", "search-type", "create"],
    "Bundle": ["search-type"],
    "Appointment": ["read", "search-type", "update"],
    "ServiceRequest": ["read", "search-type"],
    "AuditEvent": ["read", "search-type", "update"],
    "Consent": ["search-type"],
    "Encounter": ["search-type", "update"],
    "HealthcareService": ["search-type"],
    "Provenance": ["search-type"],
    "CoverageEligibilityRequest": ["create"],
    "Linkage": ["create"],
}
IDENTITY_OPERATIONS: Final = [
    {"name": name.lstrip("$"), "definition": f"http://fhir.hl7.org.vn/core/OperationDefinition/Patient-{name[1:]}"}
    for name in (LINK_OPERATION, UNLINK_OPERATION)
]
"""Linking a temporary identity to the real patient, and undoing it (`sandbox.server.routes_identity`)."""


def capability_statement(config: SandboxConfig, base: str, *, match_ready: bool = True) -> Json:
    """What this server offers; `$match` and `$summary` appear only when switched on, `$match` only once the matching
    engine answers it (`match_ready`)."""
    operations = []
    if config.supports_match and match_ready:
        operations.append({"name": "match", "definition": "http://hl7.org/fhir/OperationDefinition/Patient-match"})
    if config.supports_summary:
        operations.append({"name": "summary", "definition": "http://hl7.org/fhir/uv/ips/OperationDefinition/summary"})
    resources = []
    for name, interactions in _INTERACTIONS.items():
        resource: Json = {
            "type": name,
            "interaction": [{"code": code} for code in interactions],
            "searchParam": [{"name": p, "type": t} for p, t in _SEARCH_PARAMS[name]],
        }
        if name == "Patient":
            resource["operation"] = [*operations, *IDENTITY_OPERATIONS]
        resources.append(resource)
    return {
        "resourceType": "CapabilityStatement",
        "extension": [capability_extension(config.limits)],
        "status": "active",
        "date": now_instant(),
        "publisher": "Kiosk patient lookup sandbox",
        "kind": "instance",
        "software": {"name": "kiosk sandbox coordination server"},
        "implementation": {"description": "Synthetic Vietnamese health data coordination system", "url": base},
        "fhirVersion": "4.0.1",
        "format": ["application/fhir+json", "json"],
        "rest": [
            {
                "mode": "server",
                "documentation": "Documents are searched by Bundle?type=document&composition.subject=Patient/{id}. "
                + capability_text(config.limits),
                "security": {
                    "extension": [
                        {"url": OAUTH_URIS_URL, "extension": [{"url": "token", "valueUri": f"{base}/auth/token"}]}
                    ],
                    "service": [
                        {
                            "coding": [
                                {
                                    "system": "http://terminology.hl7.org/CodeSystem/restful-security-service",
                                    "code": "SMART-on-FHIR",
                                }
                            ]
                        }
                    ],
                },
                "resource": resources,
                "operation": operations,
            }
        ],
    }


def _meta_router() -> APIRouter:
    router = APIRouter()

    @router.get("/metadata", response_class=FhirResponse, summary="CapabilityStatement")
    def metadata(request: Request) -> FhirResponse:
        state = state_of(request)
        # A failed engine build is said here: `$match` is not offered rather than answered by a weaker ranking.
        match_ready = state.matching is not None and state.matching.engine_ready
        return FhirResponse(capability_statement(state.config, base_url(request), match_ready=match_ready))

    @router.post("/auth/token", summary="OAuth2 client credentials token, optionally naming the staff member")
    def token(
        request: Request,
        grant_type: Annotated[str | None, Form(max_length=100)] = None,
        client_id: Annotated[str | None, Form(max_length=200)] = None,
        client_secret: Annotated[str | None, Form(max_length=200)] = None,
        scope: Annotated[str | None, Form(max_length=1000)] = None,
        staff_id: Annotated[str | None, Form(max_length=64)] = None,
        staff_pin: Annotated[str | None, Form(max_length=32)] = None,
    ) -> JSONResponse:
        if grant_type != "client_credentials":
            return _token_error(TokenError("unsupported_grant_type", "only client_credentials is supported"))
        if not client_id or client_secret is None:
            return _token_error(TokenError("invalid_client", "client_id and client_secret are required", 401))
        try:
            with guard_of(request).lockout.attempt(client_id, address_of(request.scope)):
                access, granted = state_of(request).authority.issue(
                    client_id, client_secret, scope, staff_id=staff_id, staff_pin=staff_pin
                )
        except TokenError as exc:
            return _token_error(exc)
        body = {
            "access_token": access,
            "token_type": "Bearer",
            "expires_in": state_of(request).authority.lifetime_s,
            "scope": " ".join(sorted(granted.scopes)),
        }
        return JSONResponse(body, headers={"Cache-Control": "no-store", "Pragma": "no-cache"})

    return router


def _token_error(exc: TokenError) -> JSONResponse:
    headers = {"Cache-Control": "no-store"}
    if exc.status == 401:
        headers["WWW-Authenticate"] = "Basic"
    if isinstance(exc, LockedOut):
        headers["Retry-After"] = retry_after(exc.retry_after_s)
    return JSONResponse({"error": exc.error, "error_description": exc.description}, exc.status, headers)


def create_app(config: SandboxConfig) -> FastAPI:
    """The application, with its database prepared, its facility keys loaded (made on the first start) and (when
    available) the matching engine loading or building; until it is ready the FHIR routes answer 503 (`readiness`).

    Raises `NotASandboxDatabaseError` when `config.db_path` is another program's file (left untouched),
    `FacilityKeysError` when the key file beside it cannot be used, `PatientImportError` for a bad import file."""
    store = prepare(config.db_path, config.population, config.seed, config.document_share, config.import_path)
    try:
        keys = FacilityKeys.for_database(config.db_path)
    except BaseException:
        store.close()
        raise
    scopes = role_scopes()
    authority = (
        Authority.with_demo_clients(config.token_lifetime_s, scopes)
        if config.demo_clients
        else Authority([], 1, role_scopes=scopes)
    )
    matching = Matching(store) if config.supports_match else None
    app = FastAPI(
        title="Kiosk sandbox coordination server",
        version="1.0",
        description="FHIR R4 reference server with a synthetic Vietnamese population (demos and tests only).",
    )
    app.state.sandbox = SandboxState(config, store, authority, matching, keys)
    app.state.limits = AbuseGuard(config.limits, f"{config.base_path}/auth/token", authority)
    app.add_middleware(AbuseLimitsMiddleware, guard=app.state.limits)
    if matching is not None:
        app.add_middleware(StartingGate, matching=matching, base_path=config.base_path)
    install_error_handlers(app)
    routers = (routes_patients, routes_workflow, routes_visits, routes_identity, routes_eligibility, routes_linkage)
    for router in (_meta_router(), *(module.router for module in routers)):
        app.include_router(router, prefix=config.base_path)
    return app
