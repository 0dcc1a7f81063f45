"""The record store behaves like a dictionary with expiry, whatever the sequence of puts, deletes and clock moves."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from offline_cache import OfflineCache
from tests.offline_cache.conftest import Clock

TTL = 100.0
KEYS = st.sampled_from(["a", "b", "c", "ä/1", "patient/001190012345"])
INDEX = st.lists(st.sampled_from(["i1", "i2", "i3"]), max_size=3)
OPS = st.one_of(
    st.tuples(st.just("put"), KEYS, st.binary(max_size=64), INDEX),
    st.tuples(st.just("delete"), KEYS),
    st.tuples(st.just("wait"), st.floats(min_value=0, max_value=TTL * 0.7)),
)


@settings(max_examples=60, deadline=None)
@given(st.lists(OPS, max_size=25))
def test_the_store_matches_a_dictionary_with_expiry(ops: list[tuple[object, ...]]) -> None:
    clock = Clock()
    model: dict[str, tuple[bytes, set[str], float]] = {}
    with (
        tempfile.TemporaryDirectory() as tmp,
        OfflineCache.open(Path(tmp) / "cache", key_file=Path(tmp) / "key", ttl_seconds=TTL, clock=clock) as cache,
    ):
        for op in ops:
            if op[0] == "put":
                _, key, payload, index = op
                assert isinstance(key, str) and isinstance(payload, bytes) and isinstance(index, list)
                cache.records.put(key, payload, index_keys=index)
                model[key] = (payload, set(index), clock())
            elif op[0] == "delete":
                assert isinstance(op[1], str)
                cache.records.delete(op[1])
                model.pop(op[1], None)
            else:
                assert isinstance(op[1], float)
                clock.advance(op[1])
            live = {k: v for k, v in model.items() if v[2] > clock() - TTL}
            for key in ("a", "b", "c", "ä/1", "patient/001190012345"):
                got = cache.records.get(key)
                assert (got.payload if got else None) == (live[key][0] if key in live else None)
            for index_key in ("i1", "i2", "i3"):
                found = sorted(r.key for r in cache.records.find(index_key))
                assert found == sorted(k for k, v in live.items() if index_key in v[1])
            assert cache.stats().records == len(live)
