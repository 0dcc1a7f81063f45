"""Demographic matching: find a person by name and birth date among millions, and never confirm a wrong one.

`MatchEngine` indexes people and searches them; `rank` re-ranks the few records a plain FHIR search returned;
`blocking_keys` gives short normalised keys an offline store can index blindly (`neighbour_keys` those a
person's possible duplicates share, `pairing_keys` the narrower ones the duplicate finder compares by); `tone_key`
is the accent-keeping name key. `MatchEngine.save` / `MatchEngine.load` keep an index on disk (`stored`;
`StoredIndexError` when a stored one cannot be used). Callers that compare text themselves use the shared fold and
phone rules of `lookup.domain.text`.
"""

from lookup.matching.blocking import blocking_keys, neighbour_keys, pairing_keys, query_blocking_keys
from lookup.matching.engine import MatchEngine, ScoredMatch, rank
from lookup.matching.normalise import tone_key
from lookup.matching.stored import StoredIndexError

__all__ = [
    "MatchEngine",
    "ScoredMatch",
    "StoredIndexError",
    "blocking_keys",
    "neighbour_keys",
    "pairing_keys",
    "query_blocking_keys",
    "rank",
    "tone_key",
]
