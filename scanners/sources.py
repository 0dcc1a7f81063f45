"""Where pixels come from: image files, video files, image sequences and a camera.

OpenCV is imported lazily (it costs ~0.2 s at start-up). A code that stays in view, or leaves it only briefly, is
reported once per presentation, not once per frame: see `PresentationFilter`. The camera reads frames on its own
thread and decodes only the newest one, so frames are skipped rather than queued when decoding falls behind.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from scanners.decoders import Decoded, DecoderChain, Gray, Speed

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff", ".pgm", ".ppm"})
VIDEO_SUFFIXES = frozenset({".mp4", ".avi", ".mkv", ".mov", ".webm", ".m4v", ".mjpeg", ".mjpg"})


class SourceError(Exception):
    """An image, video or camera cannot be read; the message names the source, never a decoded content."""


def _quiet_cv2() -> Any:
    """OpenCV, with its own error log silenced: an unreadable file is reported once, as a `SourceError`."""
    import cv2

    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)
    return cv2


def load_image(path: Path) -> Gray:
    """An image file as 8-bit grayscale (PNG, JPEG, WebP, BMP, TIFF: whatever OpenCV's codecs read).

    Read through `np.fromfile` + `imdecode` so that paths with non-ASCII characters work on every platform.
    """
    cv2 = _quiet_cv2()
    try:
        data = np.fromfile(path, dtype=np.uint8)
    except OSError as exc:
        raise SourceError(f"{path}: cannot be read ({exc.strerror or type(exc).__name__})") from None
    image = cv2.imdecode(data, cv2.IMREAD_GRAYSCALE) if data.size else None
    if image is None:
        raise SourceError(f"{path}: not an image OpenCV can decode")
    return np.ascontiguousarray(image, dtype=np.uint8)


@dataclass
class PresentationFilter:
    """Reports each code once per presentation.

    A code is new when it was not seen during the last `gap_s` seconds; while it stays in view (or disappears for
    less than `gap_s`, e.g. a blurred frame) it is not reported again.
    """

    gap_s: float = 1.5
    _last_seen: dict[tuple[str, str], float] = field(default_factory=dict)

    def admit(self, found: Iterable[Decoded], now: float) -> list[Decoded]:
        fresh: list[Decoded] = []
        for item in found:
            key = (item.format, item.text)
            last = self._last_seen.get(key)
            if last is None or now - last > self.gap_s:
                fresh.append(item)
            self._last_seen[key] = now
        stale = [k for k, t in self._last_seen.items() if now - t > self.gap_s]
        for key in stale:
            del self._last_seen[key]
        return fresh


def scan_image(path: Path, chain: DecoderChain) -> list[Decoded]:
    return chain.decode(load_image(path), "thorough")


def video_frames(path: Path, *, max_frames: int | None = None) -> Iterator[tuple[float, npt.NDArray[Any]]]:
    """(timestamp in seconds, frame) of a video file."""
    import cv2

    if not path.is_file():
        raise SourceError(f"{path}: no such video file")
    capture = cv2.VideoCapture(str(path))
    if not capture.isOpened():
        raise SourceError(f"{path}: not a video OpenCV can open")
    fps = capture.get(cv2.CAP_PROP_FPS) or 30.0
    try:
        index = 0
        while max_frames is None or index < max_frames:
            ok, frame = capture.read()
            if not ok or frame is None:
                break
            yield index / fps, frame
            index += 1
    finally:
        capture.release()


def scan_frames(
    frames: Iterable[tuple[float, npt.NDArray[Any]]],
    chain: DecoderChain,
    gap_s: float = 1.5,
    thorough_every: int = 15,
) -> list[Decoded]:
    """Codes of a sequence of frames, each reported once per presentation; every `thorough_every`-th frame gets
    the thorough passes, as the camera does."""
    presentations = PresentationFilter(gap_s)
    found: list[Decoded] = []
    for index, (timestamp, frame) in enumerate(frames):
        speed: Speed = "thorough" if thorough_every > 0 and index % thorough_every == thorough_every - 1 else "fast"
        found.extend(presentations.admit(chain.decode(frame, speed), timestamp))
    return found


def image_sequence(paths: Iterable[Path], fps: float = 10.0) -> Iterator[tuple[float, npt.NDArray[Any]]]:
    """Numbered still images (a folder of frames) as a frame sequence at `fps`."""
    for index, path in enumerate(sorted(paths)):
        yield index / fps, load_image(path)


def scan_path(path: Path, chain: DecoderChain) -> list[Decoded]:
    """Decode an image file, a video file, or a folder of images taken as a sequence of frames."""
    if path.is_dir():
        images = [p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES]
        if not images:
            raise SourceError(f"{path}: a folder without images")
        return scan_frames(image_sequence(images), chain)
    if not path.exists():
        raise SourceError(f"{path}: no such file")
    if path.suffix.lower() in VIDEO_SUFFIXES:
        return scan_frames(video_frames(path), chain)
    return scan_image(path, chain)


class FrameSource(Protocol):
    """What the camera reader needs of a capture device; `cv2.VideoCapture` is one."""

    def read(self) -> tuple[bool, Any]: ...

    def release(self) -> None: ...


@dataclass
class CameraStats:
    """How the camera keeps up: frames read, frames decoded, frames skipped because decoding was busy."""

    read: int = 0
    decoded: int = 0
    skipped: int = 0


class CameraScanner:
    """Reads a camera on one thread and decodes its newest frame on another, reporting each code once.

    `on_scan(decoded)` is called from the decoding thread for every new presentation of a code; a Textual app
    forwards it with `post_message`. `open_source` builds the capture (by default `cv2.VideoCapture(index)`);
    `stop()` ends both threads and releases the camera. Use as a context manager or call `start()`/`stop()`.
    Every `thorough_every`-th decoded frame gets the thorough passes (inverted codes, PDF417, DataMatrix, zbar);
    the frames that arrive meanwhile are skipped, and a code held up for a second is still found.
    """

    def __init__(
        self,
        on_scan: Callable[[Decoded], None],
        *,
        chain: DecoderChain | None = None,
        camera: int = 0,
        open_source: Callable[[], FrameSource] | None = None,
        gap_s: float = 1.5,
        thorough_every: int = 15,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._on_scan = on_scan
        self._chain = chain or DecoderChain.available()
        self._open = open_source or (lambda: _open_camera(camera))
        self._presentations = PresentationFilter(gap_s)
        self._clock = clock
        self._thorough_every = thorough_every
        self.stats = CameraStats()
        self.error: str | None = None
        self._latest: Any = None
        self._new_frame = threading.Condition()
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        source = self._open()
        self._threads = [
            threading.Thread(target=self._read_loop, args=(source,), name="camera-read", daemon=True),
            threading.Thread(target=self._decode_loop, name="camera-decode", daemon=True),
        ]
        for thread in self._threads:
            thread.start()

    def stop(self, timeout: float = 2.0) -> None:
        self._stopping.set()
        with self._new_frame:
            self._new_frame.notify_all()
        for thread in self._threads:
            thread.join(timeout)

    def __enter__(self) -> CameraScanner:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return any(t.is_alive() for t in self._threads)

    def _read_loop(self, source: FrameSource) -> None:
        try:
            while not self._stopping.is_set():
                ok, frame = source.read()
                if not ok or frame is None:
                    self.error = "the camera stopped delivering frames"
                    break
                with self._new_frame:
                    if self._latest is not None:
                        self.stats.skipped += 1
                    self._latest = frame
                    self.stats.read += 1
                    self._new_frame.notify()
        finally:
            source.release()
            self._stopping.set()
            with self._new_frame:
                self._new_frame.notify_all()

    def _decode_loop(self) -> None:
        while True:
            with self._new_frame:
                while self._latest is None and not self._stopping.is_set():
                    self._new_frame.wait(0.5)
                frame, self._latest = self._latest, None
            if frame is None:
                return
            try:
                found = self._chain.decode(frame, self._speed())
            except ValueError:
                log.warning("camera frame of an unexpected shape skipped")
                continue
            self.stats.decoded += 1
            for item in self._presentations.admit(found, self._clock()):
                try:
                    self._on_scan(item)
                except Exception:  # the camera keeps running; the exception's text may hold the code, so not logged
                    log.error("the scan callback failed (%s)", "camera")

    def _speed(self) -> Speed:
        every = self._thorough_every
        return "thorough" if every > 0 and self.stats.decoded % every == every - 1 else "fast"


def _open_camera(index: int) -> FrameSource:
    import cv2

    capture = cv2.VideoCapture(index)
    if not capture.isOpened():
        capture.release()
        raise SourceError(f"camera {index} does not open")
    source: FrameSource = capture
    return source
