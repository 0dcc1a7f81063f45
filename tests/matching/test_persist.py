"""The matching index on disk: a saved and loaded engine answers exactly as the one that was saved; a file made from
other data, by another engine version, damaged, altered or crafted is refused with `StoredIndexError` (the caller
then rebuilds), never loaded with wrong data and never able to run code."""

from __future__ import annotations

import os
import pickle
import random
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

from lookup.domain.model import Demographics
from lookup.matching import MatchEngine, ScoredMatch, StoredIndexError, stored
from sandbox.synthetic.population import SyntheticPerson, generate_people
from testkit.queries import make_queries, typo

SEED = 23
SIZE = 3000
FINGERPRINT = "people-of-test-persist"
Answer = list[tuple[str, float, str, tuple[Any, ...]]]


@pytest.fixture(scope="module")
def people() -> list[SyntheticPerson]:
    return list(generate_people(SIZE + 150, SEED))


@pytest.fixture(scope="module")
def engine(people: list[SyntheticPerson]) -> MatchEngine:
    built = MatchEngine()
    built.add_many((p.patient_id, p.demographics()) for p in people[:SIZE])
    return built


@pytest.fixture(scope="module")
def saved(engine: MatchEngine, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("index") / "sandbox-match-index.npz"
    engine.save(path, fingerprint=FINGERPRINT)
    return path


@pytest.fixture
def copy(saved: Path, tmp_path: Path) -> Iterator[Path]:
    """A copy of the saved index this test may damage."""
    target = tmp_path / saved.name
    target.write_bytes(saved.read_bytes())
    yield target


def _queries(people: list[SyntheticPerson]) -> list[Demographics]:
    rng = random.Random(5)
    queries = [q.demographics for q in make_queries(people[:SIZE], people[SIZE:], 400)]
    for person in people[:200]:
        typed = person.demographics()
        queries.append(typed.model_copy(update={"given": typo(person.given, rng)}))
        queries.append(Demographics(family=person.family, given=person.given))
        queries.append(Demographics(birth_date=person.birth_date, province=person.card_province))
    return queries


def _answers(engine: MatchEngine, queries: list[Demographics]) -> list[Answer]:
    def one(found: list[ScoredMatch]) -> Answer:
        return [(m.key, m.score, m.grade.value, m.agreements) for m in found]

    return [one(engine.search(query, limit=10)) for query in queries]


def test_a_loaded_engine_answers_exactly_as_the_saved_one(
    engine: MatchEngine, saved: Path, people: list[SyntheticPerson]
) -> None:
    loaded = MatchEngine.load(saved, fingerprint=FINGERPRINT)
    queries = _queries(people)
    assert len(loaded) == len(engine) == SIZE
    assert loaded.nbytes == engine.nbytes
    assert _answers(loaded, queries) == _answers(engine, queries)
    query = people[7].demographics()
    assert loaded.rank_all(query, 1_000_000, limit=20) == engine.rank_all(query, 1_000_000, limit=20)


def test_a_loaded_engine_takes_more_people_as_the_saved_one_would(saved: Path, people: list[SyntheticPerson]) -> None:
    grown = MatchEngine()
    grown.add_many((p.patient_id, p.demographics()) for p in people[:SIZE])
    loaded = MatchEngine.load(saved, fingerprint=FINGERPRINT)
    newcomers = [(p.patient_id, p.demographics()) for p in people[SIZE : SIZE + 50]]
    grown.add_many(newcomers)
    loaded.add_many(newcomers)
    queries = [person.demographics() for person in people[SIZE - 20 : SIZE + 50]]
    assert _answers(loaded, queries) == _answers(grown, queries)
    assert loaded.search(people[SIZE + 3].demographics(), limit=1)[0].key == people[SIZE + 3].patient_id


def test_the_file_is_replaced_whole_and_kept_private(engine: MatchEngine, tmp_path: Path) -> None:
    path = tmp_path / "index.npz"
    path.write_bytes(b"an older, broken index")
    engine.save(path, fingerprint=FINGERPRINT)
    engine.save(path, fingerprint=FINGERPRINT)
    assert [p.name for p in tmp_path.iterdir()] == ["index.npz"]  # no partial file left behind
    assert path.stat().st_mode & 0o777 == 0o600
    with zipfile.ZipFile(path) as archive:
        assert all(entry.compress_type == zipfile.ZIP_STORED for entry in archive.infolist())
    assert len(MatchEngine.load(path, fingerprint=FINGERPRINT)) == SIZE


def test_an_empty_engine_round_trips(tmp_path: Path) -> None:
    path = tmp_path / "empty.npz"
    MatchEngine().save(path, fingerprint="nobody")
    loaded = MatchEngine.load(path, fingerprint="nobody")
    assert len(loaded) == 0 and loaded.search(Demographics(family="Nguyễn"), limit=5) == []


def test_an_index_of_other_data_is_refused(saved: Path) -> None:
    with pytest.raises(StoredIndexError, match="other data"):
        MatchEngine.load(saved, fingerprint="another database")


def test_an_index_of_another_engine_version_is_refused(saved: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(stored, "engine_version", lambda: "a later engine")
    with pytest.raises(StoredIndexError, match="another version"):
        MatchEngine.load(saved, fingerprint=FINGERPRINT)


def test_a_missing_index_is_refused(tmp_path: Path) -> None:
    with pytest.raises(StoredIndexError, match="no stored index"):
        MatchEngine.load(tmp_path / "absent.npz", fingerprint=FINGERPRINT)


def _members(path: Path) -> dict[str, npt.NDArray[Any]]:
    with np.load(path, allow_pickle=False) as archive:
        return {name: archive[name] for name in archive.files}


def _archive(
    path: Path, members: dict[str, npt.NDArray[Any]], *, compression: int = zipfile.ZIP_STORED, pickled: bool = False
) -> None:
    """Write `members` as `np.savez` would (compressed, or with pickled object arrays, when asked)."""
    with zipfile.ZipFile(path, "w", compression=compression) as archive:
        for name, array in members.items():
            with archive.open(f"{name}.npy", "w") as member:
                np.lib.format.write_array(member, array, allow_pickle=pickled)


def _rewrite(path: Path, change: Callable[[dict[str, npt.NDArray[Any]]], None]) -> None:
    """Rewrite the archive with `change` applied to its members, keeping the manifest (and so its digest)."""
    members = _members(path)
    change(members)
    _archive(path, members)


def _flip_middle_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x5A
    path.write_bytes(bytes(data))


def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def _change_a_birth_year(members: dict[str, npt.NDArray[Any]]) -> None:
    members["year"] = members["year"].copy()
    members["year"][10] += 1


def _drop_a_part(members: dict[str, npt.NDArray[Any]]) -> None:
    del members["phone"]


def _add_a_part(members: dict[str, npt.NDArray[Any]]) -> None:
    members["extra"] = np.zeros(3, dtype=np.int8)


def _save_one_array(path: Path) -> None:
    with path.open("wb") as handle:
        np.save(handle, np.arange(10))


DAMAGE: dict[str, Callable[[Path], object]] = {
    "empty": lambda path: path.write_bytes(b""),
    "text": lambda path: path.write_text("not an index", encoding="utf-8"),
    "random bytes": lambda path: path.write_bytes(os.urandom(4096)),
    "truncated": _truncate,
    "one byte flipped": _flip_middle_byte,
    "a value changed behind the digest": lambda path: _rewrite(path, _change_a_birth_year),
    "a part missing": lambda path: _rewrite(path, _drop_a_part),
    "a part added": lambda path: _rewrite(path, _add_a_part),
    "compressed": lambda path: _archive(path, _members(path), compression=zipfile.ZIP_DEFLATED),
    "a single array": lambda path: _save_one_array(path),
}


@pytest.mark.parametrize("damage", DAMAGE.values(), ids=DAMAGE.keys())
def test_a_damaged_or_altered_index_is_refused(copy: Path, damage: Callable[[Path], object]) -> None:
    damage(copy)
    with pytest.raises(StoredIndexError):
        MatchEngine.load(copy, fingerprint=FINGERPRINT)


RAN: list[str] = []


def _record(note: str) -> None:
    RAN.append(note)


class _Payload:
    """What an attacker would pickle: unpickling it calls a function of their choice."""

    def __reduce__(self) -> tuple[Callable[[str], None], tuple[str]]:
        return _record, ("code ran while loading the index",)


def test_a_pickle_beside_the_database_never_runs(saved: Path, tmp_path: Path) -> None:
    as_pickle = tmp_path / "pickled.npz"
    as_pickle.write_bytes(pickle.dumps(_Payload()))
    as_object_array = tmp_path / "object-array.npz"
    members = _members(saved)  # a valid manifest, so the reader gets as far as the booby-trapped part
    members["vocabularies"] = np.array([_Payload()], dtype=object)
    _archive(as_object_array, members, pickled=True)
    for path in (as_pickle, as_object_array):
        with pytest.raises(StoredIndexError):
            MatchEngine.load(path, fingerprint=FINGERPRINT)
    assert RAN == []


def _crafted(saved: Path, tmp_path: Path, change: Callable[[stored.IndexParts], stored.IndexParts]) -> Path:
    """An index written with a valid digest and manifest but inconsistent contents: what someone who can write
    beside the database could craft."""
    parts = stored.read(saved, FINGERPRINT)
    path = tmp_path / "crafted.npz"
    stored.write(path, change(parts), FINGERPRINT)
    return path


def _with_column(parts: stored.IndexParts, name: str, values: npt.NDArray[Any]) -> stored.IndexParts:
    return stored.IndexParts({**parts.columns, name: values}, parts.keys, parts.key_ends, parts.vocabularies)


CRAFTED: dict[str, Callable[[stored.IndexParts], stored.IndexParts]] = {
    "a name id outside its vocabulary": lambda parts: _with_column(
        parts, "given", np.full(SIZE, 10_000_000, dtype=np.int32)
    ),
    "a negative name id": lambda parts: _with_column(parts, "family", np.full(SIZE, -1, dtype=np.int32)),
    "a province id out of range": lambda parts: _with_column(parts, "province", np.full(SIZE, -4, dtype=np.int16)),
    "a column of another type": lambda parts: _with_column(parts, "year", parts.columns["year"].astype(np.int64)),
    "a column of another length": lambda parts: _with_column(parts, "sex", parts.columns["sex"][:-1]),
    "key ends out of order": lambda parts: stored.IndexParts(
        parts.columns, parts.keys, parts.key_ends[::-1].copy(), parts.vocabularies
    ),
    "keys that are not text": lambda parts: stored.IndexParts(
        parts.columns, b"\xff" * len(parts.keys), parts.key_ends, parts.vocabularies
    ),
}


@pytest.mark.parametrize("change", CRAFTED.values(), ids=CRAFTED.keys())
def test_a_crafted_index_with_a_valid_digest_is_refused(
    saved: Path, tmp_path: Path, change: Callable[[stored.IndexParts], stored.IndexParts]
) -> None:
    with pytest.raises(StoredIndexError):
        MatchEngine.load(_crafted(saved, tmp_path, change), fingerprint=FINGERPRINT)


def test_crafted_vocabularies_are_refused(saved: Path, tmp_path: Path) -> None:
    def repeated_name(parts: stored.IndexParts) -> stored.IndexParts:
        given = parts.vocabularies.given
        given.names[2] = given.names[1]
        return parts

    with pytest.raises(StoredIndexError, match="given vocabulary"):
        MatchEngine.load(_crafted(saved, tmp_path, repeated_name), fingerprint=FINGERPRINT)
