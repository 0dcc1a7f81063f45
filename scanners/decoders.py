"""The decoder chain: zxing-cpp first, zbar (through pyzbar, in binary mode) second, with preprocessing passes.

Each decoder is optional at run time: `DecoderChain.available()` uses what is installed and `missing()` says what is
not. Zero misreads is the rule:
- passes run in order and the chain stops at the first that reads anything, so decoders never vote: zbar, which
  misreads more often, only speaks when zxing-cpp (error-corrected and stricter) found nothing in the same image;
- zxing-cpp's text is used as it decodes it, except that bytes which are valid UTF-8 are read as UTF-8 (cards rarely
  declare their encoding, and a Latin-1 guess turns "Lê" into "LÃª");
- zbar runs in binary mode, so it returns the bytes and no Shift-JIS or Latin-1 guess; bytes that are not UTF-8
  are dropped rather than guessed at, and its Code128 reads are kept only when they are digits (zbar drops the
  extended-character shifts of Code128).
Measured on the zxing-cpp black-box QR set (137 images): the chain 95.6 %, zxing-cpp alone 91.2 %, pyzbar alone
69.3 % with 10 misreads; the chain misreads none (`python -m benchmarks --full --only scanners`).

Two speeds: `fast` is for camera frames (a few milliseconds at 1080p): zxing-cpp restricted to QR and Micro QR with
a global binarizer on the full frame, then a local binarizer on the half-size frame, then Code128 on the half-size
frame. `thorough` (files, and every few camera frames) tries every format with both binarizers, then zbar, then a
median-smoothed image for noisy or low-contrast prints.
"""

from __future__ import annotations

import ctypes
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

import numpy as np
import numpy.typing as npt

log = logging.getLogger(__name__)

Gray = npt.NDArray[np.uint8]
Speed = Literal["fast", "thorough"]


@dataclass(frozen=True, slots=True)
class Decoded:
    """One code found in an image: its symbology, its text and which decoder read it."""

    format: str
    """QRCode, MicroQRCode, Code128, PDF417 or DataMatrix."""
    text: str
    decoder: str
    corners: tuple[tuple[int, int], ...] = ()


class Decoder(Protocol):
    """A decoder of grayscale images."""

    name: str

    def decode(self, gray: Gray, variant: str) -> list[Decoded]:
        """Codes in `gray`; `variant` names a decoder-specific setting (e.g. a binarizer)."""
        ...


def text_from_bytes(raw: bytes, fallback: str | None) -> str | None:
    """UTF-8 when the bytes are UTF-8, else the decoder's own text, else nothing."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return fallback


class ZxingDecoder:
    """zxing-cpp restricted to QR, Micro QR, Code128, PDF417 and DataMatrix."""

    name = "zxing-cpp"

    def __init__(self) -> None:
        import zxingcpp

        self._z: Any = zxingcpp
        f = zxingcpp.BarcodeFormat
        every = [f.QRCode, f.MicroQRCode, f.Code128, f.PDF417, f.DataMatrix]
        # The camera looks for what the kiosk's cards carry (QR codes, Code128 numbers) and skips inverted codes:
        # rotated DataMatrix and PDF417 searches cost 5-10 times more per 1080p frame.
        # A row-by-row linear search is the costliest part of a textured frame, so Code128 gets the half-size one.
        qr = [f.QRCode, f.MicroQRCode]
        local, global_ = zxingcpp.Binarizer.LocalAverage, zxingcpp.Binarizer.GlobalHistogram
        self._variants: dict[str, dict[str, Any]] = {
            "local": {"formats": every, "binarizer": local},
            "global": {"formats": every, "binarizer": global_},
            "camera-qr-global": {"formats": qr, "binarizer": global_, "try_invert": False},
            "camera-qr-local": {"formats": qr, "binarizer": local, "try_invert": False},
            "camera-linear": {"formats": [f.Code128], "binarizer": local, "try_invert": False},
        }

    def decode(self, gray: Gray, variant: str = "local") -> list[Decoded]:
        z = self._z
        found: list[Decoded] = []
        for barcode in z.read_barcodes(gray, text_mode=z.TextMode.Plain, **self._variants[variant]):
            if not barcode.valid:
                continue
            raw = bytes(barcode.bytes)
            text = barcode.text
            if any(b > 0x7F for b in raw):
                text = text_from_bytes(raw, text)
            if not text:
                continue
            p = barcode.position
            corners = tuple((int(c.x), int(c.y)) for c in (p.top_left, p.top_right, p.bottom_right, p.bottom_left))
            found.append(
                Decoded(format=_zxing_format(barcode.format.name), text=text, decoder=self.name, corners=corners)
            )
        return found


def _zxing_format(name: str) -> str:
    return {"QRCodeModel2": "QRCode", "QRCodeModel1": "QRCode"}.get(name, name)


class ZbarDecoder:
    """zbar through pyzbar's ctypes wrapper, QR and Code128 only, with `ZBAR_CFG_BINARY` set for QR codes."""

    name = "pyzbar"

    def __init__(self) -> None:
        from pyzbar import wrapper  # loads libzbar; raises ImportError when the system library is missing

        self._w: Any = wrapper
        self._symbols = {wrapper.ZBarSymbol.QRCODE: "QRCode", wrapper.ZBarSymbol.CODE128: "Code128"}
        symbology, config, value = ctypes.c_int(), ctypes.c_int(), ctypes.c_int()
        # Ask zbar for the number of its `binary` setting rather than trusting an enum that moved between versions.
        parsed = wrapper.zbar_parse_config(
            b"qrcode.binary", ctypes.byref(symbology), ctypes.byref(config), ctypes.byref(value)
        )
        self.binary_mode = parsed == 0
        self._binary_config = config.value

    def decode(self, gray: Gray, variant: str = "") -> list[Decoded]:
        w = self._w
        scanner = w.zbar_image_scanner_create()
        if not scanner:
            return []
        try:
            w.zbar_image_scanner_set_config(scanner, 0, 0, 0)
            for symbol in self._symbols:
                w.zbar_image_scanner_set_config(scanner, symbol, 0, 1)
            if self.binary_mode:
                w.zbar_image_scanner_set_config(scanner, w.ZBarSymbol.QRCODE, self._binary_config, 1)
            return self._scan(scanner, np.ascontiguousarray(gray))
        finally:
            w.zbar_image_scanner_destroy(scanner)

    def _scan(self, scanner: Any, gray: Gray) -> list[Decoded]:
        w = self._w
        height, width = gray.shape
        image = w.zbar_image_create()
        if not image:
            return []
        try:
            data = gray.tobytes()
            w.zbar_image_set_format(image, 0x30303859)  # 'Y800': 8-bit grayscale
            w.zbar_image_set_size(image, width, height)
            w.zbar_image_set_data(image, ctypes.cast(ctypes.c_char_p(data), ctypes.c_void_p), len(data), None)
            if w.zbar_scan_image(scanner, image) <= 0:
                return []
            found: list[Decoded] = []
            symbol = w.zbar_image_first_symbol(image)
            while symbol:
                kind = self._symbols.get(symbol.contents.type)
                raw = ctypes.string_at(w.zbar_symbol_get_data(symbol), w.zbar_symbol_get_data_length(symbol))
                text = self._trusted_text(kind, raw)
                if kind is not None and text:
                    corners = tuple(
                        (int(w.zbar_symbol_get_loc_x(symbol, i)), int(w.zbar_symbol_get_loc_y(symbol, i)))
                        for i in range(w.zbar_symbol_get_loc_size(symbol))
                    )
                    found.append(Decoded(format=kind, text=text, decoder=self.name, corners=corners))
                symbol = w.zbar_symbol_next(symbol)
            return found
        finally:
            w.zbar_image_destroy(image)

    def _trusted_text(self, kind: str | None, raw: bytes) -> str | None:
        if kind == "Code128":
            # zbar drops Code128's extended-character shifts (FNC4) and returns a wrong text, so only the digit
            # strings the kiosk needs from 1D barcodes (ID and insurance numbers) are taken from it.
            return raw.decode("ascii") if raw.isdigit() else None
        # Without binary mode zbar's own text is a guess: only pure ASCII is trusted then.
        return text_from_bytes(raw, None) if self.binary_mode or raw.isascii() else None


Preprocess = Callable[[Gray], Gray]


def _identity(gray: Gray) -> Gray:
    return gray


def _half(gray: Gray) -> Gray:
    """Camera frames above 1280 pixels wide at half size: codes held to a kiosk camera are large."""
    if gray.shape[1] <= 1280:
        return gray
    import cv2

    return np.asarray(cv2.resize(gray, None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA), dtype=np.uint8)


def _median(gray: Gray) -> Gray:
    import cv2

    return np.asarray(cv2.medianBlur(gray, 3), dtype=np.uint8)


@dataclass(frozen=True, slots=True)
class Pass:
    """One attempt of the chain: a preprocessing step, then one decoder with one setting."""

    decoder: str
    variant: str
    preprocess: Preprocess = _identity


THOROUGH_PASSES: tuple[Pass, ...] = (
    Pass("zxing-cpp", "local"),
    Pass("zxing-cpp", "global"),
    Pass("pyzbar", ""),
    Pass("zxing-cpp", "global", _median),
    Pass("pyzbar", "", _median),
)
FAST_PASSES: tuple[Pass, ...] = (
    Pass("zxing-cpp", "camera-qr-global"),
    Pass("zxing-cpp", "camera-qr-local", _half),
    Pass("zxing-cpp", "camera-linear", _half),
)


class DecoderChain:
    """Runs decoders and preprocessing passes in order until one reads something."""

    def __init__(self, decoders: Sequence[Decoder], problems: Sequence[str] = ()) -> None:
        self._decoders = {d.name: d for d in decoders}
        self._problems = tuple(problems)

    @classmethod
    def available(cls, names: Sequence[str] = ("zxing-cpp", "pyzbar")) -> DecoderChain:
        """A chain of every named decoder that can be loaded; the others are listed by `missing()`."""
        factories: dict[str, Callable[[], Decoder]] = {"zxing-cpp": ZxingDecoder, "pyzbar": ZbarDecoder}
        decoders: list[Decoder] = []
        problems: list[str] = []
        for name in names:
            try:
                decoders.append(factories[name]())
            except (ImportError, OSError) as exc:
                problems.append(f"{name}: {type(exc).__name__}: {exc}")
                log.warning("decoder %s unavailable: %s", name, type(exc).__name__)
        return cls(decoders, problems)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self._decoders)

    def missing(self) -> tuple[str, ...]:
        """Why each unavailable decoder could not be loaded."""
        return self._problems

    def decode(self, image: npt.NDArray[Any], speed: Speed = "thorough") -> list[Decoded]:
        """Every code the first successful pass reads, duplicates removed; an empty list when nothing is found."""
        gray = to_gray(image)
        passes = FAST_PASSES if speed == "fast" else THOROUGH_PASSES
        prepared: dict[Preprocess, Gray] = {}
        for attempt in passes:
            decoder = self._decoders.get(attempt.decoder)
            if decoder is None:
                continue
            if attempt.preprocess not in prepared:
                prepared[attempt.preprocess] = attempt.preprocess(gray)
            image = prepared[attempt.preprocess]
            found = decoder.decode(image, attempt.variant)
            if found:
                if image.shape != gray.shape:
                    found = [_rescale(item, gray.shape[1] / image.shape[1]) for item in found]
                return _unique(found)
        return []


def _rescale(item: Decoded, factor: float) -> Decoded:
    corners = tuple((round(x * factor), round(y * factor)) for x, y in item.corners)
    return Decoded(format=item.format, text=item.text, decoder=item.decoder, corners=corners)


def _unique(found: list[Decoded]) -> list[Decoded]:
    seen: set[tuple[str, str]] = set()
    result = []
    for item in found:
        if (item.format, item.text) not in seen:
            seen.add((item.format, item.text))
            result.append(item)
    return result


def to_gray(image: npt.NDArray[Any]) -> Gray:
    """An 8-bit single-channel, C-contiguous view of a BGR, BGRA or grayscale image."""
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[:, :, 0]
    if image.ndim == 3:
        import cv2

        code = cv2.COLOR_BGRA2GRAY if image.shape[2] == 4 else cv2.COLOR_BGR2GRAY
        image = cv2.cvtColor(image, code)
    if image.ndim != 2:
        raise ValueError(f"an image must be grayscale, BGR or BGRA, not of shape {image.shape}")
    if image.dtype != np.uint8:
        raise ValueError(f"an image must have 8-bit pixels, not {image.dtype}")
    return np.ascontiguousarray(image)
