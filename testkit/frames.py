"""Synthetic images for the scanner tests and benchmark: codes as clean images, and noisy 1080p camera frames."""

from __future__ import annotations

import cv2
import numpy as np
import numpy.typing as npt
import zxingcpp

Gray = npt.NDArray[np.uint8]


def qr_image(content: str | bytes, scale: int = 4, fmt: zxingcpp.BarcodeFormat | None = None) -> Gray:
    """A code as a grayscale image with its quiet zone; bytes are encoded without a text encoding."""
    barcode = zxingcpp.create_barcode(content, fmt or zxingcpp.BarcodeFormat.QRCode)
    return np.ascontiguousarray(np.asarray(barcode.to_image(scale=scale), dtype=np.uint8))


def noisy_background(seed: int = 7, size: tuple[int, int] = (1080, 1920)) -> Gray:
    """A camera-like 1080p frame: uneven light, texture and sensor noise, and no code."""
    rng = np.random.default_rng(seed)
    height, width = size
    light = np.linspace(90, 170, width, dtype=np.float32)[None, :] + np.linspace(-20, 20, height)[:, None]
    texture = cv2.GaussianBlur(rng.normal(0, 25, size).astype(np.float32), (0, 0), 6)
    noise = rng.normal(0, 6, size)
    return np.asarray(np.clip(light + texture + noise, 0, 255), dtype=np.uint8)


def camera_frame(content: str, seed: int = 7, at: tuple[int, int] = (380, 820), scale: int = 5) -> Gray:
    """A noisy 1080p frame with one QR code, slightly blurred as a camera sees it."""
    frame = noisy_background(seed)
    code = qr_image(content, scale=scale)
    y, x = at
    frame[y : y + code.shape[0], x : x + code.shape[1]] = code
    return np.asarray(cv2.GaussianBlur(frame, (3, 3), 0), dtype=np.uint8)
