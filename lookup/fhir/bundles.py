"""Readers of search and `$match` Bundles: the matching resources, their scores and grades, paging and totals."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from lookup.domain.model import MatchGrade
from lookup.fhir.primitives import items

MATCH_GRADE_URL: Final = "http://hl7.org/fhir/StructureDefinition/match-grade"
Json = dict[str, Any]


def search_entries(bundle: Mapping[str, Any], resource_type: str | None = None) -> list[Json]:
    """The `match`-mode resources of a searchset (all entries when the server sets no mode)."""
    return [resource for _url, resource in search_matches(bundle, resource_type)]


def search_matches(bundle: Mapping[str, Any], resource_type: str | None = None) -> list[tuple[str | None, Json]]:
    """The `match`-mode entries of a searchset as (fullUrl, resource), the fullUrl None when the entry has none."""
    found: list[tuple[str | None, Json]] = []
    for entry in items(bundle.get("entry")):
        if not isinstance(entry, Mapping):
            continue
        resource = entry.get("resource")
        if not isinstance(resource, dict):
            continue
        search = entry.get("search")
        mode = search.get("mode") if isinstance(search, Mapping) else None
        if mode not in (None, "match"):
            continue
        if resource_type is None or resource.get("resourceType") == resource_type:
            url = entry.get("fullUrl")
            found.append((url if isinstance(url, str) else None, resource))
    return found


def match_entries(bundle: Mapping[str, Any]) -> list[tuple[Json, float | None, MatchGrade | None]]:
    """The Patients of a `$match` answer with their score and match-grade."""
    found: list[tuple[Json, float | None, MatchGrade | None]] = []
    for entry in items(bundle.get("entry")):
        if not isinstance(entry, Mapping) or not isinstance(entry.get("resource"), dict):
            continue
        resource = entry["resource"]
        if resource.get("resourceType") != "Patient":
            continue
        search = entry.get("search") if isinstance(entry.get("search"), Mapping) else {}
        assert isinstance(search, Mapping)
        raw_score = search.get("score")
        score = float(raw_score) if isinstance(raw_score, int | float) and 0 <= raw_score <= 1 else None
        grade: MatchGrade | None = None
        for ext in items(search.get("extension")):
            if isinstance(ext, Mapping) and ext.get("url") == MATCH_GRADE_URL:
                try:
                    grade = MatchGrade(str(ext.get("valueCode")))
                except ValueError:
                    grade = None
        found.append((resource, score, grade))
    return found


def next_link(bundle: Mapping[str, Any]) -> str | None:
    for link in items(bundle.get("link")):
        if isinstance(link, Mapping) and link.get("relation") == "next" and isinstance(link.get("url"), str):
            return str(link["url"])
    return None


def bundle_total(bundle: Mapping[str, Any]) -> int | None:
    total = bundle.get("total")
    return total if isinstance(total, int) and total >= 0 else None
