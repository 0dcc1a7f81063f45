"""The matching index on disk: one `.npz` file of plain arrays, written atomically, read back only when it is whole
and was made by the same engine from the same data.

No pickle anywhere: a file lying beside a database must never be able to run code. The file holds each person's
columns (`index.COLUMNS`), the keys (one UTF-8 blob and where each key ends), the name counts, and two JSON
documents stored as bytes: the vocabularies (names with their accent spellings, provinces) and the manifest (format,
engine version, the caller's fingerprint of the data it was made from, and a SHA-256 over every other part). The
blocking indexes are not stored: they follow from the columns and are sorted again on reading (about a second per
million people), so no file can make them disagree with the people they index.

Reading checks the manifest, the digest, and then every value that is later used as an index (name ids, key ends,
province ids) before anything is handed to the engine; any doubt raises `StoredIndexError` and the caller rebuilds.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
import zipfile
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from lookup.domain import model, provinces, text
from lookup.matching.index import COLUMN_TYPES, COLUMNS
from lookup.matching.prepare import Vocabularies
from lookup.matching.vocab import PROVINCE_LIMIT, Vocabulary
from lookup.matching.weights import WEIGHTS_FILE

FORMAT: Final = "kiosk-match-index/1"
_NAMES: Final = ("given", "family", "middle")
_KEYS: Final = "keys"
_KEY_ENDS: Final = "key_ends"
_VOCABULARIES: Final = "vocabularies"
_MANIFEST: Final = "manifest"
_MEMBERS: Final = frozenset((*COLUMNS, _KEYS, _KEY_ENDS, _VOCABULARIES, *(f"{n}_counts" for n in _NAMES)))
_KEY_END_TYPE: Final = np.dtype(np.int32)


class StoredIndexError(ValueError):
    """A stored index that cannot be used: missing, made by another engine or from other data, or damaged."""


@dataclass(frozen=True, slots=True)
class IndexParts:
    """Everything a `MatchEngine` is made of, apart from its weights and blocking indexes."""

    columns: dict[str, npt.NDArray[Any]]
    keys: bytes
    key_ends: npt.NDArray[np.int32]
    vocabularies: Vocabularies

    @property
    def size(self) -> int:
        return len(self.key_ends)


@lru_cache(maxsize=1)
def engine_version() -> str:
    """Changes whenever the code or data that decides what the stored columns mean changes: the matching package,
    its weights, and the text fold, provinces and demographics model it reads people with."""
    digest = hashlib.sha256()
    package = Path(__file__).parent
    sources = [*sorted(package.glob("*.py")), WEIGHTS_FILE, *(Path(str(m.__file__)) for m in (text, provinces, model))]
    for source in sources:
        digest.update(source.name.encode("utf-8"))
        digest.update(source.read_bytes())
    return digest.hexdigest()[:20]


def write(path: Path, parts: IndexParts, fingerprint: str) -> None:
    """Write the index to `path` atomically (a new temporary file beside it, then renamed), readable by its owner
    only (it holds personal data, as the database does)."""
    arrays: dict[str, npt.NDArray[Any]] = {name: np.ascontiguousarray(parts.columns[name]) for name in COLUMNS}
    arrays[_KEYS] = np.frombuffer(parts.keys, dtype=np.uint8)
    arrays[_KEY_ENDS] = np.ascontiguousarray(parts.key_ends, dtype=_KEY_END_TYPE)
    vocabularies = parts.vocabularies
    document: dict[str, Any] = {"provinces": vocabularies.provinces}
    for name in _NAMES:
        vocabulary: Vocabulary = getattr(vocabularies, name)
        document[name] = {"names": vocabulary.names, "spellings": vocabulary.spellings()}
        arrays[f"{name}_counts"] = np.array(vocabulary.counts, dtype=np.int64)
    arrays[_VOCABULARIES] = _json_bytes(document)
    manifest = {
        "format": FORMAT,
        "engine": engine_version(),
        "fingerprint": fingerprint,
        "people": parts.size,
        "digest": _digest(arrays),
    }
    arrays[_MANIFEST] = _json_bytes(manifest)
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".partial")
    try:
        with os.fdopen(descriptor, "wb") as handle:
            # The layout of `np.savez` (one `.npy` per member in a zip), written here to say: stored, never pickle.
            with zipfile.ZipFile(handle, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as archive:
                for name, array in arrays.items():
                    with archive.open(f"{name}.npy", "w", force_zip64=True) as member:
                        np.lib.format.write_array(member, array, allow_pickle=False)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)


def read(path: Path, fingerprint: str) -> IndexParts:
    """The parts stored at `path`, when the file is whole, was written by this engine version, and was made from
    data with this `fingerprint`; `StoredIndexError` saying why not otherwise (never the data itself)."""
    if not path.is_file():
        raise StoredIndexError("there is no stored index")
    try:
        return _read(path, fingerprint)
    except StoredIndexError:
        raise
    except Exception as exc:  # a damaged file fails in zip, numpy or json code; each means the same here
        raise StoredIndexError(f"the stored index is damaged ({type(exc).__name__})") from None


def _read(path: Path, fingerprint: str) -> IndexParts:
    archive = np.load(path, allow_pickle=False)
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise StoredIndexError("the stored index is not an index archive")
    with archive:
        if archive.zip is None:
            raise StoredIndexError("the stored index is not an index archive")
        for entry in archive.zip.infolist():
            # Stored members only: nothing is inflated, so reading never takes more memory than the file's size.
            if entry.compress_type != zipfile.ZIP_STORED or entry.compress_size != entry.file_size:
                raise StoredIndexError("the stored index has compressed parts")
        if len(archive.files) != len(_MEMBERS) + 1 or set(archive.files) != _MEMBERS | {_MANIFEST}:
            raise StoredIndexError("the stored index does not have the expected parts")
        manifest = _json_of(archive[_MANIFEST])
        if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
            raise StoredIndexError("the stored index is in another format")
        if manifest.get("engine") != engine_version():
            raise StoredIndexError("the stored index was made by another version of the matching engine")
        if manifest.get("fingerprint") != fingerprint:
            raise StoredIndexError("the stored index was made from other data")
        arrays = {name: archive[name] for name in _MEMBERS}
    if manifest.get("digest") != _digest(arrays):
        raise StoredIndexError("the stored index does not match its digest")
    people = manifest.get("people")
    if not isinstance(people, int) or people < 0:
        raise StoredIndexError("the stored index does not say how many people it holds")
    return _checked(arrays, people)


def _checked(arrays: dict[str, npt.NDArray[Any]], people: int) -> IndexParts:
    """The parts, once every array has its type and length and every id points inside what it refers to."""
    for name in COLUMNS:
        column = arrays[name]
        if column.dtype != COLUMN_TYPES[name] or column.shape != (people,):
            raise StoredIndexError(f"the stored column {name} has the wrong type or length")
    ends, keys = arrays[_KEY_ENDS], arrays[_KEYS]
    if ends.dtype != _KEY_END_TYPE or ends.shape != (people,) or keys.dtype != np.uint8 or keys.ndim != 1:
        raise StoredIndexError("the stored keys have the wrong type or length")
    if people and (int(ends[0]) < 0 or np.any(np.diff(ends) < 0) or int(ends[-1]) != len(keys)):
        raise StoredIndexError("the stored key ends are out of order")
    if not people and len(keys):
        raise StoredIndexError("the stored keys have the wrong length")
    blob = keys.tobytes()
    try:
        blob.decode("utf-8")
    except UnicodeDecodeError:
        raise StoredIndexError("the stored keys are not UTF-8 text") from None
    inner = ends[ends < len(keys)]
    if np.any((keys[inner] & 0xC0) == 0x80):
        raise StoredIndexError("a stored key ends inside a character")
    document = _json_of(arrays[_VOCABULARIES])
    if not isinstance(document, dict):
        raise StoredIndexError("the stored vocabularies are not a JSON object")
    vocabularies = Vocabularies(
        given=_vocabulary(document, arrays, "given"),
        family=_vocabulary(document, arrays, "family"),
        middle=_vocabulary(document, arrays, "middle"),
        provinces=_provinces(document.get("provinces")),
    )
    for name in _NAMES:
        ids, size = arrays[name], len(getattr(vocabularies, name))
        if people and (int(ids.min()) < 0 or int(ids.max()) >= size):
            raise StoredIndexError(f"a stored {name} name id points outside its vocabulary")
    province = arrays["province"]
    if people and (int(province.min()) < 0 or int(province.max()) > PROVINCE_LIMIT):
        raise StoredIndexError("a stored province id is out of range")
    return IndexParts(
        columns={name: arrays[name] for name in COLUMNS}, keys=blob, key_ends=ends, vocabularies=vocabularies
    )


def _vocabulary(document: dict[str, Any], arrays: dict[str, npt.NDArray[Any]], name: str) -> Vocabulary:
    part = document.get(name)
    counts = arrays[f"{name}_counts"]
    if not isinstance(part, dict) or counts.dtype != np.int64 or counts.ndim != 1:
        raise StoredIndexError(f"the stored {name} vocabulary is malformed")
    names, spellings = part.get("names"), part.get("spellings")
    if not (isinstance(names, list) and isinstance(spellings, list) and all(isinstance(s, list) for s in spellings)):
        raise StoredIndexError(f"the stored {name} vocabulary is malformed")
    try:
        return Vocabulary.restore(names, counts.tolist(), spellings)
    except ValueError as exc:
        raise StoredIndexError(f"the stored {name} vocabulary is malformed: {exc}") from None


def _provinces(value: object) -> dict[str, int]:
    if not isinstance(value, dict):
        raise StoredIndexError("the stored provinces are malformed")
    for key, number in value.items():
        if not isinstance(key, str) or not isinstance(number, int) or not 1 <= number <= PROVINCE_LIMIT:
            raise StoredIndexError("the stored provinces are malformed")
    return dict(value)


def _digest(arrays: dict[str, npt.NDArray[Any]]) -> str:
    digest = hashlib.sha256()
    for name in sorted(arrays):
        array = np.ascontiguousarray(arrays[name])
        digest.update(f"{name}|{array.dtype.str}|{array.shape}|".encode())
        digest.update(array.data.cast("B"))
    return digest.hexdigest()


def _json_bytes(document: object) -> npt.NDArray[np.uint8]:
    return np.frombuffer(json.dumps(document, ensure_ascii=False).encode("utf-8"), dtype=np.uint8)


def _json_of(array: npt.NDArray[Any]) -> Any:
    if array.dtype != np.uint8 or array.ndim != 1:
        raise StoredIndexError("a stored JSON part has the wrong type")
    return json.loads(array.tobytes().decode("utf-8"))
