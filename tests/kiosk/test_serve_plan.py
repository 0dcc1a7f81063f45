"""`kiosk serve`'s plan: the origin a browser sends, a fresh key at each start, and unsafe settings refused with a
sentence (the served behaviour itself is tested end to end in `tests/security/test_serve_attacks.py`)."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from kiosk.output import CommandError
from kiosk.serve.plan import plan_serving
from kiosk.settings import Settings, load_settings


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    for name in ("KIOSK_SERVE_SECRET", "KIOSK_SERVE_TLS_CERT", "KIOSK_SERVE_TLS_KEY", "KIOSK_SERVE_PUBLIC_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("KIOSK_CONFIG_FILE", str(tmp_path / "none.toml"))
    return load_settings()


def test_the_origin_is_what_the_browser_sends(settings: Settings) -> None:
    assert plan_serving(settings, "127.0.0.1", 8000).origin == "http://127.0.0.1:8000"
    assert plan_serving(settings, "::1", 8000).origin == "http://[::1]:8000"
    public = Settings.model_validate(settings.model_dump() | {"serve_public_url": "http://Kiosk-3.BV.local:80/"})
    assert plan_serving(public, "127.0.0.1", 8000).origin == "http://kiosk-3.bv.local"


def test_a_generated_key_is_new_at_each_start_and_shown_in_the_address(settings: Settings) -> None:
    first, second = plan_serving(settings, "127.0.0.1", 8000), plan_serving(settings, "127.0.0.1", 8000)
    assert first.secret != second.secret and len(first.secret) >= 40
    assert first.open_url == f"http://127.0.0.1:8000/?key={first.secret}"


def test_a_key_from_the_settings_is_never_printed_and_has_a_length_floor(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KIOSK_SERVE_SECRET", "0123456789abcdef-kiosk")
    plan = plan_serving(load_settings(), "127.0.0.1", 8000)
    assert plan.secret == "0123456789abcdef-kiosk" and plan.secret not in plan.open_url
    monkeypatch.setenv("KIOSK_SERVE_SECRET", "1234")
    with pytest.raises(ValidationError, match="serve_secret"):
        load_settings()


def test_tls_files_must_come_in_pairs_and_be_readable(settings: Settings, tmp_path: Path) -> None:
    (tmp_path / "cert.pem").write_text("not a certificate")
    half = Settings.model_validate(settings.model_dump() | {"serve_tls_cert": tmp_path / "cert.pem"})
    with pytest.raises(CommandError, match="set together"):
        plan_serving(half, "127.0.0.1", 8000)
    missing = Settings.model_validate(half.model_dump() | {"serve_tls_key": tmp_path / "nowhere.pem"})
    with pytest.raises(CommandError, match=r"serve_tls_key: .*nowhere\.pem is not a file"):
        plan_serving(missing, "127.0.0.1", 8000)
    broken = Settings.model_validate(half.model_dump() | {"serve_tls_key": tmp_path / "cert.pem"})
    with pytest.raises(CommandError, match="must be a PEM certificate and its private key"):
        plan_serving(broken, "127.0.0.1", 8000)
