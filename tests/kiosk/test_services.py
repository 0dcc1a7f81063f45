"""What the app is handed: parts built once on first use, and the one way to read the trust-list file."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest

from kiosk.commands.doctor import check_trust_list
from kiosk.output import CommandError
from kiosk.services.lazy import Lazy
from kiosk.services.trust import TrustFile
from kiosk.settings import load_settings
from kiosk.wiring import build_services


def test_a_lazy_part_is_built_once_however_many_threads_ask() -> None:
    builds: list[int] = []

    def build() -> int:
        time.sleep(0.05)  # long enough for every thread to ask while the first one builds
        builds.append(1)
        return 42

    part = Lazy(build)
    assert part.built is None and not builds  # peeking never builds
    got: list[int] = []
    threads = [threading.Thread(target=lambda: got.append(part.get())) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert got == [42] * 8 and len(builds) == 1 and part.built == 42


def test_a_failed_build_is_tried_again_and_a_part_that_is_none_counts_as_built() -> None:
    attempts: list[int] = []

    def flaky() -> None:
        attempts.append(1)
        if len(attempts) == 1:
            raise OSError("disk not ready")

    part = Lazy(flaky)
    with pytest.raises(OSError):
        part.get()
    part.warm()
    part.get()
    assert len(attempts) == 2


def test_the_services_build_nothing_heavy_until_asked(tmp_path: Path) -> None:
    settings = load_settings(server="http://127.0.0.1:9/fhir", cache_dir=tmp_path / "cache", config_file=None)
    services = build_services(settings)
    parts = (services.lookup, services.reader, services.wedge, services.trust, services.cache)
    assert all(part.built is None for part in parts)
    assert not (tmp_path / "cache").exists()  # the cache is opened by the warm-up, not at start


@pytest.mark.parametrize(
    ("text", "words"),
    [
        (None, "does not exist"),
        ("{not json", "not valid JSON"),
        ('{"kty": "EC"}', "not a JWKS"),
    ],
)
def test_a_broken_trust_list_file_is_refused_in_words(tmp_path: Path, text: str | None, words: str) -> None:
    path = tmp_path / "trust.json"
    if text is not None:
        path.write_text(text, encoding="utf-8")
    with pytest.raises(CommandError, match=words) as caught:
        TrustFile.read(path)
    assert str(path) in str(caught.value)


def test_doctor_refuses_a_trust_list_the_app_could_not_use(tmp_path: Path) -> None:
    # The doctor used to count the `keys` and call an RSA key trusted; the app refuses it when it imports the keys.
    path = tmp_path / "trust.json"
    path.write_text(json.dumps({"keys": [{"kty": "RSA", "kid": "k1", "n": "AQAB", "e": "AQAB"}]}), encoding="utf-8")
    check = check_trust_list(load_settings(trust_list=path, config_file=None))
    assert check.status == "error" and "EC P-256" in check.detail
    with pytest.raises(CommandError, match="EC P-256"):
        TrustFile.read(path).trust_list()
