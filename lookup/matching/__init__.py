"""Demographic matching: find a person by name and birth date among millions, and never confirm a wrong one.

`MatchEngine` indexes people and searches them; `rank` re-ranks the few records a plain FHIR search returned;
`blocking_keys` gives short normalised keys an offline store can index blindly. Normalisation helpers
(`fold`, `normalize_name`, `phone_number`) are exported for the callers that compare text themselves.
"""

from lookup.matching.blocking import blocking_keys, query_blocking_keys
from lookup.matching.engine import MatchEngine, ScoredMatch, rank
from lookup.matching.normalise import fold, phone_number, tone_key


def normalize_name(text: str) -> str:
    """A name as the engine compares it: folded, accents removed, `đ` -> `d`, single spaces."""
    return fold(text)


__all__ = [
    "MatchEngine",
    "ScoredMatch",
    "blocking_keys",
    "fold",
    "normalize_name",
    "phone_number",
    "query_blocking_keys",
    "rank",
    "tone_key",
]
