"""Keys: a private key file made on first run, a passphrase through Argon2id (a cache made under the former scrypt
still opens), and clear errors for a wrong key or a damaged file that leave the data as it was."""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from offline_cache import DB_NAME, CacheCorruptError, CacheKeyError, OfflineCache, discard
from offline_cache.keys import CacheKeys
from tests.offline_cache.conftest import Opener


def test_first_run_creates_a_private_key_file(open_cache: Opener, tmp_path: Path) -> None:
    cache = open_cache()
    key = tmp_path / "key"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "cache").stat().st_mode) == 0o700
    cache.records.put("r", b"x")
    cache.close()
    again = open_cache()
    got = again.records.get("r")
    assert got is not None and got.payload == b"x"


def test_a_key_file_others_may_read_is_refused(open_cache: Opener, tmp_path: Path) -> None:
    open_cache().close()
    key = tmp_path / "key"
    key.chmod(0o644)
    with pytest.raises(CacheKeyError) as info:
        open_cache()
    assert str(key) in str(info.value) and "chmod 600" in str(info.value)


def test_a_wrong_key_file_is_a_clear_error_and_the_data_stays(open_cache: Opener, tmp_path: Path) -> None:
    cache = open_cache(key_file=tmp_path / "right.key")
    cache.records.put("patient/p1", b"kept")
    cache.outbox.append("audit", "a1", b"{}")
    cache.close()
    before = (tmp_path / "cache" / DB_NAME).read_bytes()
    wrong = tmp_path / "wrong.key"
    wrong.write_text(os.urandom(32).hex())
    wrong.chmod(0o600)
    with pytest.raises(CacheKeyError) as info:
        open_cache(key_file=wrong)
    assert str(wrong) in str(info.value) and DB_NAME in str(info.value)
    with pytest.raises(CacheKeyError, match="missing"):
        open_cache(key_file=tmp_path / "nowhere.key")
    assert not (tmp_path / "nowhere.key").exists()
    with pytest.raises(CacheKeyError, match="key file, not a passphrase"):
        open_cache(passphrase="guess")
    assert (tmp_path / "cache" / DB_NAME).read_bytes() == before
    good = open_cache(key_file=tmp_path / "right.key")
    got = good.records.get("patient/p1")
    assert got is not None and got.payload == b"kept"
    assert good.stats().outbox["queued"] == 1


def test_a_malformed_key_file_is_refused(open_cache: Opener, tmp_path: Path) -> None:
    bad = tmp_path / "bad.key"
    bad.write_text("not hex at all")
    bad.chmod(0o600)
    with pytest.raises(CacheKeyError, match="malformed"):
        open_cache(key_file=bad)


def test_a_passphrase_opens_the_cache_and_a_wrong_one_is_refused(open_cache: Opener, tmp_path: Path) -> None:
    cache = open_cache(passphrase="correct horse battery staple")
    cache.records.put("r", b"x")
    cache.close()
    assert not (tmp_path / "cache" / "key").exists()
    with pytest.raises(CacheKeyError, match="another key than the passphrase"):
        open_cache(passphrase="wrong horse battery staple")
    with pytest.raises(CacheKeyError, match="written under a passphrase"):
        open_cache()
    got = open_cache(passphrase="correct horse battery staple").records.get("r")
    assert got is not None and got.payload == b"x"


def test_a_damaged_file_is_a_corrupt_error_naming_it(tmp_path: Path) -> None:
    directory = tmp_path / "cache"
    directory.mkdir()
    path = directory / DB_NAME
    path.write_bytes(b"this is not an SQLite database" * 100)
    with pytest.raises(CacheCorruptError) as info:
        OfflineCache.open(directory, key_file=tmp_path / "key", ttl_seconds=60)
    assert str(path) in str(info.value)
    assert discard(directory) == [path]
    OfflineCache.open(directory, key_file=tmp_path / "key", ttl_seconds=60).close()


def test_a_damaged_page_is_a_corrupt_error(open_cache: Opener, tmp_path: Path) -> None:
    cache = open_cache()
    cache.records.put_many([])
    for i in range(300):
        cache.records.put(f"r{i}", os.urandom(200), index_keys=[f"k{i}"])
    path = cache.path
    cache.purge(all=False)
    cache.close()
    raw = bytearray(path.read_bytes())
    page = 4096
    for offset in range(2 * page, len(raw), page):  # keep page 1 (header, schema): damage every other page
        raw[offset : offset + 64] = b"\xa5" * 64
    path.write_bytes(bytes(raw))
    with pytest.raises(CacheCorruptError) as info:
        cache = open_cache()
        for i in range(300):
            cache.records.get(f"r{i}")
            cache.records.find(f"k{i}")
    assert str(path) in str(info.value)


def _rewrite_meta(path: Path, **values: bytes | None) -> None:
    conn = sqlite3.connect(path)
    try:
        for name, value in values.items():
            conn.execute("DELETE FROM meta WHERE name = ?", (name,))
            if value is not None:
                conn.execute("INSERT INTO meta VALUES (?, ?)", (name, value))
        conn.commit()
    finally:
        conn.close()


def test_a_cache_made_under_the_former_scrypt_still_opens_with_its_parameters(
    open_cache: Opener, tmp_path: Path
) -> None:
    phrase = "correct horse battery staple"
    open_cache(passphrase=phrase).close()
    # What the earlier version wrote: the salt alone, the key check of scrypt N=2^15.
    salt = os.urandom(16)
    master = Scrypt(salt=salt, length=32, n=2**15, r=8, p=1).derive(phrase.encode())
    _rewrite_meta(
        tmp_path / "cache" / DB_NAME, kdf=None, kdf_salt=salt, key_check=CacheKeys.from_master(master).check_value()
    )
    cache = open_cache(passphrase=phrase)
    cache.records.put("r", b"x")
    cache.close()
    got = open_cache(passphrase=phrase).records.get("r")
    assert got is not None and got.payload == b"x"
    with pytest.raises(CacheKeyError, match="another key than the passphrase"):
        open_cache(passphrase="wrong horse battery staple")


def test_doctored_kdf_parameters_are_refused_before_any_work(open_cache: Opener, tmp_path: Path) -> None:
    phrase = "correct horse battery staple"
    open_cache(passphrase=phrase).close()
    path = tmp_path / "cache" / DB_NAME
    with contextlib.closing(sqlite3.connect(path)) as conn:
        kdf = json.loads(conn.execute("SELECT value FROM meta WHERE name = 'kdf'").fetchone()[0])
    _rewrite_meta(path, kdf=json.dumps(kdf | {"memory_kib": 2**30}).encode())
    with pytest.raises(CacheCorruptError, match="out of bounds"):
        open_cache(passphrase=phrase)
