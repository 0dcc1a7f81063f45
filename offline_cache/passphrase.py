"""The strength floor of a cache passphrase.

A passphrase guards the whole cache against whoever copies the file: the attack is offline and as fast as the KDF
allows, so the floor is zxcvbn's score 4 ("very unguessable: strong protection from an offline slow-hash
scenario", at least 10^10 guesses). zxcvbn (the maintained Python port of Dropbox's estimator) sees through the
usual disguises (common passwords, keyboard runs, dates, repeats, l33t) that a rule of lengths and character classes
lets pass (`Password123!` has four classes and scores 1). A sentence of a few unrelated words passes, in any language.
"""

from __future__ import annotations

from offline_cache.errors import CacheKeyError

MIN_SCORE = 4
_MAX_CHECKED = 100
"""zxcvbn's cost grows with the length; past this many characters only the start is scored (it is long enough)."""
_CONTEXT = ["kiosk", "patient", "lookup", "offline", "cache", "hospital", "benhvien", "bệnh viện", "passphrase"]
"""Words an attacker of this product tries first."""


def check_strength(passphrase: str) -> None:
    """Refuse a passphrase under the floor with a sentence that says why and what to do (never the passphrase)."""
    from zxcvbn import zxcvbn  # its word lists load only for a kiosk that uses a passphrase

    if not passphrase:
        raise CacheKeyError("the cache passphrase is empty")
    result = zxcvbn(passphrase[:_MAX_CHECKED], user_inputs=_CONTEXT)
    score = int(result["score"])
    if score >= MIN_SCORE:
        return
    warning = str(result["feedback"].get("warning") or "").strip()
    because = f" ({warning.rstrip('.')})" if warning else ""
    raise CacheKeyError(
        f"the cache passphrase is too weak{because}: its strength is {score} of 4 and at least {MIN_SCORE} is "
        "needed, since whoever copies the cache may try guesses offline; use four or more unrelated words "
        "(or leave cache_passphrase unset to keep a random key in the OS keyring or a key file)"
    )
