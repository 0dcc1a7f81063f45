"""Typed settings: defaults, then a TOML file in the platform config dir, then `KIOSK_*` environment variables.

One `Settings` object is built by `load_settings()` and passed down; nothing else reads the environment.
"""

from __future__ import annotations

import os
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Literal

import platformdirs
from pydantic import AnyHttpUrl, Field, SecretStr
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

APP_NAME = "kiosk-patient-lookup"


class Mode(StrEnum):
    """Where the kiosk stands, which decides what it may show and keep."""

    ER = "er"
    RECEPTION = "reception"
    LOBBY = "lobby"


def default_config_file() -> Path:
    return Path(platformdirs.user_config_dir(APP_NAME)) / "settings.toml"


def default_cache_dir() -> Path:
    return Path(platformdirs.user_cache_dir(APP_NAME))


class Settings(BaseSettings):
    """Everything a kiosk needs to know about its deployment."""

    model_config = SettingsConfigDict(env_prefix="KIOSK_", extra="forbid", frozen=True)

    server: AnyHttpUrl | None = None
    """Base URL of the FHIR coordination server, such as `http://127.0.0.1:8700/fhir`."""
    client_id: str | None = None
    client_secret: SecretStr | None = None
    mode: Mode = Mode.ER
    trust_list: Path | None = None
    """The pinned JWKS of facility and card-issuer keys."""
    cache_dir: Path = Field(default_factory=default_cache_dir)
    cache_key_file: Path | None = None
    """Defaults to `key` inside the cache dir, created 0600 on first run."""
    cache_passphrase: SecretStr | None = None
    """When set, the cache key is derived from it instead of read from a key file."""
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
        return (init_settings, env_settings, TomlConfigSettingsSource(settings_cls, toml_file=file))

    @property
    def effective_ttl_hours(self) -> float:
        if self.cache_ttl_hours is not None:
            return self.cache_ttl_hours
        return {Mode.ER: 72.0, Mode.RECEPTION: 8.0, Mode.LOBBY: 0.0}[self.mode]

    @property
    def key_file(self) -> Path:
        return self.cache_key_file or self.cache_dir / "key"


def load_settings(**overrides: object) -> Settings:
    """Build the settings; explicit overrides (from the command line or a test) win over every other source."""
    clean = {k: v for k, v in overrides.items() if v is not None}
    return Settings(**clean)  # type: ignore[arg-type]
