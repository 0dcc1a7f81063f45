"""Sources: image loading, video files, frame sequences, and the camera thread with its frame skipping."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from scanners.decoders import Decoded, DecoderChain, ZxingDecoder
from scanners.sources import CameraScanner, PresentationFilter, SourceError, load_image, scan_path
from testkit.frames import camera_frame, noisy_background, qr_image


def test_load_image_reads_webp_and_unicode_paths(tmp_path: Path) -> None:
    path = tmp_path / "thẻ căn cước.webp"
    cv2.imencode(".webp", qr_image("001090001234"))[1].tofile(path)
    assert load_image(path).ndim == 2
    with pytest.raises(SourceError):
        load_image(tmp_path / "missing.png")
    (tmp_path / "broken.png").write_bytes(b"not an image")
    with pytest.raises(SourceError):
        load_image(tmp_path / "broken.png")


def test_presentation_filter_reports_once_per_presentation() -> None:
    code = Decoded(format="QRCode", text="001090001234", decoder="zxing-cpp")
    f = PresentationFilter(gap_s=1.0)
    reported = [len(f.admit([code], t / 30)) for t in range(90)]  # three seconds in view at 30 fps
    assert sum(reported) == 1
    assert f.admit([], 5.0) == []
    assert f.admit([code], 5.1) == [code]  # shown again after leaving the view


def _frames(texts: list[str | None]) -> list[np.ndarray]:
    return [camera_frame(t, scale=4) if t else noisy_background() for t in texts]


def test_video_file_and_frame_folder(tmp_path: Path, chain: DecoderChain) -> None:
    frames = _frames([None, "001090001234", "001090001234", None, "0111077012"])
    video = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter.fourcc(*"MJPG"), 5.0, (1920, 1080), False)
    for frame in frames:
        writer.write(frame)
    writer.release()
    assert [d.text for d in scan_path(video, chain)] == ["001090001234", "0111077012"]
    folder = tmp_path / "frames"
    folder.mkdir()
    for index, frame in enumerate(frames):
        cv2.imwrite(str(folder / f"{index:03d}.png"), frame)
    assert [d.text for d in scan_path(folder, chain)] == ["001090001234", "0111077012"]
    with pytest.raises(SourceError):
        scan_path(tmp_path / "nothing.mp4", chain)


class FakeCamera:
    """A camera test double: 30 frames a second, a code held in view for the middle second."""

    def __init__(self, frames: int = 75) -> None:
        self.code = camera_frame("094083123451", scale=5)
        self.empty = noisy_background()
        self.total = frames
        self.index = 0
        self.released = threading.Event()

    def read(self) -> tuple[bool, Any]:
        if self.index >= self.total:
            return False, None
        time.sleep(1 / 30)
        self.index += 1
        in_view = 20 <= self.index < 50
        return True, self.code if in_view else self.empty

    def release(self) -> None:
        self.released.set()


class SlowChain(DecoderChain):
    """The real chain, slowed to 80 ms a frame: decoding falls behind a 30 fps camera."""

    def decode(self, image: Any, speed: Any = "thorough") -> list[Decoded]:
        time.sleep(0.08)
        return super().decode(image, "fast")


def test_camera_reports_a_code_once_and_skips_frames_when_behind() -> None:
    seen: list[Decoded] = []
    camera = FakeCamera()
    slow = SlowChain([ZxingDecoder()])
    scanner = CameraScanner(seen.append, chain=slow, open_source=lambda: camera, thorough_every=0)
    with scanner:
        assert camera.released.wait(10)
    assert not scanner.running
    assert [d.text for d in seen] == ["094083123451"]
    assert scanner.stats.read == 75
    assert scanner.stats.skipped > 20 and scanner.stats.decoded < 50
    assert scanner.error == "the camera stopped delivering frames"
