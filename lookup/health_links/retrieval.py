"""SMART Health Link retrieval: follow a link read by `link.parse_link`, fetch the manifest (or the single file of a
`U` link), download each file and decrypt it (JWE, `dir` + `A256GCM`, optionally `zip: DEF`, with the link's key).

Links point at any host, not the FHIR server, so retrieval uses its own short-lived HTTP client without the
server's credentials. The key and the passcode are secrets: they never appear in a message or a log line.

A link comes from a code anyone can print, so its host is treated as hostile:
- every address (the link, each manifest `location`, each redirect) must be https, or plain http on loopback only
  when the link itself is on loopback (a public manifest may not point the kiosk at its own machine);
- the manifest request carries the passcode, so it is never redirected; a file's GET follows a redirect only on the
  same origin, at most `MAX_REDIRECTS` times;
- one deadline (`timeout_s`) bounds the whole retrieval, however slowly the host drips its answers;
- the manifest, the number of files, each file while it streams in, each file's decompressed plaintext and all
  plaintext together are capped, and each cap has its own sentence.
"""

from __future__ import annotations

import asyncio
import binascii
import json
import zlib
from typing import Any, Final

import httpx
from joserfc import jwe
from joserfc.errors import JoseError
from joserfc.jwa import DeflateZipModel, JWEZipModel
from joserfc.jwk import OctKey
from pydantic import BaseModel, ConfigDict, SecretStr

from lookup.domain.origins import is_loopback, origin_of, private_enough, same_origin
from lookup.health_links.link import ShlError, ShlLink, b64url_decode

MAX_MANIFEST_BYTES: Final = 4 * 1024 * 1024
MAX_FILES: Final = 20
MAX_FILE_BYTES: Final = 5 * 1024 * 1024
"""The most one encrypted file may weigh, embedded or downloaded."""
MAX_INFLATED_BYTES: Final = 8 * 1024 * 1024
"""The most one file's plaintext may weigh after `zip: DEF` is undone."""
MAX_TOTAL_BYTES: Final = 16 * 1024 * 1024
"""The most all of a link's plaintext may weigh together: twenty files at their cap would not fit in a kiosk."""
EMBEDDED_LENGTH_MAX: Final = 150_000
"""Asked of the host: larger files come by `location`, so twenty embedded files stay under the manifest cap."""
MAX_REDIRECTS: Final = 3
FHIR_JSON = "application/fhir+json"
SHC_JSON = "application/smart-health-card"
_MB = 1024 * 1024


class ShlFile(BaseModel):
    """One decrypted file of a link."""

    model_config = ConfigDict(frozen=True)

    content_type: str
    content: dict[str, Any]


class _TooLarge(Exception):
    """A file's plaintext inflates beyond `MAX_INFLATED_BYTES` (raised from inside joserfc's decryption)."""


class _CappedDeflate(DeflateZipModel):
    """`zip: DEF` undone with a cap of our own: joserfc's is not ours to choose, and a few kilobytes of DEFLATE can
    inflate to gigabytes."""

    def decompress(self, s: bytes) -> bytes:
        inflater = zlib.decompressobj(zlib.MAX_WBITS if s.startswith(self.GZIP_HEAD) else -zlib.MAX_WBITS)
        try:
            plaintext = inflater.decompress(s, MAX_INFLATED_BYTES)
        except zlib.error:
            raise ShlError("decrypt", "a shared file's compressed content is damaged") from None
        if inflater.unconsumed_tail or (len(plaintext) >= MAX_INFLATED_BYTES and not inflater.eof):
            raise _TooLarge
        return plaintext


class _Registry(jwe.JWERegistry):
    """`dir` + `A256GCM`, and DEFLATE through `_CappedDeflate` only."""

    def get_zip(self, name: str) -> JWEZipModel:
        if name != "DEF":
            return super().get_zip(name)
        return _DEFLATE


_DEFLATE = _CappedDeflate()


def decrypt(token: str, key: SecretStr) -> bytes:
    """Decrypt one file (compact JWE, dir + A256GCM). Some links omit the `cty` header: it is not required."""
    registry = _Registry(algorithms=["dir", "A256GCM"])
    registry.max_ciphertext_length = MAX_FILE_BYTES
    try:
        secret = OctKey.import_key(b64url_decode(key.get_secret_value()))
        plaintext = jwe.decrypt_compact(token.strip(), secret, registry=registry).plaintext
    except _TooLarge:
        raise ShlError(
            "too-large", f"a shared file decompresses to more than {MAX_INFLATED_BYTES // _MB} MB; not read"
        ) from None
    except (JoseError, ValueError, binascii.Error):
        raise ShlError("decrypt", "the shared file could not be decrypted with the link's key") from None
    if plaintext is None:
        raise ShlError("decrypt", "the shared file is empty")
    return plaintext


def _content(plaintext: bytes, content_type: str) -> ShlFile:
    try:
        data = json.loads(plaintext)
    except ValueError:
        raise ShlError("content", "a shared file is not JSON") from None
    if not isinstance(data, dict):
        raise ShlError("content", "a shared file is not a JSON object")
    return ShlFile(content_type=content_type, content=data)


def _check_address(url: str, link_url: str) -> None:
    """https, or plain http on loopback when the link itself is on loopback (the sandbox and the tests)."""
    if origin_of(url) is None:
        raise ShlError("invalid-link", "the SMART Health Link names an address that is not an http(s) URL")
    if not private_enough(url):
        raise ShlError("insecure", "the SMART Health Link uses a plain http address; only https is accepted")
    if is_loopback(url) and not is_loopback(link_url):
        raise ShlError("insecure", "the SMART Health Link points at the kiosk's own machine; not followed")


async def _read_capped(response: httpx.Response, cap: int, too_large: str) -> bytes:
    """The body, read as it streams and dropped as soon as it passes `cap` (declared or not)."""
    declared = response.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > cap:
        raise ShlError("too-large", too_large)
    body = bytearray()
    async for chunk in response.aiter_bytes():
        body += chunk
        if len(body) > cap:
            raise ShlError("too-large", too_large)
    return bytes(body)


async def _fetch(
    http: httpx.AsyncClient,
    method: str,
    url: str,
    *,
    link_url: str,
    cap: int,
    too_large: str,
    params: dict[str, str] | None = None,
    body: dict[str, Any] | None = None,
) -> tuple[int, bytes]:
    """One request on the link's rules: the status and the capped body of the answer."""
    for _ in range(MAX_REDIRECTS + 1):
        _check_address(url, link_url)
        request = http.build_request(method, url, params=params, json=body)
        response = await http.send(request, stream=True)
        try:
            if 300 <= response.status_code < 400:
                target = response.headers.get("Location", "")
                following = str(response.url.join(target)) if target else ""
                if method != "GET":
                    # A 307/308 would repeat the POST, passcode and all, wherever it points.
                    raise ShlError(
                        "redirected", "the link's host redirected the manifest request; the passcode was not sent on"
                    )
                if not following or not same_origin(following, url):
                    raise ShlError("redirected", "the link's host redirected to another host; not followed")
                url, params = following, None
                continue
            return response.status_code, await _read_capped(response, cap, too_large)
        finally:
            await response.aclose()
    raise ShlError("redirected", f"the link's host redirected more than {MAX_REDIRECTS} times; not followed")


def _file_too_large() -> str:
    return f"a shared file is larger than {MAX_FILE_BYTES // _MB} MB; not read"


async def _get_text(http: httpx.AsyncClient, url: str, link_url: str, params: dict[str, str] | None = None) -> str:
    status, body = await _fetch(
        http, "GET", url, link_url=link_url, cap=MAX_FILE_BYTES, too_large=_file_too_large(), params=params
    )
    if status == 404:
        raise ShlError("gone", "the SMART Health Link is no longer active")
    if status >= 400:
        raise ShlError("unreachable", f"the link's host refused the file (HTTP {status})")
    return body.decode("utf-8", errors="replace")


async def _manifest(http: httpx.AsyncClient, link: ShlLink, recipient: str, passcode: str | None) -> list[Any]:
    request: dict[str, Any] = {"recipient": recipient, "embeddedLengthMax": EMBEDDED_LENGTH_MAX}
    if passcode is not None:
        request["passcode"] = passcode
    status, body = await _fetch(
        http,
        "POST",
        link.url,
        link_url=link.url,
        cap=MAX_MANIFEST_BYTES,
        too_large=f"the link's manifest is larger than {MAX_MANIFEST_BYTES // _MB} MB; not read",
        body=request,
    )
    if status == 401:
        try:
            left = json.loads(body).get("remainingAttempts")
        except (ValueError, AttributeError):
            left = None
        more = f"; {left} attempts left" if isinstance(left, int) and not isinstance(left, bool) else ""
        raise ShlError("passcode", f"the link needs the patient's passcode, or the one given is wrong{more}")
    if status == 404:
        raise ShlError("gone", "the SMART Health Link is no longer active")
    if status >= 400:
        raise ShlError("unreachable", f"the link's host refused the manifest (HTTP {status})")
    try:
        files = json.loads(body).get("files")
    except (ValueError, AttributeError):
        raise ShlError("content", "the link's manifest is not JSON") from None
    if not isinstance(files, list):
        raise ShlError("content", "the link's manifest lists no files")
    if len(files) > MAX_FILES:
        raise ShlError(
            "too-large", f"the link's manifest lists {len(files)} files; the kiosk reads at most {MAX_FILES}"
        )
    return files


async def _files(http: httpx.AsyncClient, link: ShlLink, recipient: str, passcode: str | None) -> list[ShlFile]:
    if link.direct:
        token = await _get_text(http, link.url, link.url, {"recipient": recipient})
        return [_content(decrypt(token, link.key), FHIR_JSON)]
    files: list[ShlFile] = []
    total = 0
    for item in await _manifest(http, link, recipient, passcode):
        if not isinstance(item, dict):
            continue
        content_type = str(item.get("contentType") or FHIR_JSON)
        embedded = item.get("embedded")
        location = item.get("location")
        if isinstance(embedded, str):
            if len(embedded) > MAX_FILE_BYTES:
                raise ShlError("too-large", _file_too_large())
            text = embedded
        elif isinstance(location, str):
            text = await _get_text(http, location, link.url)
        else:
            continue
        plaintext = decrypt(text, link.key)
        total += len(plaintext)
        if total > MAX_TOTAL_BYTES:
            raise ShlError("too-large", f"the link's files add up to more than {MAX_TOTAL_BYTES // _MB} MB; not read")
        files.append(_content(plaintext, content_type))
    return files


async def retrieve(
    link: ShlLink,
    *,
    recipient: str,
    passcode: str | None = None,
    timeout_s: float = 5.0,
    transport: httpx.AsyncBaseTransport | None = None,
) -> list[ShlFile]:
    """Every decrypted file of a link, within `timeout_s` in all. Raises ShlError (never a network exception)."""
    if link.expired():
        raise ShlError("expired", "the SMART Health Link has expired")
    if link.needs_passcode and passcode is None:
        raise ShlError("passcode", "the link needs the patient's passcode")
    _check_address(link.url, link.url)
    late = ShlError("unreachable", f"the link's host did not deliver the shared files within {timeout_s:g} s")
    try:
        # httpx times each read alone, so a host dripping bytes never trips it: the deadline bounds the whole link.
        async with asyncio.timeout(timeout_s):
            async with httpx.AsyncClient(
                timeout=timeout_s,
                transport=transport,
                follow_redirects=False,
                headers={"Accept-Encoding": "identity"},
            ) as http:
                return await _files(http, link, recipient, passcode)
    except (TimeoutError, httpx.TimeoutException):
        raise late from None
    except httpx.InvalidURL:
        raise ShlError("invalid-link", "the SMART Health Link names an address that is not a valid URL") from None
    except httpx.HTTPError:
        raise ShlError("unreachable", "the link's host cannot be reached") from None
