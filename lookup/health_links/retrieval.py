"""SMART Health Link retrieval: follow a link read by `link.parse_link`, fetch the manifest (or the single file of a
`U` link), download each file and decrypt it (JWE, `dir` + `A256GCM`, with the link's key).

Links point at any host, not the FHIR server, so retrieval uses its own short-lived HTTP client without the
server's credentials. The key and the passcode are secrets: they never appear in a message or a log line.
"""

from __future__ import annotations

import binascii
import json
from typing import Any

import httpx
from joserfc import jwe
from joserfc.errors import JoseError
from joserfc.jwk import OctKey
from pydantic import BaseModel, ConfigDict, SecretStr

from lookup.health_links.link import ShlError, ShlLink, b64url_decode

MAX_FILE_BYTES = 5 * 1024 * 1024
FHIR_JSON = "application/fhir+json"
SHC_JSON = "application/smart-health-card"


class ShlFile(BaseModel):
    """One decrypted file of a link."""

    model_config = ConfigDict(frozen=True)

    content_type: str
    content: dict[str, Any]


def decrypt(token: str, key: SecretStr) -> bytes:
    """Decrypt one file (compact JWE, dir + A256GCM). Some links omit the `cty` header: it is not required."""
    registry = jwe.JWERegistry(algorithms=["dir", "A256GCM"])
    registry.max_ciphertext_length = MAX_FILE_BYTES
    try:
        secret = OctKey.import_key(b64url_decode(key.get_secret_value()))
        plaintext = jwe.decrypt_compact(token.strip(), secret, registry=registry).plaintext
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


async def _get_text(http: httpx.AsyncClient, url: str, params: dict[str, str] | None = None) -> str:
    response = await http.get(url, params=params)
    if response.status_code == 404:
        raise ShlError("gone", "the SMART Health Link is no longer active")
    if response.status_code >= 400:
        raise ShlError("unreachable", f"the link's host refused the file (HTTP {response.status_code})")
    if len(response.content) > MAX_FILE_BYTES:
        raise ShlError("content", "a shared file is larger than allowed")
    return response.text


async def _manifest(http: httpx.AsyncClient, link: ShlLink, recipient: str, passcode: str | None) -> list[Any]:
    body: dict[str, Any] = {"recipient": recipient, "embeddedLengthMax": 1_000_000}
    if passcode is not None:
        body["passcode"] = passcode
    response = await http.post(link.url, json=body)
    if response.status_code == 401:
        try:
            left = response.json().get("remainingAttempts")
        except ValueError:
            left = None
        more = f"; {left} attempts left" if isinstance(left, int) else ""
        raise ShlError("passcode", f"the link needs the patient's passcode, or the one given is wrong{more}")
    if response.status_code == 404:
        raise ShlError("gone", "the SMART Health Link is no longer active")
    if response.status_code >= 400:
        raise ShlError("unreachable", f"the link's host refused the manifest (HTTP {response.status_code})")
    try:
        files = response.json().get("files")
    except (ValueError, AttributeError):
        raise ShlError("content", "the link's manifest is not JSON") from None
    if not isinstance(files, list):
        raise ShlError("content", "the link's manifest lists no files")
    return files


async def retrieve(
    link: ShlLink,
    *,
    recipient: str,
    passcode: str | None = None,
    timeout_s: float = 5.0,
    transport: httpx.AsyncBaseTransport | None = None,
) -> list[ShlFile]:
    """Every decrypted file of a link. Raises ShlError (never a network exception) with a plain message."""
    if link.expired():
        raise ShlError("expired", "the SMART Health Link has expired")
    if link.needs_passcode and passcode is None:
        raise ShlError("passcode", "the link needs the patient's passcode")
    try:
        async with httpx.AsyncClient(timeout=timeout_s, transport=transport, follow_redirects=True) as http:
            if link.direct:
                token = await _get_text(http, link.url, {"recipient": recipient})
                return [_content(decrypt(token, link.key), FHIR_JSON)]
            files: list[ShlFile] = []
            for item in await _manifest(http, link, recipient, passcode):
                if not isinstance(item, dict):
                    continue
                content_type = str(item.get("contentType") or FHIR_JSON)
                embedded = item.get("embedded")
                location = item.get("location")
                if isinstance(embedded, str):
                    text = embedded
                elif isinstance(location, str):
                    text = await _get_text(http, location)
                else:
                    continue
                files.append(_content(decrypt(text, link.key), content_type))
            return files
    except httpx.TimeoutException:
        raise ShlError("unreachable", f"the link's host did not answer within {timeout_s:g} s") from None
    except httpx.HTTPError:
        raise ShlError("unreachable", "the link's host cannot be reached") from None
