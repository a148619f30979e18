"""Hypothesis generators of real-shaped hostile inputs for tests/test_fuzz.py.

Not random bytes: Kubernetes Deployments with mutated fields, ModelSpecs with
mutated fields, snapshots with mutated facts, engine argv built from each
engine's real flags and odd values, ``sh -c`` scripts built from shell syntax,
and YAML text with odd scalars (YAML 1.1 booleans, sexagesimals, huge ints,
bad dates, tags, anchors, control characters) spliced into valid documents.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import yaml
from hypothesis import strategies as st

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "specs" / "examples"
MANIFESTS = EXAMPLES / "manifests"

# Scalars that YAML, Kubernetes quantities or skewaudit's parsers may misread.
ODD_TEXT = [
    "", " ", "yes", "no", "on", "off", "y", "n", "~", "null", "Null", "true", "True", "0", "-0", "1", "-1",
    "0x1F", "0o17", "017", "1_000", "1e3", "1e999", "-1e999", ".inf", "-.inf", ".nan", "nan", "inf",
    "12:30:00", "190:20:30", "2024-13-45", "2024-02-30T25:61:00Z", "0000-00-00", "1k", "1Ki", "500m",
    "1.5", "8Gi", "abc", "9" * 5000, "-" + "9" * 400, "1" * 30, "\t", "\x00", "\x07", "\x1b[2J", "\r\n",
    "\u202e", "\ufeff", "😀", "a: b", "- x", "#c", "'", '"', "{", "[", "}", "]", "&a", "*a", "!!binary x",
    "<<", "$(HF_TOKEN)", "${X}", "$X", "`id`", "\\", "--", "-", "=", "a=b", "auto", "bfloat16", "float16",
    "awq", "fp8", "meta-llama/Llama-3.1-70B-Instruct", "http://user:pw@host/x", "hf_" + "A" * 34,
]
ODD_SCALARS = st.one_of(
    st.sampled_from(ODD_TEXT), st.none(), st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
)
ODD_VALUES = st.recursive(ODD_SCALARS, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.dictionaries(st.sampled_from(["a", "name", "value", "kind", ""]) | st.text(max_size=6),
                                                 inner, max_size=3)), max_leaves=6)


def _yaml_docs(path: Path) -> list[Any]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d is not None]


BASE_OBJECTS = [d for p in sorted(MANIFESTS.glob("*.yaml")) for d in _yaml_docs(p)] + \
    [d for p in sorted((ROOT / "tests" / "fixtures" / "k8s").glob("*.yaml")) for d in _yaml_docs(p)]
BASE_SPECS = [yaml.safe_load(p.read_text()) for p in sorted(EXAMPLES.glob("*.yaml"))]


def _paths(node: Any, prefix: tuple = ()) -> list[tuple]:
    out = [prefix]
    if isinstance(node, dict):
        for k, v in node.items():
            out += _paths(v, prefix + (k,))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out += _paths(v, prefix + (i,))
    return out


def _set(doc: Any, path: tuple, value: Any, delete: bool) -> Any:
    if not path:
        return value
    cur = doc
    for p in path[:-1]:
        cur = cur[p]
    if delete:
        del cur[path[-1]]
    else:
        cur[path[-1]] = value
    return doc


@st.composite
def mutated(draw: st.DrawFn, bases: list[Any]) -> Any:
    """One of ``bases`` (deep-copied) with 1-4 fields replaced by odd values or removed."""
    doc = copy.deepcopy(draw(st.sampled_from(bases)))
    for _ in range(draw(st.integers(1, 4))):
        paths = _paths(doc)
        path = draw(st.sampled_from(paths))
        delete = bool(path) and draw(st.booleans()) and draw(st.booleans())
        try:
            doc = _set(doc, path, draw(ODD_VALUES), delete)
        except (KeyError, IndexError, TypeError):
            pass
    return doc


def _dump(doc: Any) -> str:
    try:
        return yaml.safe_dump(doc, sort_keys=False, allow_unicode=True)
    except (yaml.YAMLError, ValueError, TypeError):
        return json.dumps(doc, default=str)


@st.composite
def yaml_text(draw: st.DrawFn, bases: list[Any]) -> str:
    """YAML text: a mutated document, sometimes with raw odd text spliced in, truncated,
    repeated as several documents, or with a duplicated key."""
    docs = [draw(mutated(bases)) for _ in range(draw(st.integers(1, 3)))]
    text = "---\n".join(_dump(d) for d in docs)
    how = draw(st.sampled_from(["plain", "splice", "truncate", "dupkey", "crlf", "bom", "flow"]))
    if how == "splice":
        lines = text.splitlines()
        i = draw(st.integers(0, max(0, len(lines) - 1)))
        indent = " " * draw(st.sampled_from([0, 2, 4, 6, 8, 3]))
        key = draw(st.sampled_from(["name", "image", "args", "value", "replicas", "nvidia.com/gpu", "x"]))
        odd = draw(st.sampled_from(ODD_TEXT) | st.text(max_size=12))
        lines.insert(i, f"{indent}{key}: {odd}")
        text = "\n".join(lines)
    elif how == "truncate":
        text = text[:draw(st.integers(0, len(text)))]
    elif how == "dupkey":
        text = text.replace("metadata:", "metadata: {}\nmetadata:", 1)
    elif how == "crlf":
        text = text.replace("\n", "\r\n")
    elif how == "bom":
        text = "\ufeff" + text
    elif how == "flow":
        text = "[" * draw(st.integers(1, 200)) + text
    return text


@st.composite
def json_bytes(draw: st.DrawFn, bases: list[Any]) -> bytes:
    """JSON bytes of a mutated document: plain, truncated, BOM-prefixed or with one byte flipped."""
    import msgspec

    doc = draw(mutated(bases))
    data = msgspec.json.encode(doc) if not isinstance(doc, float) else b"1e999"
    how = draw(st.sampled_from(["plain", "plain", "truncate", "bom", "flip"]))
    if how == "truncate":
        data = data[:draw(st.integers(0, len(data)))]
    elif how == "bom":
        data = b"\xef\xbb\xbf" + data
    elif how == "flip" and data:
        i = draw(st.integers(0, len(data) - 1))
        data = data[:i] + bytes([draw(st.integers(0, 255))]) + data[i + 1:]
    return data


# --- engine argv ----------------------------------------------------------------------------

ENTRYPOINTS = [
    ["vllm", "serve"], ["python3", "-m", "vllm.entrypoints.openai.api_server"], ["text-generation-launcher"],
    ["python", "-m", "sglang.launch_server"], ["python", "-m", "huggingfaceserver"], ["tritonserver"], [],
]
FLAGS = [
    "--model", "--model-id", "--model-path", "--served-model-name", "--tensor-parallel-size", "-tp", "--tp",
    "--tp-size", "--pipeline-parallel-size", "--num-shard", "--max-model-len", "--max-input-length",
    "--max-total-tokens", "--context-length", "--dtype", "--quantize", "--quantization", "--kv-cache-dtype",
    "--gpu-memory-utilization", "--mem-fraction-static", "--max-num-seqs", "--max-batch-prefill-tokens",
    "--enable-prefix-caching", "--no-enable-prefix-caching", "--enforce-eager", "--revision", "--tokenizer",
    "--trust-remote-code", "--api-key", "--hf-token", "--port", "--host", "--config", "--", "-", "--x",
]
VALUES = ["1", "2", "4", "8", "0", "-1", "1k", "1e3", "0x10", "4096", "32k", "128000", "auto", "half",
          "bfloat16", "float16", "fp8", "awq", "gptq", "bitsandbytes", "0.9", "1.5", "true", "false", "",
          "meta-llama/Llama-3.1-8B-Instruct", "Qwen/Qwen2.5-7B", "$(MODEL)", "$(HF_TOKEN)", "${TP}", "$TP",
          "'quoted value'", '"dq"', "a b", "-x", "=", "--", "\\", "9" * 40]
SHELL_BITS = [";", "&&", "||", "|", ">", ">>", "2>&1", "< /dev/null", "&", "exec", "export", "set -e", "if",
              "then", "fi", "do", "done", "$(", ")", "`", "'", '"', "\\", "\n", "#", "A=1", "P=secret", "$P",
              "${P}", "cd /app", "echo hi", "<<EOF", "EOF", "{", "}", "(", ")", "*", "~", "!"]
IMAGES = ["vllm/vllm-openai:v0.6.3", "ghcr.io/huggingface/text-generation-inference:2.4.0",
          "lmsysorg/sglang:v0.3.5-cu124", "kserve/huggingfaceserver:v0.14.0", "nvcr.io/nvidia/tritonserver:24.08",
          "busybox", "", "::::", "x@sha256:" + "0" * 64]
ENV_NAMES = ["MODEL", "TP", "HF_TOKEN", "VLLM_API_KEY", "HUGGING_FACE_HUB_TOKEN", "CUDA_VISIBLE_DEVICES",
             "MAX_MODEL_LEN", "NUM_SHARD", "QUANTIZE", "DTYPE", "P", "X", "PATH", ""]


@st.composite
def engine_argv(draw: st.DrawFn) -> list[str]:
    """A command line: an engine entrypoint, then flags (``--f v``, ``--f=v``, bare) with odd values."""
    argv = list(draw(st.sampled_from(ENTRYPOINTS)))
    for _ in range(draw(st.integers(0, 8))):
        flag = draw(st.sampled_from(FLAGS))
        value = draw(st.sampled_from(VALUES) | st.text(max_size=8))
        form = draw(st.sampled_from(["pair", "eq", "bare"]))
        argv += [flag, value] if form == "pair" else [f"{flag}={value}"] if form == "eq" else [flag]
    if draw(st.booleans()):
        argv.append(draw(st.sampled_from(VALUES)))   # a positional (vllm serve MODEL)
    return argv


@st.composite
def shell_script(draw: st.DrawFn) -> str:
    """A ``sh -c`` script: engine command lines mixed with shell syntax."""
    parts: list[str] = []
    for _ in range(draw(st.integers(1, 6))):
        if draw(st.booleans()):
            parts.append(" ".join(draw(engine_argv())))
        else:
            parts.append(draw(st.sampled_from(SHELL_BITS)))
    return " ".join(parts)


@st.composite
def container_command(draw: st.DrawFn) -> tuple[list[str] | None, list[str] | None]:
    """Kubernetes ``command``/``args``: plain argv, ``sh -c SCRIPT``, or split between the two."""
    form = draw(st.sampled_from(["argv", "sh", "split", "none"]))
    if form == "sh":
        return [draw(st.sampled_from(["sh", "/bin/bash", "bash"])), draw(st.sampled_from(["-c", "-lc", "-ec"]))], \
            [draw(shell_script())]
    argv = draw(engine_argv())
    if form == "split":
        i = draw(st.integers(0, len(argv)))
        return argv[:i] or None, argv[i:] or None
    if form == "none":
        return None, argv or None
    return argv or None, None


ENV = st.dictionaries(st.sampled_from(ENV_NAMES), st.sampled_from(VALUES) | st.none(), max_size=5)
