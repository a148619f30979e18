"""The validation-record fixtures (tests/fixtures/eval, its README says what each follows), shared by the
intent-from-eval tests."""

from __future__ import annotations

from pathlib import Path

from clirun import EXAMPLES

EVAL = Path(__file__).parent / "fixtures" / "eval"
VLLM = EVAL / "lm-eval-vllm-results.json"          # vLLM backend, transformers 4.53.2 / torch 2.7.1
HF = EVAL / "lm-eval-hf-results.json"              # HF backend, transformers 4.46.3 / torch 2.5.1
REV = "1605565b47bb9346c5515c34102e054115b4f98b"
MODEL_DIR = EVAL / "models--meta-llama--Llama-3.1-70B-Instruct" / "snapshots" / REV
MANIFEST = EXAMPLES / "manifests" / "llama-3.1-70b-vllm.yaml"
DRIFTED = EXAMPLES / "manifests" / "llama-3.1-70b-vllm-drifted.yaml"
TGI = EVAL / "serving" / "llama-3.1-70b-tgi.yaml"
SGLANG = EVAL / "serving" / "llama-3.1-70b-sglang.yaml"
