"""The Health Point Number (HPN): one number per person across the whole platform.

Scheme: 10 random digits (the first never 0) followed by a Luhn check digit, 11 digits in all, written in
groups as `HPN 4821 0937 615`. The Luhn digit catches every single mistyped digit and almost every swap
of two neighbouring digits, the two commonest errors at a reception desk. Numbers are random, not
sequential, so an HPN says nothing about when or where a person registered.
"""

from __future__ import annotations

import secrets


def luhn_digit(digits: str) -> str:
    """The Luhn check digit for `digits`."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 0:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return str((10 - total % 10) % 10)


def generate() -> str:
    body = str(secrets.randbelow(9) + 1) + "".join(str(secrets.randbelow(10)) for _ in range(9))
    return body + luhn_digit(body)


def normalize(value: str) -> str:
    """Digits only: 'HPN 4821 0937 615' and '48210937615' are the same number."""
    text = str(value or "").upper().removeprefix("HPN").replace(" ", "").replace("-", "")
    return text


def is_valid(value: str) -> bool:
    digits = normalize(value)
    return len(digits) == 11 and digits.isdigit() and digits[0] != "0" and luhn_digit(digits[:-1]) == digits[-1]


def display(value: str) -> str:
    d = normalize(value)
    return f"HPN {d[:4]} {d[4:8]} {d[8:]}"
