"""Talking to a running sandbox as one of its demo clients: the token request, and an HTTP client carrying the token.

Demo clients use their own name as the secret (`kiosk sandbox --demo-clients`); a staff member signs in with
`staff_id` and `staff_pin` beside the client credentials.
"""

from __future__ import annotations

import httpx

STAFF_PINS = {"nurse-lan": "246810", "doctor-minh": "135791", "clerk-hoa": "112358", "auditor-an": "314159"}
"""The demo staff's PINs, as `sandbox/server/auth.py` documents them."""


def request_token(
    base_url: str,
    client: str,
    *,
    scope: str | None = None,
    staff_id: str | None = None,
    staff_pin: str | None = None,
) -> httpx.Response:
    """The token endpoint's answer, whatever it is (tests of refusals read it as it comes)."""
    form = {"grant_type": "client_credentials", "client_id": client, "client_secret": client}
    if scope:
        form["scope"] = scope
    if staff_id is not None:
        form["staff_id"] = staff_id
    if staff_pin is not None:
        form["staff_pin"] = staff_pin
    return httpx.post(f"{base_url}/auth/token", data=form, timeout=30)


def bearer_token(base_url: str, client: str, **sign_in: str | None) -> str:
    """A bearer token of `client`; a refusal is an error naming the client and the status, not the answer's body."""
    answer = request_token(base_url, client, **sign_in)
    if answer.status_code != 200:
        raise RuntimeError(f"no token for {client}: HTTP {answer.status_code}")
    token: str = answer.json()["access_token"]
    return token


def authorised_client(
    base_url: str, client: str, *, transport: httpx.HTTPTransport | None = None, **sign_in: str | None
) -> httpx.Client:
    """An HTTP client on the server's FHIR base, carrying a bearer token of `client`."""
    headers = {"Authorization": f"Bearer {bearer_token(base_url, client, **sign_in)}"}
    return httpx.Client(base_url=base_url + "/", headers=headers, timeout=30, transport=transport)
