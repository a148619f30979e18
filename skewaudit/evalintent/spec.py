"""A ModelSpec from what was evaluated: every value commented with the record field it came from.

``render(record)`` is what ``init --from-eval`` writes: model id, revision,
tokenizer, precision, engine dtype, max length, tensor parallelism, memory
fraction and quantization from the records; what they do not say (the
accelerator, the task) is a ``# TODO``. ``render(record, for_audit=True)`` is the
in-memory spec of ``diff --intent-from-eval``: the same values, with the hardware
checks off (a validation record says nothing about the serving hardware) so only
what was evaluated is compared. ``sources(record)`` says which record value each
spec field was written from, so findings can point into the record.
"""

from __future__ import annotations

import json
import re
from typing import Any

from skewaudit.evalintent.record import EvalRecord, Value

# lm-eval/HF dtype names -> the engine's spelling (vLLM --dtype accepts these).
_DTYPES = {"bfloat16": "bfloat16", "bf16": "bfloat16", "float16": "float16", "fp16": "float16", "half": "float16",
           "float32": "float32", "fp32": "float32", "auto": "auto"}
_KINDS = {"deployment": "Deployment", "deploy": "Deployment", "statefulset": "StatefulSet", "sts": "StatefulSet",
          "inferenceservice": "InferenceService", "isvc": "InferenceService", "pod": "Pod"}
_PRECISION = {"bfloat16": "bf16", "float16": "fp16", "float32": "fp32"}


def _name(model_id: str | None) -> str:
    base = (model_id or "evaluated-model").rsplit("/", 1)[-1].lower()
    return re.sub(r"[^a-z0-9-]+", "-", base).strip("-")[:63] or "evaluated-model"


def _family(model_id: str | None) -> str | None:
    name = (model_id or "").lower().rsplit("/", 1)[-1]
    m = re.search(r"(llama|mistral|mixtral|qwen|gemma|phi|falcon|deepseek)[-_ ]?(\d+(?:\.\d+)?)?", name)
    if not m:
        return None
    return m.group(1) + (f"-{m.group(2)}" if m.group(2) else "")


def _camel(key: str) -> str:
    # sampling keys stay as the engines and lm-eval spell them (temperature, top_p, do_sample)
    return key


def _when(v: Any) -> str:
    if isinstance(v, (int, float)):
        import datetime as _dt

        return _dt.datetime.fromtimestamp(v, _dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    return str(v)


def _line(pad: str, key: str, v: Value | None, fmt: Any = None) -> list[str]:
    if v is None:
        return []
    value = fmt(v.value) if fmt else v.value
    if value is None:
        return []
    return [f"{pad}{key}: {_yaml(value)}  # from {v.source}"]


def _yaml(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    text = str(v)
    # Plain only when YAML cannot read it as anything but this string (no dates, numbers, booleans).
    if re.fullmatch(r"[A-Za-z][A-Za-z0-9_./@+-]*", text) and text.lower() not in ("true", "false", "null", "yes", "no",
                                                                                  "on", "off", "y", "n"):
        return text
    return json.dumps(text)


def render(rec: EvalRecord, *, for_audit: bool = False, name: str | None = None, target: str | None = None) -> str:
    """The spec text; ``name`` overrides metadata.name, ``target`` (KIND/NAME or NAME) is the workload to audit."""
    v = rec.values
    dtype = v.get("dtype") or v.get("model_dtype")
    engine = rec.get("engine") or ("vllm" if rec.get("backend") == "vllm" else None)
    tp = rec.get("tensor_parallel_size")
    out = ["# ModelSpec written by `skewaudit init --from-eval` from the validation record:",
           *[f"#   {s}" for s in rec.sources],
           "# Each value names the record field it came from; a TODO is what the records do not say.",
           "apiVersion: skewaudit.io/v1alpha1", "kind: ModelSpec", "metadata:",
           f"  name: {_yaml(name) if name else _name(rec.get('model_id'))}"]
    if rec.get("date") or rec.get("git_hash"):
        out.append("  annotations:")
        out += _line("    ", "skewaudit.io/evaluated-at", v.get("date"), _when)
        out += _line("    ", "skewaudit.io/eval-harness-commit", v.get("git_hash"), str)
    out += ["spec:", "  identity:", "    model:"]
    if rec.get("model_id"):
        out += _line("      ", "id", v["model_id"])
    else:
        out.append("      # TODO id: the model the record evaluated (required)")
    fam = _family(rec.get("model_id"))
    out.append(f"      family: {fam}  # from the model id" if fam else
               "      # TODO family: e.g. llama-3.1 (required)")
    task = rec.get("task")
    if not task and rec.get("chat_template_sha"):
        task, v["task"] = "chat", Value("chat", "the record's chat_template (evaluated with the chat template)")
    out.append(f"      task: {_yaml(task)}  # from {v['task'].source}" if task else
               ("      task: chat  # assumed for the audit: the record does not say" if for_audit else
                "      # TODO task: chat, completion, … (required)"))
    if engine:
        out.append(f"      framework: {engine}  # from {v['backend'].source if 'backend' in v else 'the record'}")
    elif for_audit:
        out.append("      framework: other  # the record names no serving engine")
    else:
        out.append("      # TODO framework: the serving engine, e.g. vllm (required)")
    out += _line("      ", "precision", dtype, lambda d: _PRECISION.get(_DTYPES.get(str(d).lower(), ""), None))
    out += _line("      ", "revision", v.get("revision"))
    if v.get("tokenizer") or v.get("tokenizer_revision"):
        out.append("      tokenizer:")
        out += _line("        ", "id", v.get("tokenizer"))
        out += _line("        ", "revision", v.get("tokenizer_revision"))
    out += ["  runtime:", "    accelerator:"]
    if for_audit:
        out += ["      vendor: nvidia  # not in the record: hardware checks are off for this audit",
                "      type: not-in-the-validation-record", f"      count: {tp or 1}"]
    else:
        out += ["      # TODO vendor: e.g. nvidia (required: the record says nothing about hardware)",
                "      # TODO type: the accelerator class served on, e.g. h100 (required)",
                f"      count: {tp}  # from {v['tensor_parallel_size'].source}" if tp else
                "      # TODO count: accelerators per replica (required)"]
    engine_lines: list[str] = []
    engine_lines += [f"      name: {engine}"] if engine else []
    engine_lines += _line("      ", "dtype", dtype, lambda d: _DTYPES.get(str(d).lower()))
    engine_lines += _line("      ", "maxModelLen", v.get("max_length"))
    engine_lines += _line("      ", "tensorParallelSize", v.get("tensor_parallel_size"))
    engine_lines += _line("      ", "gpuMemoryUtilization", v.get("gpu_memory_utilization"))
    if v.get("quantization"):
        engine_lines += _line("      ", "quantization", v.get("quantization"))
    elif v.get("model_quantization"):
        engine_lines += _line("      ", "quantization", v.get("model_quantization"))
    elif "model_unquantized" in v:
        # The model directory was read and its config.json has no quantization_config: the weights
        # evaluated were unquantized, so serving must be too (vLLM would auto-detect a quantized checkpoint).
        engine_lines.append("      quantization: none  # from config.json (no quantization_config) and no "
                            "quantization in the record")
    else:
        engine_lines.append("      # TODO quantization: the record names none; pass --model-dir to confirm the "
                            "checkpoint is unquantized, then write 'none'")
    if engine_lines:
        out += ["    engine:", *engine_lines]
    val_lines: list[str] = []
    val_lines += _line("    ", "chatTemplateSha", v.get("chat_template_sha"))
    if rec.sampling:
        val_lines.append("    sampling:")
        val_lines += [f"      {_camel(k)}: {_yaml(x.value)}  # from {x.source}" for k, x in sorted(rec.sampling.items())
                      if isinstance(x.value, (bool, int, float))]
    if rec.model_defaults:
        val_lines.append("    modelGenerationDefaults:")
        val_lines += [f"      {_camel(k)}: {_yaml(x.value)}  # from {x.source}"
                      for k, x in sorted(rec.model_defaults.items()) if isinstance(x.value, (bool, int, float))]
    if rec.libraries:
        val_lines.append("    libraries:  # at evaluation; runtime.library-versions compares what the serving image pins")
        for lib, x in sorted(rec.libraries.items()):
            val_lines += [f"      {lib}:", f"        version: {json.dumps(str(x.value))}",
                          f"        source: {_yaml(x.source)}"]
    if val_lines:
        out += ["  validation:", f"    source: {_yaml(rec.sources[0])}" if rec.sources else "    # source unknown",
                *val_lines]
    if target:
        kind, sep, wname = target.rpartition("/")
        out += ["  target:"] + ([f"    kind: {_KINDS.get(kind.lower(), kind)}"] if sep else []) + [f"    name: {_yaml(wname)}"]
    if for_audit:
        from skewaudit.playbook import load_playbook

        out += ["  policy:", "    severity:  # the record says nothing about hardware: not compared"]
        out += [f'      {cid}: "off"' for cid in load_playbook() if cid.startswith("hardware.")]
    return "\n".join(out) + "\n"


# Spec field -> the record values it is written from, first present wins (as in render()).
_FIELDS = {
    "metadata.name": ("model_id",),
    "spec.identity.model.id": ("model_id",),
    "spec.identity.model.family": ("model_id",),
    "spec.identity.model.framework": ("backend",),
    "spec.identity.model.task": ("task", "chat_template_sha"),
    "spec.identity.model.precision": ("dtype", "model_dtype"),
    "spec.identity.model.revision": ("revision",),
    "spec.identity.model.tokenizer.id": ("tokenizer",),
    "spec.identity.model.tokenizer.revision": ("tokenizer_revision",),
    "spec.runtime.accelerator.count": ("tensor_parallel_size",),
    "spec.runtime.engine.name": ("backend",),
    "spec.runtime.engine.dtype": ("dtype", "model_dtype"),
    "spec.runtime.engine.maxModelLen": ("max_length",),
    "spec.runtime.engine.tensorParallelSize": ("tensor_parallel_size",),
    "spec.runtime.engine.gpuMemoryUtilization": ("gpu_memory_utilization",),
    "spec.runtime.engine.quantization": ("quantization", "model_quantization", "model_unquantized"),
    "spec.validation.chatTemplateSha": ("chat_template_sha",),
    "metadata.annotations.skewaudit.io/evaluated-at": ("date",),
}


def sources(rec: EvalRecord) -> dict[str, Value]:
    """Each spec field ``render`` writes from the record -> the record value it came from."""
    out: dict[str, Value] = {}
    for path, keys in _FIELDS.items():
        found = next((rec.values[k] for k in keys if k in rec.values), None)
        if found is not None:
            out[path] = found
    for k, x in rec.sampling.items():
        out[f"spec.validation.sampling.{k}"] = x
    for k, x in rec.model_defaults.items():
        out[f"spec.validation.modelGenerationDefaults.{k}"] = x
    for lib, x in rec.libraries.items():
        out[f"spec.validation.libraries.{lib}.version"] = out[f"spec.validation.libraries.{lib}"] = x
    return out
