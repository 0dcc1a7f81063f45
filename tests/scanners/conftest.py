"""Shared fixtures of the scanner tests: the sample folders, one decoder chain, and a trust list for the SHC vectors."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import pytest

from lookup.trust.trust_list import TrustList
from scanners.decoders import DecoderChain, ZbarDecoder, ZxingDecoder
from scanners.sources import SourceError, load_image

REPO = Path(__file__).resolve().parents[2]
SAMPLES = REPO / "tests" / "data" / "samples"
BLACKBOX = SAMPLES / "qr" / "zxing-cpp"
FHIR = SAMPLES / "fhir"
SHC_ISSUER = "https://spec.smarthealth.cards/examples/issuer"
IMAGE_SUFFIXES = (".png", ".webp", ".jpg")


def labelled_images(folders: list[str]) -> list[tuple[Path, str]]:
    """Images of the black-box folders that have an expected text beside them."""
    found = []
    for folder in folders:
        for image in sorted((BLACKBOX / folder).iterdir()):
            expected = image.with_suffix(".txt")
            if image.suffix in IMAGE_SUFFIXES and expected.exists():
                found.append((image, expected.read_bytes().decode("utf-8")))
    return found


def all_images(folders: list[str]) -> list[Path]:
    return [p for f in folders for p in sorted((BLACKBOX / f).iterdir()) if p.suffix in IMAGE_SUFFIXES]


@dataclass
class Tally:
    """Right, wrong (a text that is not the expected one) and nothing, per decoder."""

    right: int = 0
    wrong: int = 0
    none: int = 0

    @property
    def rate(self) -> float:
        return self.right / max(1, self.right + self.wrong + self.none)


class HasText(Protocol):
    """A decoded code, from the chain or from a baseline decoder."""

    @property
    def text(self) -> str: ...


def tally(decode: Callable[[Any], Sequence[HasText]], images: list[tuple[Path, str]]) -> Tally:
    result = Tally()
    for path, expected in images:
        try:
            texts = [d.text for d in decode(load_image(path))]
        except SourceError:
            texts = []
        if not texts:
            result.none += 1
        elif expected in texts:
            result.right += 1
        else:
            result.wrong += 1
    return result


@pytest.fixture(scope="session")
def chain() -> DecoderChain:
    built = DecoderChain.available()
    assert built.names == ("zxing-cpp", "pyzbar"), built.missing()
    return built


@pytest.fixture(scope="session")
def zxing() -> ZxingDecoder:
    return ZxingDecoder()


@pytest.fixture(scope="session")
def zbar() -> ZbarDecoder:
    return ZbarDecoder()


@pytest.fixture(scope="session")
def shc_jwks() -> dict[str, object]:
    jwks = json.loads((FHIR / "jwks.json").read_text(encoding="utf-8"))
    for key in jwks["keys"]:
        key["iss"] = SHC_ISSUER
    return dict(jwks)


@pytest.fixture(scope="session")
def shc_trust(shc_jwks: dict[str, object]) -> TrustList:
    return TrustList.from_jwks(shc_jwks)


@pytest.fixture
def trust_file(tmp_path: Path, shc_jwks: dict[str, object]) -> Iterator[Path]:
    path = tmp_path / "trust.json"
    path.write_text(json.dumps(shc_jwks), encoding="utf-8")
    yield path
