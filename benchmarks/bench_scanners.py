"""Scanner benchmark: decode rates on the zxing-cpp black-box images, misreads, camera-frame latency, SHC checks.

Baselines are measured in the same run: zxing-cpp alone (QR only, plain text) and pyzbar alone (its own `decode`,
text guessed by zbar) on the QR set; zxing-cpp alone on Code128 and PDF417; zxing-cpp with the four needed formats
and default settings on the 1080p frames; plain pyzbar on short Vietnamese names.

SMOKE: one QR folder, one false-positive folder, one Code128 and one PDF417 folder, a few frames.
FULL: qrcode-1..6 (137 labelled images), both false-positive folders, code128-1..3, pdf417-1..3.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import zxingcpp
from pyzbar import pyzbar

from benchmarks.report import Figure, Size
from lookup.domain.model import SignatureStatus
from lookup.trust.trust_list import TrustList
from scanners.decoders import DecoderChain, ZbarDecoder, ZxingDecoder
from scanners.payloads import ShcChunks
from scanners.payloads.shc import parse_shc
from scanners.sources import SourceError, load_image
from testkit.frames import camera_frame, noisy_background, qr_image

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "tests" / "data" / "samples"
BLACKBOX = SAMPLES / "qr" / "zxing-cpp"
FHIR = SAMPLES / "fhir"
ISSUER = "https://spec.smarthealth.cards/examples/issuer"
NAME = "scanners"
Decode = Callable[[Any], list[str]]


def _labelled(folders: list[str]) -> list[tuple[Path, str]]:
    found = []
    for folder in folders:
        for image in sorted((BLACKBOX / folder).iterdir()):
            expected = image.with_suffix(".txt")
            if image.suffix in (".png", ".webp", ".jpg") and expected.exists():
                found.append((image, expected.read_bytes().decode("utf-8")))
    return found


def _score(decode: Decode, images: list[tuple[Path, str]]) -> tuple[int, int]:
    """(right, wrong) over the images; a wrong read is a text other than the expected one."""
    right = wrong = 0
    for path, expected in images:
        texts = decode(load_image(path))
        if texts:
            right += expected in texts
            wrong += expected not in texts
    return right, wrong


def _median_ms(decode: Callable[[], object], runs: int) -> float:
    decode()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        decode()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def _figure(name: str, value: float, unit: str, **kw: Any) -> Figure:
    return Figure(benchmark=NAME, name=name, value=value, unit=unit, **kw)


def _qr(chain: DecoderChain, folders: list[str]) -> list[Figure]:
    images = _labelled(folders)
    qr_only = zxingcpp.BarcodeFormats(zxingcpp.BarcodeFormat.QRCode)

    def zxing_alone(gray: Any) -> list[str]:
        return [b.text for b in zxingcpp.read_barcodes(gray, formats=qr_only, text_mode=zxingcpp.TextMode.Plain)]

    def pyzbar_alone(gray: Any) -> list[str]:
        return [d.data.decode("utf-8", "replace") for d in pyzbar.decode(gray, [pyzbar.ZBarSymbol.QRCODE])]

    n = len(images)
    c_right, c_wrong = _score(lambda g: [d.text for d in chain.decode(g)], images)
    z_right, z_wrong = _score(zxing_alone, images)
    p_right, p_wrong = _score(pyzbar_alone, images)
    note = f"{n} images in {', '.join(folders)}; pyzbar alone {100 * p_right / n:.1f} % ({p_wrong} misreads)"
    return [
        _figure(
            "QR decode rate, chain vs zxing-cpp alone",
            100 * c_right / n,
            "%",
            floor=95.0,
            better="higher",
            baseline=100 * z_right / n,
            baseline_label="zxing-cpp alone",
            note=note,
        ),
        _figure(
            "QR decode rate, chain vs pyzbar alone",
            100 * c_right / n,
            "%",
            floor=95.0,
            better="higher",
            baseline=100 * p_right / n,
            baseline_label="pyzbar alone",
            note=note,
        ),
        _figure(
            "QR misreads, chain",
            c_wrong,
            "images",
            floor=0,
            better="lower",
            baseline=p_wrong,
            baseline_label="pyzbar alone",
            note=f"zxing-cpp alone: {z_wrong}",
        ),
    ]


def _false_positives(chain: DecoderChain, folders: list[str]) -> Figure:
    hits = total = 0
    for folder in folders:
        for path in sorted((BLACKBOX / folder).iterdir()):
            if path.suffix not in (".png", ".webp", ".jpg"):
                continue
            total += 1
            try:
                hits += bool(chain.decode(load_image(path)))
            except SourceError:
                continue  # 1x1 and 1x100 pixel files OpenCV refuses: nothing to decode
    return _figure(
        "codes found on false-positive images",
        hits,
        "images",
        floor=0,
        better="lower",
        note=f"{total} images in {', '.join(folders)}",
    )


def _symbology(chain: DecoderChain, label: str, folders: list[str]) -> Figure:
    images = _labelled(folders)
    zxing = ZxingDecoder()
    c_right, c_wrong = _score(lambda g: [d.text for d in chain.decode(g)], images)
    z_right, _ = _score(lambda g: [d.text for d in zxing.decode(g, "local")], images)
    return _figure(
        f"{label} decode rate, chain",
        c_right,
        "images",
        floor=z_right,
        better="higher",
        baseline=z_right,
        baseline_label="zxing-cpp alone",
        note=f"{len(images)} images; chain misreads {c_wrong}",
    )


def _frames(chain: DecoderChain, runs: int) -> list[Figure]:
    code = camera_frame("094083123451|3099789364|Nguyễn Gia Mạnh|21031983|Nam|Sóc Trăng|06042021")
    empty = noisy_background()
    if [d.text[:12] for d in chain.decode(code, "fast")] != ["094083123451"]:
        raise RuntimeError("the synthetic camera frame was not decoded")
    needed = [
        zxingcpp.BarcodeFormat.QRCode,
        zxingcpp.BarcodeFormat.Code128,
        zxingcpp.BarcodeFormat.PDF417,
        zxingcpp.BarcodeFormat.DataMatrix,
    ]
    default = zxingcpp.BarcodeFormats(needed)
    figures = []
    for label, frame, floor in (("with one QR code", code, 15.0), ("empty", empty, 10.0)):
        ours = _median_ms(lambda f=frame: chain.decode(f, "fast"), runs)  # type: ignore[misc]
        base = _median_ms(lambda f=frame: zxingcpp.read_barcodes(f, formats=default), runs)  # type: ignore[misc]
        figures.append(
            _figure(
                f"1920x1080 camera frame {label}, median",
                ours,
                "ms",
                floor=floor,
                baseline=base,
                baseline_label="zxing-cpp, 4 formats, defaults",
                note=f"{runs} runs",
            )
        )
    return figures


def _vietnamese() -> Figure:
    names = ["Lê Hưng", "Võ Ánh", "Lý Mỹ", "Bùi Lộc", "Hà Vy", "Ngô Thị Huệ", "Đỗ Đức", "Tạ Ý", "Lê Thị Bé", "Phan Mai"]
    zbar = ZbarDecoder()
    ours = plain = 0
    for name in names:
        image = qr_image(name.encode("utf-8"))
        ours += [d.text for d in zbar.decode(image)] == [name]
        plain += [d.data.decode("utf-8", "replace") for d in pyzbar.decode(image)] == [name]
    return _figure(
        "short Vietnamese names read exactly by zbar (binary mode)",
        100 * ours / len(names),
        "%",
        floor=100.0,
        better="higher",
        baseline=100 * plain / len(names),
        baseline_label="plain pyzbar",
    )


def _shc() -> Figure:
    import json

    jwks = json.loads((FHIR / "jwks.json").read_text(encoding="utf-8"))
    for key in jwks["keys"]:
        key["iss"] = ISSUER
    trust = TrustList.from_jwks(jwks)
    single = (FHIR / "example-00-f-qr-code-numeric-value-0.txt").read_text(encoding="utf-8").strip()
    chunks = ShcChunks()
    parts = [(FHIR / f"example-02-f-qr-code-numeric-value-{i}.txt").read_text().strip() for i in range(3)]
    three = [parse_shc(p, trust, chunks=chunks) for p in parts][-1]
    middle = 5 + (len(single) - 5) // 4 * 2
    altered = single[: middle + 1] + ("1" if single[middle + 1] != "1" else "2") + single[middle + 2 :]
    outcomes = [
        parse_shc(single, trust).signature.status is SignatureStatus.VALID,
        three.signature.status is SignatureStatus.VALID,
        parse_shc(altered, trust).signature.status is SignatureStatus.INVALID,
        parse_shc(single, TrustList.empty()).signature.status is SignatureStatus.UNKNOWN_SIGNER,
    ]
    return _figure(
        "SMART Health Card vectors checked right",
        sum(outcomes),
        "of 4",
        floor=4,
        better="higher",
        note="00 valid, 02 three chunks valid, one changed character invalid, untrusted unknown-signer",
    )


def run(size: Size) -> list[Figure]:
    chain = DecoderChain.available()
    if size is Size.SMOKE:
        qr_folders, fp, c128, pdf, runs = ["qrcode-2"], ["falsepositives-1"], ["code128-1"], ["pdf417-2"], 5
    else:
        qr_folders = [f"qrcode-{i}" for i in range(1, 7)]
        fp, c128, pdf, runs = (
            ["falsepositives-1", "falsepositives-2"],
            ["code128-1", "code128-2", "code128-3"],
            ["pdf417-1", "pdf417-2", "pdf417-3"],
            25,
        )
    figures = _qr(chain, qr_folders)
    figures.append(_false_positives(chain, fp))
    figures.append(_symbology(chain, "Code128", c128))
    figures.append(_symbology(chain, "PDF417", pdf))
    figures.extend(_frames(chain, runs))
    figures.append(_vietnamese())
    figures.append(_shc())
    return figures
