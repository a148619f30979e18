"""Alias tables that make two spellings of the same setting compare equal.

dtype and quantization names differ between engines and people
(``half``/``fp16``/``float16``; ``awq``/``awq_marlin``). The differ compares
canonical forms from here and still shows the user both spellings.
Source: shared/reference/serving-config.md §10.2–10.3 (vLLM 0.10/0.33,
TGI 3.3, SGLang 0.5 argument definitions).
"""

from __future__ import annotations

_DTYPE = {
    "auto": "auto",
    "half": "float16", "float16": "float16", "fp16": "float16", "f16": "float16", "torch.float16": "float16",
    "bfloat16": "bfloat16", "bf16": "bfloat16", "torch.bfloat16": "bfloat16",
    "float": "float32", "float32": "float32", "fp32": "float32", "f32": "float32", "torch.float32": "float32",
    "fp8": "fp8", "float8": "fp8", "fp8_e4m3": "fp8", "fp8_e4m3fn": "fp8", "fp8_e5m2": "fp8_e5m2",
    "int8": "int8", "int4": "int4",
}

# Engine-valid spellings for --dtype (argparse choices / clap enums).
ENGINE_DTYPES: dict[str, set[str]] = {
    "vllm": {"auto", "half", "float16", "bfloat16", "float", "float32"},
    "sglang": {"auto", "half", "float16", "bfloat16", "float", "float32"},
    "kserve-hf": {"auto", "half", "float16", "bfloat16", "float", "float32"},
    "tgi": {"float16", "bfloat16"},
}

_QUANT = {
    "none": "none", "": "none", "unquant": "none", "unquantized": "none",
    "awq": "awq", "awq_marlin": "awq", "auto_awq": "awq",
    "gptq": "gptq", "gptq_marlin": "gptq", "auto_gptq": "gptq", "gptq_marlin_24": "gptq", "gptq_bitblas": "gptq",
    "marlin": "marlin",
    "fp8": "fp8", "fbgemm_fp8": "fp8", "ptpc_fp8": "fp8", "w8a8_fp8": "fp8", "modelopt_fp8": "fp8",
    "fp8_per_tensor": "fp8", "fp8_per_block": "fp8", "fp8_per_channel": "fp8", "modelopt": "fp8",
    "w8a8_int8": "int8", "int8_per_channel_weight_only": "int8", "experts_int8": "int8", "eetq": "int8",
    "bitsandbytes": "bitsandbytes", "bitsandbytes-nf4": "bitsandbytes-nf4", "bitsandbytes-fp4": "bitsandbytes-fp4",
    "modelopt_fp4": "nvfp4", "nvfp4_per_token": "nvfp4", "nvfp4_online": "nvfp4", "petit_nvfp4": "nvfp4",
    "mxfp4": "mxfp4", "gpt_oss_mxfp4": "mxfp4", "quark_mxfp4": "mxfp4",
    "compressed-tensors": "compressed-tensors", "compressed_tensors": "compressed-tensors",
    "gguf": "gguf", "exl2": "exl2", "hqq": "hqq", "aqlm": "aqlm", "bitblas": "bitblas", "torchao": "torchao",
    "moe_wna16": "moe_wna16", "quark": "quark", "auto-round": "auto-round", "auto_round": "auto-round",
}

ENGINE_QUANTIZATIONS: dict[str, set[str]] = {
    "vllm": {"awq", "auto_awq", "awq_marlin", "gptq", "auto_gptq", "gptq_marlin", "gptq_marlin_24", "gptq_bitblas",
             "fp8", "fbgemm_fp8", "ptpc_fp8", "fp_quant", "modelopt", "modelopt_fp4", "modelopt_mxfp8",
             "modelopt_mixed", "compressed-tensors", "experts_int8", "quark", "moe_wna16", "torchao", "inc",
             "mxfp4", "gpt_oss_mxfp4", "fp8_per_tensor", "fp8_per_block", "fp8_per_channel",
             "int8_per_channel_weight_only", "nvfp4_per_token", "mxfp8", "bitsandbytes", "gguf", "marlin",
             "aqlm", "hqq", "bitblas", "deepspeedfp", "qqq", "auto-round", "rtn", "humming", "online",
             "deepseek_v4_fp8", "tpu_int8", "neuron_quant", "ipex"},
    "tgi": {"awq", "compressed-tensors", "eetq", "exl2", "gptq", "marlin", "bitsandbytes", "bitsandbytes-nf4",
            "bitsandbytes-fp4", "fp8"},
    "sglang": {"awq", "fp8", "mxfp8", "gptq", "gptq_marlin", "awq_marlin", "bitsandbytes", "gguf", "modelopt",
               "modelopt_fp8", "modelopt_fp4", "nvfp4_online", "modelopt_mixed", "petit_nvfp4", "w8a8_int8",
               "w8a8_fp8", "moe_wna16", "w4afp8", "mxfp4", "auto-round", "auto-round-int8", "compressed-tensors",
               "modelslim", "mxfp_w4a8", "quark", "quark_int4fp8_moe", "quark_mxfp4", "mlx_q4", "mlx_q8",
               "unquant", "humming", "marlin", "qoq"},
}


def dtype(value: object) -> str | None:
    """Canonical dtype (auto, float16, bfloat16, float32, fp8…) or None if unknown."""
    if value is None:
        return None
    return _DTYPE.get(str(value).strip().lower())


def quantization(value: object) -> str | None:
    """Canonical quantization family (none, awq, gptq, fp8, int8…) or None if unknown.

    Kernel variants fold into their family (``awq_marlin`` -> ``awq``) because
    vLLM itself upgrades ``awq`` to ``awq_marlin`` at run time.
    """
    if value is None:
        return "none"
    s = str(value).strip().lower()
    if s in _QUANT:
        return _QUANT[s]
    alt = s.replace("_", "-") if s.replace("_", "-") in _QUANT else s.replace("-", "_")
    return _QUANT.get(alt)


_TRUE = {"1", "true", "yes", "on", "y", "t"}
_FALSE = {"0", "false", "no", "off", "n", "f", ""}


def boolean(value: object) -> bool | None:
    """``True``/``"true"``/``"1"``/``"on"`` -> True; unknown spellings -> None."""
    if isinstance(value, bool):
        return value
    s = str(value).strip().lower()
    return True if s in _TRUE else False if s in _FALSE else None
