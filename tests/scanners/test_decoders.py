"""The decoder chain on the zxing-cpp black-box images, on Vietnamese text, and on 1080p camera frames."""

from __future__ import annotations

import numpy as np
import pytest
import zxingcpp
from pyzbar import pyzbar

from scanners.decoders import DecoderChain, ZbarDecoder, ZxingDecoder
from scanners.sources import SourceError, load_image
from testkit.frames import camera_frame, noisy_background, qr_image
from tests.scanners.conftest import Tally, all_images, labelled_images, tally

QR_FOLDERS = [f"qrcode-{i}" for i in range(1, 7)]


@pytest.fixture(scope="module")
def qr_tallies(chain: DecoderChain) -> dict[str, Tally]:
    images = labelled_images(QR_FOLDERS)
    assert len(images) == 137
    fmt = zxingcpp.BarcodeFormats(zxingcpp.BarcodeFormat.QRCode)

    def zxing_alone(gray: np.ndarray) -> list[_Text]:
        return [_Text(b.text) for b in zxingcpp.read_barcodes(gray, formats=fmt, text_mode=zxingcpp.TextMode.Plain)]

    def pyzbar_alone(gray: np.ndarray) -> list[_Text]:
        return [_Text(d.data.decode("utf-8", "replace")) for d in pyzbar.decode(gray, [pyzbar.ZBarSymbol.QRCODE])]

    return {
        "chain": tally(chain.decode, images),
        "zxing": tally(zxing_alone, images),
        "pyzbar": tally(pyzbar_alone, images),
    }


class _Text:
    """A baseline decoder's text, shaped like a `Decoded`."""

    def __init__(self, text: str) -> None:
        self.text = text


def test_chain_reads_at_least_95_percent_of_the_qr_set_without_a_misread(qr_tallies: dict[str, Tally]) -> None:
    chained, alone = qr_tallies["chain"], qr_tallies["zxing"]
    assert chained.wrong == 0
    assert chained.rate >= 0.95, chained
    assert chained.right > alone.right > qr_tallies["pyzbar"].right


def test_chain_finds_nothing_on_false_positives(chain: DecoderChain) -> None:
    images = all_images(["falsepositives-1", "falsepositives-2"])
    assert len(images) > 20
    for path in images:
        try:
            gray = load_image(path)
        except SourceError:
            continue
        assert chain.decode(gray) == [], path.name


@pytest.mark.parametrize("folders", [["code128-1", "code128-2", "code128-3"], ["pdf417-1", "pdf417-2", "pdf417-3"]])
def test_linear_and_stacked_codes_as_well_as_zxing_alone(
    chain: DecoderChain, zxing: ZxingDecoder, folders: list[str]
) -> None:
    images = labelled_images(folders)
    chained = tally(chain.decode, images)
    alone = tally(lambda g: zxing.decode(g, "local"), images)
    assert chained.wrong == 0
    assert chained.right >= alone.right > 0


VIETNAMESE = ["Lê Hưng", "Võ Ánh", "Lý Mỹ", "Bùi Lộc", "Hà Vy", "Ngô Thị Huệ", "Đỗ Đức", "Tạ Ý"]


def test_zbar_binary_mode_returns_vietnamese_exactly(zbar: ZbarDecoder) -> None:
    assert zbar.binary_mode
    plain_wrong = 0
    for name in VIETNAMESE:
        image = qr_image(name.encode("utf-8"))
        assert [d.text for d in zbar.decode(image)] == [name]
        plain = [d.data.decode("utf-8", "replace") for d in pyzbar.decode(image)]
        plain_wrong += plain != [name]
    assert plain_wrong >= len(VIETNAMESE) // 2  # what binary mode is for


def test_zxing_reads_undeclared_utf8_as_utf8(zxing: ZxingDecoder) -> None:
    for name in VIETNAMESE:
        assert [d.text for d in zxing.decode(qr_image(name.encode("utf-8")))] == [name]


def test_each_decoder_is_optional() -> None:
    only_zbar = DecoderChain.available(("pyzbar",))
    assert only_zbar.names == ("pyzbar",)
    assert [d.text for d in only_zbar.decode(qr_image("001090001234"))] == ["001090001234"]
    assert DecoderChain([]).decode(qr_image("x")) == []


def test_camera_frame_fast_path_reads_the_code_and_nothing_on_an_empty_frame(chain: DecoderChain) -> None:
    # Speed is a benchmark figure (benchmarks/bench_scanners.py); here only what the fast path reads.
    frame = camera_frame("094083123451|3099789364|Nguyễn Gia Mạnh|21031983|Nam|Sóc Trăng|06042021")
    assert [d.text[:12] for d in chain.decode(frame, "fast")] == ["094083123451"]
    assert chain.decode(noisy_background(), "fast") == []


def test_camera_frame_with_a_code128_insurance_number(chain: DecoderChain) -> None:
    frame = noisy_background()
    code = qr_image("0111077012", scale=4, fmt=zxingcpp.BarcodeFormat.Code128)
    frame[400 : 400 + code.shape[0], 600 : 600 + code.shape[1]] = code
    assert [(d.format, d.text) for d in chain.decode(frame, "fast")] == [("Code128", "0111077012")]
