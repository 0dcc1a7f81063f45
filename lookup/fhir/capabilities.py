"""What a FHIR server says it can do, read from its CapabilityStatement, or left unknown to be probed.

Most FHIR servers lack `$match` and `$summary`; some publish no CapabilityStatement at all. Unknown is not no: an
unknown operation is tried once and remembered as missing when the server answers 404/405/501 (or 400 naming it).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from pydantic import BaseModel, ConfigDict

from lookup.fhir.primitives import items

OAUTH_URIS_URL: Final = "http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris"
"""The SMART extension of `rest.security` that names a server's token endpoint."""


class ServerFeatures(BaseModel):
    """The operations and endpoints of one server; `None` means not known yet."""

    model_config = ConfigDict(extra="forbid")

    described: bool = False
    """Whether a CapabilityStatement was read."""
    match: bool | None = None
    summary: bool | None = None
    token_url: str | None = None
    resource_types: frozenset[str] = frozenset()
    search_params: dict[str, frozenset[str]] = {}
    """The search parameters of each resource type that lists any (a type listing none is assumed to take all)."""
    interactions: dict[str, frozenset[str]] = {}
    """The interactions (`read`, `create`, ...) each resource type lists."""

    def supports_resource(self, name: str) -> bool:
        """Unknown servers are assumed to serve every resource type (they are probed)."""
        return not self.described or not self.resource_types or name in self.resource_types

    def lists_interaction(self, name: str, interaction: str) -> bool:
        """Whether the CapabilityStatement lists `interaction` for resource type `name`. Nothing is assumed: a server
        that describes nothing lists nothing (for writes a kiosk sends only where the server says it takes them)."""
        return interaction in self.interactions.get(name, frozenset())

    def supports_search(self, name: str, param: str) -> bool:
        """Whether a search of resource type `name` by `param` is offered (unknown: assumed, and probed)."""
        listed = self.search_params.get(name)
        return self.supports_resource(name) and (listed is None or param in listed)


def _operation_names(rest: Mapping[str, Any]) -> set[str]:
    names: set[str] = set()
    for op in items(rest.get("operation")):
        if isinstance(op, dict):
            names.add(str(op.get("name", "")).lstrip("$"))
            names.add(str(op.get("definition", "")).rsplit("/", 1)[-1].lower())
    for resource in items(rest.get("resource")):
        if not isinstance(resource, dict):
            continue
        for op in items(resource.get("operation")):
            if isinstance(op, dict):
                names.add(f"{resource.get('type')}/{str(op.get('name', '')).lstrip('$')}")
                names.add(str(op.get("name", "")).lstrip("$"))
    return names


def _token_url(rest: Mapping[str, Any]) -> str | None:
    security = rest.get("security")
    if not isinstance(security, dict):
        return None
    for ext in items(security.get("extension")):
        if not isinstance(ext, dict) or ext.get("url") != OAUTH_URIS_URL:
            continue
        for sub in items(ext.get("extension")):
            if isinstance(sub, dict) and sub.get("url") == "token" and isinstance(sub.get("valueUri"), str):
                return str(sub["valueUri"])
    return None


def parse_capability_statement(doc: Mapping[str, Any]) -> ServerFeatures:
    """Read the server-mode `rest` of a CapabilityStatement. A malformed one is treated as unknown."""
    if doc.get("resourceType") != "CapabilityStatement":
        return ServerFeatures()
    rests = [r for r in items(doc.get("rest")) if isinstance(r, dict) and r.get("mode", "server") == "server"]
    if not rests:
        return ServerFeatures()
    rest = rests[0]
    ops = _operation_names(rest)
    described = [r for r in items(rest.get("resource")) if isinstance(r, dict) and isinstance(r.get("type"), str)]
    types = frozenset(str(r["type"]) for r in described)
    params = {str(r["type"]): _search_params(r) for r in described if items(r.get("searchParam"))}
    interactions = {str(r["type"]): _interactions(r) for r in described}
    return ServerFeatures(
        described=True,
        match="match" in ops or "Patient/match" in ops,
        summary="summary" in ops or "Patient/summary" in ops,
        token_url=_token_url(rest),
        resource_types=types,
        search_params=params,
        interactions=interactions,
    )


def _search_params(resource: Mapping[str, Any]) -> frozenset[str]:
    return frozenset(
        str(p["name"])
        for p in items(resource.get("searchParam"))
        if isinstance(p, dict) and isinstance(p.get("name"), str)
    )


def _interactions(resource: Mapping[str, Any]) -> frozenset[str]:
    return frozenset(
        str(i["code"])
        for i in items(resource.get("interaction"))
        if isinstance(i, dict) and isinstance(i.get("code"), str)
    )
