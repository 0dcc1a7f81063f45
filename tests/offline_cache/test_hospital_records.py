"""Records on a kiosk of the hospital: in this kiosk's cache when `put` returns, copied to the shared cache behind
it, kept while the shared cache is away and copied when it is back, the oldest dropped past the writer's capacity."""

from __future__ import annotations

import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from offline_cache import OfflineCache
from offline_cache.cluster import Cluster
from offline_cache.hospital import HospitalCache, SharedLink
from offline_cache.hospital.link import SharedRunner
from offline_cache.hospital.records import SharedWriter
from offline_cache.schema import migrate
from offline_cache.shared import SharedCache
from offline_cache.store import NewRecord

HOSPITAL_KEY = bytes(range(32))
HOUR = 3600.0


@pytest.fixture
def cluster() -> Iterator[Cluster]:
    """A server of this test's own, durable (the tests stop it as a crash would and start it again)."""
    folder = Path(tempfile.mkdtemp(prefix="kiosk-pg-records-"))
    folder.chmod(0o755)
    made = Cluster(folder / "pg")
    made.init()
    made.start()
    try:
        yield made
    finally:
        made.stop(immediate=True)
        shutil.rmtree(folder, ignore_errors=True)


def _link(cluster: Cluster, schema: str) -> SharedLink:
    return SharedLink(
        lambda: SharedCache.connect(cluster.dsn(), schema=schema, master_key=HOSPITAL_KEY, ttl_seconds=HOUR),
        "test",
        retry_seconds=0.2,
    )


def _kiosk(cluster: Cluster, schema: str, folder: Path) -> HospitalCache:
    local = OfflineCache.open(folder, key_file=folder.with_suffix(".key"), ttl_seconds=HOUR)
    return HospitalCache(local, _link(cluster, schema))


def test_a_record_is_local_at_once_and_shared_behind_it(cluster: Cluster, tmp_path: Path) -> None:
    schema = f"t_{uuid.uuid4().hex[:12]}"
    migrate(cluster.dsn(), schema)
    with _kiosk(cluster, schema, tmp_path / "er") as er:
        er.records.put("patient/p1", b"one", index_keys=["cccd:1"])
        assert er.local.records.get("patient/p1") is not None, "in this kiosk's cache when put returns"
        assert er.records.writer.flush(5.0)
    with _kiosk(cluster, schema, tmp_path / "reception") as reception:
        found = reception.records.find("cccd:1")
        assert [(r.key, r.payload) for r in found] == [("patient/p1", b"one")]
        reception.records.delete("patient/p1")
    with _kiosk(cluster, schema, tmp_path / "lobby") as lobby:
        assert lobby.records.get("patient/p1") is None, "a deletion reaches the shared cache in its turn"


def test_records_written_while_the_shared_cache_is_away_reach_it_when_it_is_back(
    cluster: Cluster, tmp_path: Path
) -> None:
    schema = f"t_{uuid.uuid4().hex[:12]}"
    migrate(cluster.dsn(), schema)
    with _kiosk(cluster, schema, tmp_path / "er") as er:
        cluster.stop(immediate=True)
        er.records.put("patient/p2", b"two", index_keys=["cccd:2"])
        assert er.records.get("patient/p2") is not None
        assert not er.records.writer.flush(1.0), "nothing can be copied while the database is down"
        cluster.start()
        assert er.records.writer.flush(15.0, while_away=True)
    with _kiosk(cluster, schema, tmp_path / "reception") as reception:
        found = reception.records.get("patient/p2")
        assert found is not None and found.payload == b"two"


def test_past_its_capacity_the_writer_drops_the_oldest(cluster: Cluster) -> None:
    schema = f"t_{uuid.uuid4().hex[:12]}"
    migrate(cluster.dsn(), schema)
    link = _link(cluster, schema)
    cluster.stop(immediate=True)
    writer = SharedWriter(SharedRunner(link), capacity=3, retry_seconds=0.1)
    try:
        for n in range(5):
            writer.submit(NewRecord(f"k{n}", b"x"))
        cluster.start()
        assert writer.flush(15.0, while_away=True)
        assert writer.dropped == 2
        shared = link.get()
        assert shared is not None
        assert [shared.records.get(f"k{n}") is not None for n in range(5)] == [False, False, True, True, True]
    finally:
        writer.close()
        link.close()
