"""The durable local journal of audit events the outbox could not take: kept on disk until the server has them.

Without an offline cache (none configured, `--no-cache`, a cache that cannot be opened or whose disk fails), an
AuditEvent has no outbox. It is then written here *before* it is sent: one file per event, `<uuid>.json`, holding
one JSON line (the server's base URL and the idempotent `PUT AuditEvent/{uuid}` request), written to a temporary name,
flushed to the disk and renamed into place, in a 0700 folder of 0600 files. The file goes once the server has
acknowledged the event; if the server is down, or the process ends first, it stays, and the next delivery (the next
lookup, the app's periodic flush) sends it with the same uuid, so a second delivery replaces the same resource.
One file per event rather than one appended file: removing a delivered event is one `unlink` (no rewrite that a
crash could tear), and two processes sharing the folder never write the same file.

What the journal holds is exactly the AuditEvent the server would get (a Patient reference, never a name or a
number; the client id and mode; for a break-glass, the reason typed by staff), in clear: the events exist because
the encrypted cache is unusable, so there is no key to seal them with. The folder's mode is what protects them, and
it is outside the cache folder so a broken or discarded cache does not take the journal with it. Events are replayed
only to the server they were meant for; an event the server refuses as such (400, 404) is set aside as
`<uuid>.refused`, kept but not sent again.
"""

from __future__ import annotations

import logging
import os
import re
import secrets
import stat
from pathlib import Path

import orjson
from pydantic import BaseModel, ConfigDict, ValidationError

from lookup.service.audit import Delivery

log = logging.getLogger(__name__)
_NAME = re.compile(r"AuditEvent/([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})")
_MAX_ENTRY_BYTES = 256 * 1024


class JournalEntry(BaseModel):
    """One journal file: the server the event is for, and its delivery."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    server: str
    delivery: Delivery


class AuditJournal:
    """Audit events kept in `directory` until the server at `server` acknowledges them."""

    def __init__(self, directory: Path, server: str) -> None:
        self.directory = directory
        self.server = server.rstrip("/")

    def keep(self, delivery: Delivery) -> Path:
        """Write the event durably (file and folder flushed) before it is sent; the path to remove once delivered."""
        match = _NAME.fullmatch(delivery.path)
        if match is None:
            raise ValueError("only an AuditEvent/{uuid} delivery is kept in the audit journal")
        self._make_folder()
        final = self.directory / f"{match.group(1)}.json"
        temporary = self.directory / f".{match.group(1)}.{secrets.token_hex(4)}.tmp"
        line = JournalEntry(server=self.server, delivery=delivery).model_dump_json().encode() + b"\n"
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            try:
                os.write(fd, line)
                os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(temporary, final)
        finally:
            temporary.unlink(missing_ok=True)
        self._sync_folder()
        return final

    def pending(self) -> list[tuple[Path, Delivery]]:
        """The events waiting for this server, oldest first; unreadable files are set aside, never sent."""
        if not self.directory.is_dir():
            return []
        found: list[tuple[float, Path, Delivery]] = []
        for path in self.directory.glob("*.json"):
            try:
                raw = path.read_bytes()[:_MAX_ENTRY_BYTES]
                entry = JournalEntry.model_validate(orjson.loads(raw))
                when = path.stat().st_mtime
            except FileNotFoundError:  # delivered meanwhile by another process
                continue
            except (OSError, ValueError, ValidationError):
                self.set_aside(path, "unreadable")
                continue
            if entry.server.rstrip("/") == self.server and _NAME.fullmatch(entry.delivery.path):
                found.append((when, path, entry.delivery))
        return [(path, delivery) for _, path, delivery in sorted(found, key=lambda item: (item[0], item[1].name))]

    def remove(self, path: Path) -> None:
        """Forget a delivered event (again, or after another process did, is harmless)."""
        path.unlink(missing_ok=True)
        self._sync_folder()

    def set_aside(self, path: Path, why: str) -> None:
        """Keep an event the server refused (or an unreadable file) as `.refused`, out of the next deliveries."""
        try:
            path.replace(path.with_suffix(".refused"))
        except FileNotFoundError:
            return
        log.warning("an audit event of the journal was set aside (%s): %s", why, path.name)

    def _make_folder(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        if stat.S_IMODE(self.directory.stat().st_mode) != 0o700:
            self.directory.chmod(0o700)

    def _sync_folder(self) -> None:
        try:
            fd = os.open(self.directory, os.O_RDONLY)
        except OSError:
            return
        try:
            os.fsync(fd)
        except OSError:
            pass
        finally:
            os.close(fd)
