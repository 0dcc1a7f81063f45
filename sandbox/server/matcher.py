"""Who answers `$match`: the product's matching engine (`lookup.matching`), and `SimpleMatcher` until it is built.

The engine is built in a background thread from every stored Patient, so the server starts serving at once; until
the engine is ready (or when it failed to build) the simple ranking answers.
"""

from __future__ import annotations

import logging
import threading

import orjson

from lookup.domain.model import Demographics
from lookup.domain.provinces import current_province
from lookup.fhir.patient import demographics_of
from lookup.matching import MatchEngine
from sandbox.server.simple_match import SimpleMatcher
from sandbox.server.storage import Store

log = logging.getLogger("sandbox")


def with_current_province(person: Demographics) -> Demographics:
    """The same person with the province as the current (34-unit) name, whichever form was given."""
    if not person.province:
        return person
    found = current_province(person.province)
    return person.model_copy(update={"province": found.name if found else person.province})


class Matching:
    """The `$match` ranking of one sandbox."""

    def __init__(self, store: Store, *, use_engine: bool = True) -> None:
        self.simple = SimpleMatcher(store)
        self._store = store
        self._engine: MatchEngine | None = None
        self._population = 0
        self._thread: threading.Thread | None = None
        self._closing = threading.Event()
        if use_engine:
            self._thread = threading.Thread(target=self._build, name="sandbox-match-engine", daemon=True)
            self._thread.start()

    @property
    def engine_ready(self) -> bool:
        return self._engine is not None

    def wait_ready(self, timeout: float | None = None) -> bool:
        if self._thread is not None:
            self._thread.join(timeout)
        return self.engine_ready

    def _build(self) -> None:
        try:
            engine = MatchEngine()
            for batch in self._store.all_patients():
                if self._closing.is_set():
                    return
                engine.add_many(
                    (pid, with_current_province(demographics_of(orjson.loads(data)))) for pid, data in batch
                )
            self._population = len(engine)
            self._engine = engine
        except Exception:
            if not self._closing.is_set():
                log.exception("the matching engine could not be built; $match uses the simple ranking")

    def close(self) -> None:
        """Stop building the engine (the store is about to close)."""
        self._closing.set()
        if self._thread is not None:
            self._thread.join(timeout=30)

    def search(self, query: Demographics, limit: int) -> list[tuple[str, float, str]]:
        """(patient id, score 0..1, match grade) best first."""
        query = with_current_province(query)
        engine = self._engine
        if engine is None:
            return self.simple.search(query, limit)
        try:
            found = engine.search(query, limit=limit)
            return [(str(m.key), float(m.score), m.grade.value) for m in found]
        except Exception:
            log.exception("the matching engine failed on a query; the simple ranking answers it")
            return self.simple.search(query, limit)
