"""The public face of `lookup`: every exported name resolves, and importing the face loads none of the stacks."""

from __future__ import annotations

import subprocess
import sys

import pytest

import lookup


def test_every_exported_name_resolves_to_its_definition() -> None:
    for name in lookup.__all__:
        value = getattr(lookup, name)
        defined_in = getattr(value, "__module__", None)
        if defined_in is not None and isinstance(value, type):
            assert defined_in.startswith("lookup."), name


def test_an_unknown_name_is_an_attribute_error() -> None:
    unknown = "NoSuchThing"
    with pytest.raises(AttributeError, match=unknown):
        getattr(lookup, unknown)


def test_importing_the_face_and_the_domain_loads_no_network_or_matching_stack() -> None:
    probe = (
        "import sys; import lookup; from lookup import Demographics, ScanResult; "
        "print(sorted(m for m in ('httpx', 'joserfc', 'numpy', 'lookup.service.lookup_service') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "[]"
