"""`kiosk staff hash-pin`: the admin PIN as the settings keep it (`admin_pin_hash`), read from standard input.

The PIN is read from the terminal without echo (asked twice), or as the first line of standard input when that is
not a terminal; it is never an argument, so no other user sees it in the process list. The hash is a salted scrypt
hash (`lookup.domain.pins`); the PIN cannot be read back from it, and a six-character PIN is the floor, since a short
one falls quickly to a stolen settings file.
"""

from __future__ import annotations

import argparse
import getpass
import sys

from kiosk.output import CommandError, emit
from lookup import hash_pin

MIN_PIN = 6


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("staff", help="staff PINs: make the admin PIN's hash for the settings")
    actions = p.add_subparsers(dest="staff_command", metavar="ACTION", required=True)
    hashing = actions.add_parser("hash-pin", help="read a PIN from standard input and print its hash (admin_pin_hash)")
    hashing.add_argument("--json", action="store_true", help='print {"admin_pin_hash": ...}')


def _read_pin() -> str:
    if sys.stdin.isatty():
        pin = getpass.getpass("PIN: ")
        if getpass.getpass("PIN again: ") != pin:
            raise CommandError("the two PINs differ")
        return pin
    return sys.stdin.readline().rstrip("\r\n")


def run(args: argparse.Namespace) -> int:
    pin = _read_pin()
    if len(pin) < MIN_PIN or not pin.isprintable():
        raise CommandError(f"a PIN has at least {MIN_PIN} printable characters")
    hashed = hash_pin(pin)
    if args.json:
        emit({"admin_pin_hash": hashed})
    else:
        sys.stdout.write(f'admin_pin_hash = "{hashed}"\n')
    return 0
