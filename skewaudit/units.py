"""Units skewaudit parses: Kubernetes quantities, token lengths, versions.

Token lengths follow vLLM's convention, documented in the README: lower-case
``k/m/g`` are decimal (``32k`` = 32000), upper-case ``K/M/G`` and ``Ki/Mi/Gi``
are binary (``32K`` = ``32Ki`` = 32768). A bare integer is exact.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

_QUANTITY = re.compile(r"^([+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E)?$")
_BINARY = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}
_DECIMAL = {"n": Decimal("1e-9"), "u": Decimal("1e-6"), "m": Decimal("1e-3"), "": Decimal(1), "k": Decimal(10**3),
            "M": Decimal(10**6), "G": Decimal(10**9), "T": Decimal(10**12), "P": Decimal(10**15), "E": Decimal(10**18)}


# The API server's bound (resource.Quantity holds at most 2^63-1 in magnitude).
_MAX_QUANTITY = Decimal(2**63 - 1)


def parse_quantity(value: str | int | float) -> Decimal:
    """A Kubernetes resource quantity as an exact Decimal (``"80Gi"`` -> 85899345920).

    The one quantity parser: collectors, checks, spec constraints and snapshot loading all
    use it. Raises ValueError on anything the API server would reject, and on values it
    would have to cap (beyond 2^63-1), ``nan`` and infinities. Agrees with
    ``kubernetes.utils.parse_quantity`` on every valid quantity (tests/test_units.py),
    but is stricter: that one accepts ``nan``, ``inf`` and ``1e999``.
    """
    if isinstance(value, bool):
        raise ValueError(f"not a quantity: {value!r}")
    try:
        if isinstance(value, int):
            number = Decimal(value)
        elif isinstance(value, float):
            if value != value or value in (float("inf"), float("-inf")):
                raise ValueError(f"not a Kubernetes quantity: {value!r}")
            number = Decimal(str(value))
        else:
            m = _QUANTITY.match(str(value).strip())
            if not m:
                raise ValueError(f"not a Kubernetes quantity: {_short(value)} (examples: 500m, 2, 80Gi, 80G)")
            suffix = m.group(2) or ""
            number = Decimal(m.group(1)) * (_BINARY[suffix] if suffix in _BINARY else _DECIMAL[suffix])
    except ArithmeticError:   # decimal overflow on an absurd exponent
        raise ValueError(f"not a Kubernetes quantity: {_short(value)} (out of range)") from None
    if abs(number) > _MAX_QUANTITY:
        # worded as the spec constraints word every bound (skewaudit.constraints.LIMITS)
        raise ValueError(f"{_short(value)} is beyond any sane value here (at most {int(_MAX_QUANTITY):,})")
    return number


# Extended resources that count accelerator devices, every vendor (skewaudit.accelerators.resources
# names them): their quantities must be whole numbers.
DEVICE_RESOURCE_PREFIXES = ("nvidia.com/gpu", "nvidia.com/mig-", "amd.com/gpu", "google.com/tpu", "habana.ai/gaudi",
                            "aws.amazon.com/neuron", "gpu.intel.com/")


def gpu_count(value: str | int | float) -> int:
    """A device count (``nvidia.com/gpu``, ``nvidia.com/mig-1g.10gb``…): a quantity that is a
    whole number >= 0. ``"500m"`` or ``"1.5"`` is a valid quantity but no device count."""
    q = parse_quantity(value)
    if q < 0 or q != q.to_integral_value():
        raise ValueError(f"not a whole number of devices: {_short(value)}")
    return int(q)


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


_TOKENS = re.compile(r"^(\d+(?:\.\d+)?)\s*(k|m|g|K|M|G|Ki|Mi|Gi)?$")
_TOKEN_MULT = {None: 1, "k": 10**3, "m": 10**6, "g": 10**9, "K": 2**10, "M": 2**20, "G": 2**30,
               "Ki": 2**10, "Mi": 2**20, "Gi": 2**30}


def parse_tokens(value: str | int) -> int:
    """A token length: ``8192``, ``"32k"`` (32000), ``"32K"`` / ``"32Ki"`` (32768)."""
    if isinstance(value, bool):
        raise ValueError(f"not a token length: {value!r}")
    if isinstance(value, int):
        if value < 0:
            raise ValueError(f"token length must be >= 0, got {value}")
        return value
    m = _TOKENS.match(str(value).strip())
    if not m:
        raise ValueError(f"not a token length: {value!r} (examples: 8192, 32K = 32768, 32k = 32000)")
    number, suffix = m.group(1), m.group(2)
    if "." in number and suffix not in ("k", "m", "g"):
        raise ValueError(f"not a token length: {value!r}: decimals only with k/m/g (e.g. 25.6k)")
    try:
        result = Decimal(number) * _TOKEN_MULT[suffix]
    except InvalidOperation:
        raise ValueError(f"not a token length: {value!r}") from None
    if result != result.to_integral_value():
        raise ValueError(f"not a whole number of tokens: {value!r}")
    return int(result)


_VERSION_PART = re.compile(r"\d+|[A-Za-z]+")


def parse_version(value: str | int | float) -> tuple:
    """A dotted version as a comparable tuple: ``"550.107.02"`` -> (550, 107, 2).

    A leading ``v`` is dropped; non-numeric parts (``rc1``) sort before numbers
    of the same position, so ``1.0rc1 < 1.0``.
    """
    s = str(value).strip().lstrip("vV")
    if not s or not s[0].isdigit():
        raise ValueError(f"not a version: {value!r}")
    out: list = []
    for part in _VERSION_PART.findall(s.split("+", 1)[0]):
        out.append((1, int(part)) if part.isdigit() else (0, part))
    return tuple(out)


def version_str(t: tuple) -> str:
    return ".".join(str(p[1]) for p in t)
