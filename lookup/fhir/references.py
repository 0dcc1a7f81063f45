"""The one reader of FHIR references: what a Reference points to, as a resource type and id.

A reference may be relative (`Patient/p1`), absolute (`https://host/fhir/Patient/p1`), versioned
(`Patient/p1/_history/2`), a `urn:uuid:` or `urn:oid:` fullUrl of another entry of the same Bundle, or `#id` of a
resource contained in the one that holds it. Entries of a Bundle are found by their fullUrl and by `Type/id`, so a
relative reference inside a document resolves to the entry it names, as FHIR prescribes. A Reference may also carry
only a logical `identifier` (with `type`), and no literal reference at all.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Final

from lookup.domain.model import FHIR_ID
from lookup.fhir.primitives import items

Json = dict[str, Any]
_TYPE: Final = re.compile(r"^[A-Z][A-Za-z]{1,63}$")


@dataclass(frozen=True, slots=True)
class Target:
    """What a reference points to: a resource type and id when readable, the identifier it names, if any, and the
    resource itself when it is an entry of the same Bundle or a contained resource."""

    type: str | None
    id: str | None
    identifier: tuple[str, str] | None = None
    """(system, value) of a logical reference."""
    resource: Json | None = None
    base: str | None = None
    """The service base URL of an absolute reference (`https://host/fhir`); None for any other form."""


def entry_index(bundle: Mapping[str, Any]) -> dict[str, Json]:
    """The resources of a Bundle by fullUrl and by `Type/id`, to resolve references made inside it."""
    found: dict[str, Json] = {}
    for entry in items(bundle.get("entry")):
        if not isinstance(entry, Mapping) or not isinstance(entry.get("resource"), dict):
            continue
        resource = entry["resource"]
        if isinstance(entry.get("fullUrl"), str):
            found[entry["fullUrl"]] = resource
        if isinstance(resource.get("id"), str):
            found[f"{resource.get('resourceType')}/{resource['id']}"] = resource
    return found


def _literal(text: str) -> tuple[str, str, str | None] | None:
    """(type, id, base) of a relative or absolute RESTful reference, its version left out (base None when
    relative); None for anything else."""
    path = text.split("?", 1)[0].split("#", 1)[0]
    path = path.split("/_history/", 1)[0].rstrip("/")
    parts = path.split("/")
    if len(parts) < 2 or not _TYPE.fullmatch(parts[-2]) or not FHIR_ID.fullmatch(parts[-1]):
        return None
    base = "/".join(parts[:-2]) if "://" in path else None
    return parts[-2], parts[-1], base


def _of_resource(resource: Json, identifier: tuple[str, str] | None, *, contained: bool = False) -> Target:
    kind, rid = resource.get("resourceType"), resource.get("id")
    # A contained resource has no identity of its own on any server: its id says nothing about whom it names.
    known_id = rid if isinstance(rid, str) and not contained else None
    return Target(kind if isinstance(kind, str) else None, known_id, identifier, resource)


def target(ref: Any, index: Mapping[str, Json] | None = None, holder: Mapping[str, Any] | None = None) -> Target | None:
    """What the Reference `ref` points to; None when it is no Reference (no `reference` and no `identifier`).

    `index` (from `entry_index`) resolves references inside a Bundle; `holder` is the resource that holds the
    reference, whose `contained` resources `#id` names. A reference that cannot be read keeps its declared `type`
    with no id: who it names is then unknown, which a caller binding a subject must treat as not this patient."""
    if not isinstance(ref, Mapping):
        return None
    declared = ref.get("type") if isinstance(ref.get("type"), str) else None
    text = ref.get("reference")
    raw_identifier = ref.get("identifier")
    identifier = None
    if isinstance(raw_identifier, Mapping):
        system, value = raw_identifier.get("system"), raw_identifier.get("value")
        if isinstance(value, str):
            identifier = (system if isinstance(system, str) else "", value)
    if not isinstance(text, str) or not text:
        return Target(declared, None, identifier) if identifier is not None else None
    if text.startswith("#"):
        for inner in items(holder.get("contained")) if holder is not None else []:
            if isinstance(inner, dict) and inner.get("id") == text[1:]:
                return _of_resource(inner, identifier, contained=True)
        return Target(declared, None, identifier)
    if index is not None and text in index:
        return _of_resource(index[text], identifier)
    if text.startswith(("urn:uuid:", "urn:oid:")):
        return Target(declared, None, identifier)
    literal = _literal(text)
    if literal is None:
        return Target(declared, None, identifier)
    local = f"{literal[0]}/{literal[1]}"
    if index is not None and local in index:
        return _of_resource(index[local], identifier)
    return Target(literal[0], literal[1], identifier, base=literal[2])


def references(value: Any, name: str = "") -> Iterator[tuple[str, Mapping[str, Any]]]:
    """Every Reference anywhere inside a resource, with the name of the element holding it (`subject`, `actor`...):
    each JSON object with a `reference` text, or with one `identifier` object (and no `resourceType`: a resource's
    own single identifier is not a reference). Contained resources are left out: they are reached through the
    references that name them."""
    if isinstance(value, Mapping):
        if isinstance(value.get("reference"), str) or (
            isinstance(value.get("identifier"), Mapping) and "resourceType" not in value
        ):
            yield name, value
        for key, inner in value.items():
            if key != "contained":
                yield from references(inner, key)
    elif isinstance(value, list):
        for inner in value:
            yield from references(inner, name)
