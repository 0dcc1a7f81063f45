"""Who answers `$match`: the product's matching engine (`lookup.matching`), loaded from the index stored beside the
database or built from every stored Patient.

The engine is prepared in a background thread while the server already listens; until it is ready, the readiness
gate (`sandbox.server.readiness`) answers every FHIR route 503, so no answer ever comes from a weaker ranking while
the server claims to be ready. After the first build the index is stored beside the database
(`<db stem>-match-index.npz`, plain arrays and JSON, no pickle) and later starts load it when it was made from the
same Patients by the same engine and the same reading of them; anything else (another database, another engine
version, a damaged or altered file) is rebuilt and stored again. A restart over a million people is then ready in
seconds instead of rebuilding for a minute or more.

If the engine cannot be built, the server says so rather than quietly serving less: the error is logged, the
CapabilityStatement stops offering `$match`, and only a client that calls it anyway gets the `SimpleMatcher` ranking.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from functools import lru_cache
from pathlib import Path

import orjson

from lookup.domain.model import Demographics
from lookup.domain.provinces import current_province
from lookup.fhir import patient as patient_reader
from lookup.fhir.patient import demographics_of
from lookup.matching import MatchEngine, StoredIndexError
from sandbox.server.simple_match import SimpleMatcher
from sandbox.server.storage import Store

log = logging.getLogger("sandbox")


def with_current_province(person: Demographics) -> Demographics:
    """The same person with the province as the current (34-unit) name, whichever form was given."""
    if not person.province:
        return person
    found = current_province(person.province)
    return person.model_copy(update={"province": found.name if found else person.province})


def index_path_for(database: Path) -> Path:
    """Where the matching index of the database at `database` is stored."""
    return database.with_name(f"{database.stem}-match-index.npz")


@lru_cache(maxsize=1)
def _reader_version() -> str:
    """Changes with the code that turns a stored Patient into what the engine indexes."""
    digest = hashlib.sha256()
    for source in (Path(__file__), Path(str(patient_reader.__file__))):
        digest.update(source.read_bytes())
    return digest.hexdigest()[:16]


class Matching:
    """The `$match` ranking of one sandbox: the engine once loaded or built, the simple ranking only if that failed.

    `ready` says whether preparing is over (either way); until then `search` waits rather than answer worse.
    """

    def __init__(self, store: Store) -> None:
        self.simple = SimpleMatcher(store)
        self._store = store
        self.index_path = index_path_for(store.path)
        self._engine: MatchEngine | None = None
        self._failed = False
        self.prepared_by: str | None = None
        """`loaded` (from the stored index) or `built` (from the database), once ready."""
        self.prepare_seconds: float | None = None
        self._settled = threading.Event()
        self._closing = threading.Event()
        self._thread = threading.Thread(target=self._prepare, name="sandbox-match-engine", daemon=True)
        self._thread.start()

    @property
    def ready(self) -> bool:
        """Preparing is over: the engine answers, or building it failed (and `$match` is no longer offered)."""
        return self._settled.is_set()

    @property
    def engine_ready(self) -> bool:
        return self._engine is not None

    @property
    def failed(self) -> bool:
        """Building the engine failed; the error was logged."""
        return self._failed

    def wait_ready(self, timeout: float | None = None) -> bool:
        """Wait until preparing is over (or `timeout` seconds); whether the engine answers."""
        self._settled.wait(timeout)
        return self.engine_ready

    def close(self) -> None:
        """Stop preparing the engine (the store is about to close)."""
        self._closing.set()
        self._thread.join(timeout=30)

    def _prepare(self) -> None:
        started = time.perf_counter()
        try:
            fingerprint = f"{self._store.patients_fingerprint()}:{_reader_version()}"
            engine, how = self._load(fingerprint), "loaded"
            if engine is None:
                engine, how = self._build(), "built"
                if engine is None:
                    return
                self._save(engine, fingerprint)
            self._engine = engine
            self.prepared_by = how
            self.prepare_seconds = time.perf_counter() - started
            log.info("matching engine %s: %d people in %.1f s", how, len(engine), self.prepare_seconds)
        except Exception:
            if not self._closing.is_set():
                self._failed = True
                log.exception("the matching engine could not be built; $match is no longer offered")
        finally:
            self._settled.set()

    def _load(self, fingerprint: str) -> MatchEngine | None:
        try:
            return MatchEngine.load(self.index_path, fingerprint=fingerprint)
        except StoredIndexError as exc:
            # The reasons name what is wrong with the file, never what it holds.
            level = logging.INFO if not self.index_path.exists() else logging.WARNING
            log.log(level, "matching index %s not used (%s); building it from the database", self.index_path, exc)
            return None

    def _build(self) -> MatchEngine | None:
        engine = MatchEngine()
        for batch in self._store.all_patients():
            if self._closing.is_set():
                return None
            engine.add_many((pid, with_current_province(demographics_of(orjson.loads(data)))) for pid, data in batch)
        return engine

    def _save(self, engine: MatchEngine, fingerprint: str) -> None:
        if self._closing.is_set():
            return
        try:
            engine.save(self.index_path, fingerprint=fingerprint)
        except OSError as exc:
            # The built engine serves all the same; only the next start rebuilds.
            log.warning("matching index %s not stored (%s)", self.index_path, exc.strerror or type(exc).__name__)

    def search(self, query: Demographics, limit: int) -> list[tuple[str, float, str]]:
        """(patient id, score 0..1, match grade) best first."""
        query = with_current_province(query)
        self._settled.wait()  # the readiness gate keeps requests away until then; this guards any other caller
        engine = self._engine
        if engine is None:
            return self.simple.search(query, limit)
        found = engine.search(query, limit=limit)
        return [(str(m.key), float(m.score), m.grade.value) for m in found]
