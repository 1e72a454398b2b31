"""Kubernetes resource quantities (``512Mi``, ``1G``, ``1.5Gi``, ``1e3``), parsed as Kubernetes does.

``parse_quantity_text`` follows apimachinery's ``resource.ParseQuantity``: an optional sign, a
number made of ASCII digits with an optional fraction (``1``, ``1.5``, ``.5``, ``1.``), then a
suffix that is a binary SI one (``Ki`` to ``Ei``), a decimal SI one (``n u m k M G T P E`` or
none) or a decimal exponent (``e3``, ``E-2``). It reproduces the parser's leniencies too (a
lone suffix such as ``Gi`` reads as 0), so ``quantity_problem`` adds what a scratch volume's
size needs on top: a digit, no sign, more than zero.
"""

from __future__ import annotations

import re

_SUFFIX_CHARACTERS = "eEinumkKMGTP"
_DECIMAL_SI = {"n": -9, "u": -6, "m": -3, "": 0, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}
_BINARY_SI = {"Ki": 10, "Mi": 20, "Gi": 30, "Ti": 40, "Pi": 50, "Ei": 60}
_EXPONENT = re.compile(r"[+-]?[0-9]+")
_INT64 = 1 << 63
_NANO = -9
_MAX_INT64_FACTORS = 18


class QuantityError(ValueError):
    """Why ``resource.ParseQuantity`` refuses a string."""


def parse_quantity_text(text: str) -> float:
    """The value of a quantity string, or ``QuantityError`` where Kubernetes refuses it."""
    if not text:
        raise QuantityError("an empty quantity")
    if text == "0":
        return 0.0
    positive, value, number, fraction, suffix = _split(text)
    base, exponent, binary = _interpret(suffix)
    if not binary:
        precision = _MAX_INT64_FACTORS - (len(number) + len(fraction))
    elif exponent >= 0 and not fraction:
        precision = 15 - len(number) - int(exponent * 3 / 10) - 1
    else:
        precision = -1
    scale = (0 if binary else exponent) - len(fraction)
    if (precision < 0 or scale < _NANO) and not any(c in "0123456789" for c in value):
        raise QuantityError("unable to parse the numeric part of the quantity")  # inf.Dec needs a digit
    exponent = max(-400, min(400, exponent))  # no size needs more; keeps the integers small
    numerator, denominator = int(number + fraction), 10 ** len(fraction)
    if exponent >= 0:
        numerator *= base**exponent
    else:
        denominator *= base**-exponent
    amount: float
    try:
        amount = numerator / denominator
    except OverflowError:
        amount = float("inf")
    return amount if positive else -amount


def _split(text: str) -> tuple[bool, str, str, str, str]:
    """apimachinery's parseQuantityString: (positive, value, number, fraction, suffix)."""
    position, end = 0, len(text)
    positive = True
    if text[0] in "+-":
        positive = text[0] == "+"
        position = 1
    while position < end and text[position] == "0":
        position += 1
    if position >= end:
        return positive, "0", "0", "", ""
    start = position
    while position < end and text[position] in "0123456789":
        position += 1
    number = text[start:position] or "0"
    if position >= end:
        return positive, text, number, "", ""
    fraction = ""
    if text[position] == ".":
        position += 1
        start = position
        while position < end and text[position] in "0123456789":
            position += 1
        fraction = text[start:position]
        if position >= end:
            return positive, text, number, fraction, ""
    value = text[:position]
    suffix_start = position
    while position < end and text[position] in _SUFFIX_CHARACTERS:
        position += 1
    if position < end and text[position] in "+-":
        position += 1
    while position < end and text[position] in "0123456789":
        position += 1
    if position < end:
        raise QuantityError("quantities must match the regular expression "
                            "'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'")
    return positive, value, number, fraction, text[suffix_start:]


def _interpret(suffix: str) -> tuple[int, int, bool]:
    """(base, exponent, is binary) of a suffix, as the quantity suffixer reads it."""
    if suffix in _DECIMAL_SI:
        return 10, _DECIMAL_SI[suffix], False
    if suffix in _BINARY_SI:
        return 2, _BINARY_SI[suffix], True
    if len(suffix) > 1 and suffix[0] in "eE" and _EXPONENT.fullmatch(suffix[1:]):
        exponent = int(suffix[1:])
        if -_INT64 <= exponent < _INT64:
            return 10, (exponent + (1 << 31)) % (1 << 32) - (1 << 31), False  # Go keeps it in an int32
    raise QuantityError(f"unable to parse the quantity's suffix {suffix!r}")


def parse_quantity(value: object) -> float | None:
    """Bytes (or units) of a quantity given as a YAML string or number, or None if it is not one."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if not isinstance(value, str):
        return None
    try:
        return parse_quantity_text(value)
    except QuantityError:
        return None


def quantity_problem(value: object) -> str | None:
    """Why ``value`` cannot be the size of a scratch volume, or None when it can."""
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        return f"{value!r} is not a Kubernetes quantity"
    text = value if isinstance(value, str) else str(value)
    try:
        amount = parse_quantity_text(text)
    except QuantityError as exc:
        return f"{text!r} is not a Kubernetes quantity ({exc})"
    if not any(c in "0123456789" for c in text):
        return f"{text!r} has no digits (Kubernetes would read it as 0)"
    if amount < 0:
        return f"{text!r} is negative"
    if amount == 0:
        return f"{text!r} is zero: the volume could hold nothing"
    return None
