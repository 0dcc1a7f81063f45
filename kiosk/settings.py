"""Typed settings: defaults, then a TOML file in the platform config dir, then `KIOSK_*` environment variables.

One `Settings` object is built by `load_settings()` and passed down; nothing else reads the environment.
"""

from __future__ import annotations

import hashlib
import os
import re
import socket
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Literal

import platformdirs
from pydantic import AfterValidator, AnyHttpUrl, Field, SecretStr
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from kiosk.output import CommandError
from lookup import is_pin_hash

APP_NAME = "kiosk-patient-lookup"


class Mode(StrEnum):
    """Where the kiosk stands, which decides what it may show and keep."""

    ER = "er"
    RECEPTION = "reception"
    LOBBY = "lobby"


def _pin_hash(value: str | None) -> str | None:
    if value is not None and not is_pin_hash(value):
        raise ValueError("must be a PIN hash as `kiosk staff hash-pin` prints it (scrypt$N$r$p$salt$hash)")
    return value


def default_config_file() -> Path:
    return Path(platformdirs.user_config_dir(APP_NAME)) / "settings.toml"


def default_cache_dir() -> Path:
    return Path(platformdirs.user_cache_dir(APP_NAME))


def default_key_file(cache_dir: Path) -> Path:
    """The key file of a cache folder where no OS keyring is usable: in the user's data folder, never in the cache
    folder; one per cache folder (named after it), as the keyring keeps one entry per folder."""
    resolved = cache_dir.resolve()
    tag = hashlib.sha256(str(resolved).encode("utf-8")).hexdigest()[:12]
    return Path(platformdirs.user_data_dir(APP_NAME)) / "keys" / f"{resolved.name or 'cache'}-{tag}.key"


def default_print_dir() -> Path:
    """Wristbands printed from the app are written here (PNG and PDF) before they go to the printer."""
    return Path(platformdirs.user_data_dir(APP_NAME)) / "prints"


def default_audit_journal_dir() -> Path:
    """Audit events neither the cache nor the server could take wait here, outside the cache folder."""
    return Path(platformdirs.user_state_dir(APP_NAME)) / "audit-journal"


def default_kiosk_name() -> str:
    """The machine's host name, cut to what a kiosk name may hold."""
    name = re.sub(r"[^A-Za-z0-9_.-]", "-", socket.gethostname())[:64]
    return name or "kiosk"


def _cache_url(value: SecretStr | None) -> SecretStr | None:
    """Only a PostgreSQL address is a shared cache; anything else is refused before any connection is tried. It may
    hold a password, so it is a secret: never in a log line or a repr."""
    if value is None:
        return None
    text = value.get_secret_value()
    scheme = text.split("://", 1)[0].lower() if "://" in text else ""
    if scheme not in ("postgresql", "postgres"):
        raise ValueError("cache_url must be a postgresql:// address")
    return value


class Settings(BaseSettings):
    """Everything a kiosk needs to know about its deployment."""

    model_config = SettingsConfigDict(env_prefix="KIOSK_", extra="forbid", frozen=True)

    server: AnyHttpUrl | None = None
    """Base URL of the FHIR coordination server, such as `http://127.0.0.1:8700/fhir`."""
    insecure_http: bool = False
    """Allow plain `http://` to a server that is not loopback (refused otherwise; `kiosk doctor` reports it in red)."""
    client_id: str | None = None
    client_secret: SecretStr | None = None
    mode: Mode = Mode.ER
    trust_list: Path | None = None
    """The pinned JWKS of facility and card-issuer keys."""
    cache_dir: Path = Field(default_factory=default_cache_dir)
    cache_key_store: Literal["auto", "keyring", "file"] = "auto"
    """Where the cache key is kept. `auto`: `cache_key_file` when set, else the OS keyring where one is usable, else
    the default key file; `keyring` or `file`: only there."""
    cache_key_file: Path | None = None
    """Defaults to `keys/<cache folder name>-<hash>.key` in the user's data folder, created 0600 on first run;
    refused inside the cache dir."""
    cache_passphrase: SecretStr | None = None
    """When set, the cache key is derived from it (Argon2id, strength floor) instead of kept in the keyring or a
    file."""
    cache_url: Annotated[SecretStr | None, AfterValidator(_cache_url)] = None
    """The hospital's shared cache, `postgresql://...` (`KIOSK_CACHE_URL`): records and outbox shared by every kiosk,
    with this kiosk's own cache as the fallback while it is unreachable. Unset: this kiosk's cache alone."""
    hospital_key_file: Path | None = None
    """The hospital's data key for the shared cache (32 random bytes, 0600), as `kiosk hospital init` writes it or a
    KMS unwraps it; never kept in the database. Required with `cache_url`."""
    kiosk_name: Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")] = Field(
        default_factory=default_kiosk_name
    )
    """How this kiosk is named in the shared outbox, the delivery list and the admin console; the host name by
    default."""
    audit_journal_dir: Path = Field(default_factory=default_audit_journal_dir)
    """Audit events that neither the cache's outbox nor the server took, one 0600 file each, until delivered."""
    cache_ttl_hours: Annotated[float | None, Field(gt=0)] = None
    """Overrides the mode's default time-to-live."""
    lang: Literal["vi", "en"] = "vi"
    facility_code: str | None = None
    """This hospital's facility code, for prefetching referrals addressed to it."""
    identifier_systems: dict[str, str] = Field(default_factory=dict)
    """Overrides of the identifier system table, kind -> URI."""
    camera: int | None = None
    """OpenCV camera index; None for no camera."""
    idle_reset_seconds: Annotated[float, Field(gt=0)] = 60.0
    """Lobby mode: clear the screen after this long without input."""
    staff_sign_in: bool = True
    """ER and reception: a staff member signs in (id and PIN) before the first lookup. Off only for a server without
    staff sign-in: the audit then names the kiosk alone."""
    staff_id: Annotated[str | None, Field(max_length=64)] = None
    """The staff id the sign-in screen starts with; for `kiosk lookup`, the person to sign in (with `staff_pin`)."""
    staff_pin: SecretStr | None = None
    """`kiosk lookup` only, from `KIOSK_STAFF_PIN`: never in the settings file, never on the command line."""
    staff_idle_sign_out_minutes: Annotated[float, Field(gt=0)] = 15.0
    """ER and reception: the staff member is signed out (and the patient cleared) after this long without input."""
    admin_pin_hash: Annotated[str | None, AfterValidator(_pin_hash)] = None
    """The PIN that opens the admin screen and quits the app when no staff member is signed in (always in the lobby),
    as `kiosk staff hash-pin` prints it. Without it those keys stay locked."""
    serve_secret: Annotated[SecretStr | None, Field(min_length=16)] = None
    """`kiosk serve`: the key a browser needs to open the app; unset, a new one is made at each start."""
    serve_max_sessions: Annotated[int, Field(ge=1, le=16)] = 2
    """`kiosk serve`: app processes at once (each about 75 MiB); a kiosk has one screen."""
    serve_tls_cert: Path | None = None
    serve_tls_key: Path | None = None
    """`kiosk serve`: PEM certificate and key for https/wss; required (with `serve_secret`) off loopback."""
    serve_public_url: AnyHttpUrl | None = None
    """`kiosk serve`: the address browsers use (scheme://host:port) when it is not the bound one."""
    printer: Annotated[str | None, Field(pattern=r"^[A-Za-z0-9_][A-Za-z0-9_.@-]{0,126}$")] = None
    """`kiosk print`: the system print queue (`lp -d NAME`) for wristbands and tickets when no `--printer` is given."""
    print_dir: Path = Field(default_factory=default_print_dir)
    """The app's wristband prints: the folder their PNG and PDF files are written to (sent on to `printer` when set).
    They name a patient's temporary identity: a folder only the kiosk's user reads."""
    print_font_dir: Path | None = None
    """`kiosk print`: a folder holding DejaVuSans.ttf, DejaVuSans-Bold.ttf and DejaVuSansMono-Bold.ttf, when the
    system's (Debian's fonts-dejavu-core) are not where Debian puts them."""
    config_file: Path | None = None

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        file = Path(os.environ.get("KIOSK_CONFIG_FILE") or default_config_file())
        toml = TomlConfigSettingsSource(settings_cls, toml_file=file)
        if "staff_pin" in toml.toml_data:
            raise CommandError(f"{file}: a staff PIN is never kept in a settings file (use KIOSK_STAFF_PIN)")
        return (init_settings, env_settings, toml)

    @property
    def effective_ttl_hours(self) -> float:
        if self.cache_ttl_hours is not None:
            return self.cache_ttl_hours
        return {Mode.ER: 72.0, Mode.RECEPTION: 8.0, Mode.LOBBY: 0.0}[self.mode]

    @property
    def key_file(self) -> Path:
        return self.cache_key_file or default_key_file(self.cache_dir)


def load_settings(**overrides: object) -> Settings:
    """Build the settings; explicit overrides (from the command line or a test) win over every other source."""
    clean = {k: v for k, v in overrides.items() if v is not None}
    return Settings(**clean)  # type: ignore[arg-type]
