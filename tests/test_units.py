"""Units, constraints, alias normalization and redaction: the rules the README documents."""

from __future__ import annotations

from decimal import Decimal

import pytest

from skewaudit import constraints, normalize, redact, units


@pytest.mark.parametrize("text,expected", [
    ("80Gi", 80 * 2**30), ("80G", 80 * 10**9), ("500m", Decimal("0.5")), ("2", 2), ("1.5Ki", 1536), ("1e3", 1000),
])
def test_kubernetes_quantities(text, expected):
    assert units.parse_quantity(text) == expected


@pytest.mark.parametrize("bad", ["80GB", "abc", "", "1.2.3"])
def test_bad_quantities_are_refused(bad):
    with pytest.raises(ValueError, match="quantity"):
        units.parse_quantity(bad)


@pytest.mark.parametrize("text,expected", [
    (8192, 8192), ("8192", 8192), ("32k", 32000), ("32K", 32768), ("32Ki", 32768), ("25.6k", 25600), ("1M", 2**20),
])
def test_token_lengths_follow_vllm(text, expected):
    assert units.parse_tokens(text) == expected


@pytest.mark.parametrize("bad", ["32.5K", "-1", "lots", True])
def test_bad_token_lengths(bad):
    with pytest.raises(ValueError):
        units.parse_tokens(bad)


def test_versions_compare_per_numeric_part():
    assert units.parse_version("550.107.02") > units.parse_version("550.54.15")
    assert units.parse_version("v0.10.0") == units.parse_version("0.10.0")
    assert units.parse_version("12.10") > units.parse_version("12.4")


@pytest.mark.parametrize("raw,kind,observed,ok", [
    (">=550", "version", "550.107.02", True), (">=550", "version", "535.1", False),
    ("12.4.*", "version", "12.4", True), ("12.4.*", "version", "12.5", False),
    (">=12.2,<13", "version", "12.8", True), (">=12.2,<13", "version", "13.0", False),
    ("0.90 ± 0.02", "float", 0.92, True), ("0.90 +- 0.02", "float", 0.93, False),
    (">= 8192", "tokens", "16K", True), (">= 8192", "tokens", 4096, False),
    ("32K", "tokens", 32768, True), ("32k", "tokens", 32768, False),
    (["awq", "gptq"], "str", "gptq", True), (["awq", "gptq"], "str", "fp8", False),
    ("us-a,us-b", "str", "us-a,us-b", True),        # a plain string is exact, not a comparison list
    ("80Gi", "quantity", "85899345920", True), ("80Gi", "quantity", "80G", False),
    (4, "int", "4", True), (4, "int", "four", False),
])
def test_constraints(raw, kind, observed, ok):
    assert constraints.compile(raw, kind).matches(observed) is ok


@pytest.mark.parametrize("raw,kind", [(">=abc", "version"), ("12.4.* ,>=1", "version"), ([], "str"),
                                      ("0.9 ± 0.1", "str"), ("fast", "int")])
def test_malformed_constraints_say_why(raw, kind):
    with pytest.raises(ValueError):
        constraints.compile(raw, kind)


def test_dtype_and_quantization_aliases():
    assert {normalize.dtype(x) for x in ("fp16", "half", "float16", "torch.float16")} == {"float16"}
    assert {normalize.dtype(x) for x in ("bf16", "BF16", "bfloat16")} == {"bfloat16"}
    assert {normalize.dtype(x) for x in ("fp32", "float", "float32")} == {"float32"}
    assert normalize.dtype("int3") is None
    assert normalize.quantization("awq_marlin") == normalize.quantization("awq") == "awq"
    assert normalize.quantization("gptq_marlin") == "gptq"
    assert normalize.quantization(None) == "none"
    assert normalize.quantization("compressed_tensors") == "compressed-tensors"


def test_secret_names_and_values_are_redacted_consistently():
    assert redact.is_secret_name("HF_TOKEN") and redact.is_secret_name("--api-key")
    assert not redact.is_secret_name("MAX_TOTAL_TOKENS") and not redact.is_secret_name("TOKENIZER")
    m = redact.value("HF_TOKEN", "hf_abcdefghijklmnop")
    assert redact.is_marker(m) and "hf_abcdefghijklmnop" not in m
    assert redact.value("X", "Bearer abc.def") != "Bearer abc.def"
    assert redact.value("LOG_LEVEL", "INFO") == "INFO"
    # A value already redacted (env expanded into argv) keeps its marker.
    assert redact.argv(["--hf-token", m, "--api-key=" + m]) == ["--hf-token", m, "--api-key=" + m]
    assert "s3cret" not in " ".join(redact.argv(["--api-key", "s3cret", "--port", "8000"]))
    assert "s3cret" not in redact.text("vllm serve m --api-key s3cret HF_TOKEN=s3cret")


def test_compiled_constraints_are_reused_only_for_the_same_written_value():
    """The per-run memo of compiled constraints never lets one written value stand for another
    that compares equal in Python (1 / 1.0 / True / "1", 0.0 / -0.0) and never hides an error."""
    seen = {}
    for raw in (1, 1.0, True, "1", 0.0, -0.0, [1, 2], ["1", "2"], (1, 2)):
        for kind in ("int", "float", "str"):
            try:
                first = constraints.compile(raw, kind)
            except ValueError as e:
                first = f"error: {e}"
            again = constraints.compile(raw, kind) if not isinstance(first, str) else first
            assert again == first   # same constraint text, exact value and behaviour
            if not isinstance(first, str):
                seen[(kind, type(raw).__name__, repr(raw))] = (first.text, first.exact)
    assert seen[("str", "int", "1")] != seen[("str", "bool", "True")]
    assert seen[("float", "float", "0.0")][0] == "0.0" and seen[("float", "float", "-0.0")][0] == "-0.0"
    assert seen[("str", "list", "['1', '2']")][0] == "one of [1, 2]"
    assert constraints.compile(True, "str").matches("True") and not constraints.compile(1, "str").matches("True")
    for _ in range(2):   # an error is raised every time, not remembered as a success
        with pytest.raises(ValueError, match="expected an integer"):
            constraints.compile(True, "int")
        with pytest.raises(ValueError):
            constraints.compile(2**40, "int")
