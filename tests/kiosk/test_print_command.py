"""`kiosk print wristband | ticket`, run as the real command in a child process; the band read back by the real
`kiosk scan`."""

from __future__ import annotations

import datetime as dt
import json
import os
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import cv2
from fontTools.ttLib import TTFont
from PIL import Image
from pypdf import PdfReader

from kiosk.printing.fonts import Fonts
from kiosk.printing.layout import Text
from kiosk.printing.ticket import QueueTicket, ticket_sheet
from lookup.domain.identifiers import DEFAULT_TABLE, IdentifierKind
from lookup.domain.temporary import UnknownArrival, new_temporary_number, printed_number, temporary_alias
from lookup.service.unknown import patient_resource
from testkit.frames import qr_image
from tests.lookup.fhirserver import Faulty, free_port, serve

REPO = Path(__file__).resolve().parents[2]
TEMPORARY = DEFAULT_TABLE.system(IdentifierKind.TEMPORARY)
MM = 72 / 25.4
NO_QUEUE = "lp: The printer or class does not exist."


def kiosk(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("KIOSK_")}
    return subprocess.run(
        [sys.executable, "-m", "kiosk.cli", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        env={**clean, "KIOSK_CONFIG_FILE": str(tmp_path / "none.toml"), **env},
    )


def ok(result: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    assert result.returncode == 0, result.stdout + result.stderr
    data: dict[str, Any] = json.loads(result.stdout.splitlines()[-1])
    return data


def refused(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    message: str = json.loads(result.stdout.splitlines()[-1])["error"]
    return message


def scan(tmp_path: Path, path: Path) -> list[dict[str, Any]]:
    results: list[dict[str, Any]] = ok(kiosk(tmp_path, "scan", str(path), "--json"))["results"]
    return results


def pdf_text(path: Path) -> tuple[PdfReader, str]:
    reader = PdfReader(path)
    return reader, "\n".join(page.extract_text() for page in reader.pages)


def test_the_printed_wristband_scans_back_to_its_temporary_identity(tmp_path: Path) -> None:
    number = new_temporary_number()
    out = tmp_path / "band.png"
    data = ok(
        kiosk(tmp_path, "print", "wristband", printed_number(number), "--out", str(out), "--arrival",
              "2026-12-02T08:15:00+07:00", "--json")
    )  # fmt: skip
    assert data["number"] == number and data["alias"] == temporary_alias(number)
    assert data["arrival_source"] == "option" and data["format"] == "png"
    assert (data["width_mm"], data["height_mm"]) == (280.0, 25.0)
    (read,) = scan(tmp_path, out)
    assert read["kind"] == "temporary" and read["format"] == "QRCode"
    assert read["identifiers"] == [{"system": TEMPORARY, "value": number}]
    # The code holds the number and nothing else: no alias, no time.
    assert read["text"] == printed_number(number) and read["demographics"] == {}
    with Image.open(out) as image:
        assert image.size == (3307, 295), "280 x 25 mm at 300 dpi"
        assert round(image.info["dpi"][0]) == 300


def test_a_band_code_with_a_wrong_check_digit_scans_to_no_one(tmp_path: Path) -> None:
    number = new_temporary_number()
    wrong = printed_number(number[:-1] + str((int(number[-1]) + 1) % 10))
    path = tmp_path / "wrong.png"
    cv2.imwrite(str(path), qr_image(wrong))
    (read,) = scan(tmp_path, path)
    assert read["kind"] == "unknown" and read["identifiers"] == []
    assert any("check digit is wrong" in w for w in read["warnings"])
    message = refused(kiosk(tmp_path, "print", "wristband", wrong, "--out", str(tmp_path / "w.png"), "--json"))
    assert "check digit is wrong" in message
    assert not (tmp_path / "w.png").exists()


def test_the_wristband_pdf_has_the_band_size_the_text_and_its_font(tmp_path: Path) -> None:
    number = new_temporary_number()
    out = tmp_path / "band.pdf"
    data = ok(kiosk(tmp_path, "print", "wristband", number, "--out", str(out), "--json"))
    assert data["format"] == "pdf" and data["arrival"] is None and data["arrival_source"] is None
    reader, text = pdf_text(out)
    assert out.read_bytes().startswith(b"%PDF-") and len(reader.pages) == 1
    box = reader.pages[0].mediabox
    assert abs(float(box.width) - 280 * MM) < 0.5 and abs(float(box.height) - 25 * MM) < 0.5
    assert temporary_alias(number) in text and printed_number(number) in text
    assert "Arrival time not known" in text, "no server and no --arrival: the band says the time is not known"
    fonts: Any = reader.pages[0]["/Resources"]
    fonts = fonts["/Font"]
    for ref in fonts.values():
        descriptor = ref.get_object()["/DescendantFonts"][0].get_object()["/FontDescriptor"].get_object()
        assert "DejaVu" in descriptor["/FontName"] and "/FontFile2" in descriptor, "the font travels with the file"
    assert number not in str(reader.metadata) and "danh tính" not in str(reader.metadata)


def test_the_ticket_reads_in_vietnamese_and_english(tmp_path: Path) -> None:
    out = tmp_path / "ticket.pdf"
    department = "Khoa Chẩn đoán hình ảnh"
    expires = (dt.datetime.now().astimezone() + dt.timedelta(hours=3)).replace(second=0, microsecond=0)
    data = ok(
        kiosk(tmp_path, "print", "ticket", "--queue-number", "a012", "--department", department, "--room", "Phòng 105B",
              "--expires", expires.isoformat(), "--out", str(out), "--json")
    )  # fmt: skip
    assert data["queue_number"] == "A012" and data["expires"] == expires.isoformat()
    reader, text = pdf_text(out)
    assert abs(float(reader.pages[0].mediabox.width) - 80 * MM) < 0.5
    flat = " ".join(text.split())
    for words in (
        "PHIẾU SỐ THỨ TỰ",
        "A012",
        department,
        "Phòng / Room: Phòng 105B",
        "Mời quý khách đến",
        "Please go to",
    ):
        assert words in flat
    assert f"Valid until: {expires.strftime('%d/%m/%Y %H:%M')}" in flat
    png = tmp_path / "ticket.png"
    ok(
        kiosk(
            tmp_path, "print", "ticket", "--queue-number", "7", "--department", department, "--out", str(png), "--json"
        )
    )
    with Image.open(png) as image:
        assert image.width == 945, "80 mm at 300 dpi"


def test_every_letter_of_a_ticket_has_a_glyph_in_its_face() -> None:
    fonts = Fonts()
    now = dt.datetime.now().astimezone()
    words = "Khoa Hồi sức tích cực - Chống độc, Ứng Ửu Ỵ ỹ ữ ặ ẫ"
    sheet = ticket_sheet(QueueTicket("B7", words, "Tầng 3", now, now + dt.timedelta(hours=1)), fonts)
    texts = [item for item in sheet.items if isinstance(item, Text)]
    assert any("Hồi sức" in item.text for item in texts)
    for item in texts:
        cmap = TTFont(fonts.path(item.face)).getBestCmap()
        assert all(c.isspace() or ord(c) in cmap for c in item.text), (item.face.value, item.text)


def test_a_department_the_font_cannot_write_is_refused(tmp_path: Path) -> None:
    out = tmp_path / "t.png"
    message = refused(
        kiosk(tmp_path, "print", "ticket", "--queue-number", "3", "--department", "内科", "--out", str(out), "--json")
    )
    assert "no glyph" in message and not out.exists()


def test_clear_errors(tmp_path: Path) -> None:
    number = new_temporary_number()
    assert "not a temporary number" in refused(kiosk(tmp_path, "print", "wristband", "123456789012", "--out",
                                                      str(tmp_path / "a.png"), "--json"))  # fmt: skip
    assert "unknown extension '.jpg'" in refused(
        kiosk(tmp_path, "print", "wristband", number, "--out", str(tmp_path / "a.jpg"), "--json")
    )
    assert "cannot write" in refused(
        kiosk(tmp_path, "print", "wristband", number, "--out", str(tmp_path / "missing" / "a.png"), "--json")
    )
    assert "--arrival" in refused(
        kiosk(tmp_path, "print", "wristband", number, "--out", str(tmp_path / "a.png"), "--arrival", "today", "--json")
    )
    ticket = ["print", "ticket", "--department", "Khoa Nội", "--out", str(tmp_path / "t.pdf"), "--json"]
    assert "--queue-number" in refused(kiosk(tmp_path, *ticket, "--queue-number", "12 OR 1=1"))
    assert "already past" in refused(kiosk(tmp_path, *ticket, "--queue-number", "3", "--expires", "2020-01-01T08:00"))
    assert "--department: empty" in refused(
        kiosk(tmp_path, "print", "ticket", "--queue-number", "3", "--department", " \t", "--out",
              str(tmp_path / "t.pdf"), "--json")
    )  # fmt: skip
    no_fonts = tmp_path / "fonts"
    no_fonts.mkdir()
    message = refused(
        kiosk(tmp_path, "print", "wristband", number, "--out", str(tmp_path / "a.png"), "--json",
              KIOSK_PRINT_FONT_DIR=str(no_fonts))
    )  # fmt: skip
    assert "DejaVuSans.ttf" in message and "fonts-dejavu-core" in message
    assert list(tmp_path.glob("*.p*")) == [], "a refused print writes no file"


def fake_lp(folder: Path, exit_code: int = 0) -> Path:
    """A stand-in for CUPS's `lp` (a system program, not ours): it records its arguments."""
    folder.mkdir()
    lp = folder / "lp"
    lp.write_text(
        "#!/bin/sh\n"
        f'printf "%s\\n" "$@" > "{folder}/args"\n'
        + ('echo "request id is ward3-17 (1 file(s))"\n' if exit_code == 0 else f'echo "{NO_QUEUE}" >&2\n')
        + f"exit {exit_code}\n"
    )  # fmt: skip
    lp.chmod(lp.stat().st_mode | stat.S_IXUSR)
    return folder


def test_printer_gets_the_file_through_lp(tmp_path: Path) -> None:
    bin_dir = fake_lp(tmp_path / "bin")
    out = tmp_path / "band.pdf"
    number = new_temporary_number()
    data = ok(
        kiosk(tmp_path, "print", "wristband", number, "--out", str(out), "--printer", "ward3", "--json",
              PATH=f"{bin_dir}:/usr/bin:/bin")
    )  # fmt: skip
    assert data["printer"] == "ward3" and data["job"] == "request id is ward3-17 (1 file(s))"
    assert (bin_dir / "args").read_text().splitlines() == ["-d", "ward3", "--", str(out)]
    # The printer from the settings when no --printer is given.
    data = ok(kiosk(tmp_path, "print", "wristband", number, "--out", str(out), "--json", KIOSK_PRINTER="ward3",
                    PATH=f"{bin_dir}:/usr/bin:/bin"))  # fmt: skip
    assert data["printer"] == "ward3"


def test_printer_refusals(tmp_path: Path) -> None:
    number = new_temporary_number()
    out = tmp_path / "band.png"
    empty = tmp_path / "empty"
    empty.mkdir()
    message = refused(kiosk(tmp_path, "print", "wristband", number, "--out", str(out), "--printer", "ward3", "--json",
                            PATH=str(empty)))  # fmt: skip
    assert "`lp` command" in message and "not installed" in message
    assert not out.exists(), "a print that cannot be sent fails before the file is made"
    failing = fake_lp(tmp_path / "bin", exit_code=1)
    message = refused(kiosk(tmp_path, "print", "wristband", number, "--out", str(out), "--printer", "nowhere",
                            "--json", PATH=f"{failing}:/usr/bin:/bin"))  # fmt: skip
    assert "refused the job" in message and "does not exist" in message
    assert number not in message


def _server_env(folder: Path, base: str, app: Faulty) -> dict[str, str]:
    jwk = app.key.as_dict(private=False) | {"kid": app.kid, "facility_code": "01001", "facility_name": "Bạch Mai"}
    trust = folder / "trust.json"
    trust.write_text(json.dumps({"keys": [jwk]}), encoding="utf-8")
    return {
        "KIOSK_SERVER": base,
        "KIOSK_CLIENT_ID": "demo-er",
        "KIOSK_CLIENT_SECRET": "demo-er",
        "KIOSK_TRUST_LIST": str(trust),
        "KIOSK_CACHE_DIR": str(folder / "cache"),
        "KIOSK_CACHE_KEY_FILE": str(folder / "cache.key"),
        "KIOSK_AUDIT_JOURNAL_DIR": str(folder / "journal"),
        "KIOSK_MODE": "er",
    }


def test_the_arrival_comes_from_the_server_record(tmp_path: Path) -> None:
    number, other = new_temporary_number(), new_temporary_number()
    arrived = dt.datetime(2026, 12, 1, 23, 5, tzinfo=dt.UTC)
    app = Faulty()
    app.patients["t1"] = {"id": "t1", **patient_resource(number, UnknownArrival(arrival=arrived))}
    app.patients["t2"] = {
        "id": "t2",
        **patient_resource(other, UnknownArrival(arrival=arrived + dt.timedelta(hours=5))),
    }
    out = tmp_path / "band.pdf"
    with serve(app) as base:
        env = _server_env(tmp_path, base, app)
        data = ok(kiosk(tmp_path, "print", "wristband", printed_number(number), "--out", str(out), "--json", **env))
    assert data["arrival_source"] == "record"
    assert dt.datetime.fromisoformat(data["arrival"]) == arrived
    _, text = pdf_text(out)
    assert f"Arrived: {arrived.astimezone().strftime('%d/%m/%Y %H:%M')}" in text


def test_a_server_that_does_not_answer_leaves_the_time_unknown(tmp_path: Path) -> None:
    out = tmp_path / "band.png"
    env = _server_env(tmp_path, f"http://127.0.0.1:{free_port()}/fhir", Faulty())
    data = ok(kiosk(tmp_path, "print", "wristband", new_temporary_number(), "--out", str(out), "--json", **env))
    assert data["arrival"] is None and data["arrival_source"] is None and out.exists()


def test_doctor_says_whether_printing_works(tmp_path: Path) -> None:
    def printing(**env: str) -> dict[str, Any]:
        done = kiosk(tmp_path, "doctor", "--json", "--timeout", "0.1", **env)
        checks: list[dict[str, Any]] = [json.loads(line) for line in done.stdout.splitlines()]
        (check,) = [c for c in checks if c["name"] == "printing"]
        return check

    assert printing()["status"] == "ok"
    empty = tmp_path / "empty"
    empty.mkdir()
    broken = printing(KIOSK_PRINTER="ward3", PATH=str(empty))
    assert broken["status"] == "error" and "`lp` command" in broken["detail"]
    assert "fonts-dejavu-core" in printing(KIOSK_PRINT_FONT_DIR=str(empty))["detail"]
