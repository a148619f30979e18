"""Public serving manifests (tests/fixtures/public/, each citing its repository, path and commit):
what skewaudit reads from manifests it was not written against.

For every manifest: ``collect`` never fails (no exit 70, no traceback); ``init`` captures each serving
workload, and once the reviewer fills the TODOs the spec marks as required, ``validate`` accepts it
and ``diff`` of the spec against the same manifest is clean. Then the edits an incident brings (a
dtype, a context length, a parallel degree, an image tag, a GPU count, a replica count) are each
caught with the observed value and the field path they are written at. No secret the manifests
carry in plain text appears in any output.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from clirun import main_inprocess

PUBLIC = Path(__file__).parent / "fixtures" / "public"
FIXTURES = sorted(p.stem for p in PUBLIC.glob("*.yaml"))

# Manifests whose round trip is not clean, and why (the finding is true of the manifest itself).
EXPECTED_DRIFT = {
    # NIM_TENSOR_PARALLEL_SIZE=2 on a pod requesting 8 GPUs: init leaves the degree as a TODO, diff says so
    "gke-nim-gemma3-27b": {"hardware.parallelism-fits"},
}
# Manifests with no workload skewaudit serves: init says so in one line (exit 2).
NO_WORKLOAD = {
    "lws-llamacpp": "a custom /llamacpp-leader binary with RPC workers and no GPU request",
    "production-stack-vllmruntime": "a production-stack VLLMRuntime, a kind this version does not read",
}
# Plain-text secret values in the manifests (upstream placeholders, still secrets to skewaudit).
SECRETS = ("nvapi-NVKEY", "insert-your-huggingface-token-here", "<your-hf-access-token-value>", "REPLACE_WITH_TOKEN")

_TYPES = {"nvidia": "h100", "amd": "mi300x", "intel": "gaudi2", "google": "v5e", "aws": "trn1"}


def fill_required(spec: str) -> str:
    """What a reviewer does with ``init``'s required TODOs: name the GPU class (by vendor), and a model
    id and family where the engine's model flag was not found."""
    out, vendor = [], None
    for line in spec.splitlines():
        m = re.match(r"^\s*vendor: (\S+)", line)
        vendor = m.group(1) if m else vendor
        pad, text = re.match(r"^(\s*)(.*)$", line).groups()
        if text.startswith("# TODO GPU class") and "(required" in text:
            line = f"{pad}type: {_TYPES.get(vendor, 'unknown')}"
        elif text.startswith("# TODO the model id") and "(required" in text:
            line = f"{pad}id: placeholder/model"
        elif text.startswith("# TODO model family") and "(required" in text:
            line = f"{pad}family: placeholder"
        out.append(line)
    return "\n".join(out) + "\n"


def run(monkeypatch, capsys, *args):
    code, out, err = main_inprocess(monkeypatch, capsys, *args)
    assert code != 70, err
    for secret in SECRETS:
        assert secret not in out and secret not in err, f"{secret!r} leaked by {args[0]}"
    return code, out, err


@pytest.fixture
def spec_of(monkeypatch, capsys, tmp_path):
    """``init`` on a public manifest, required TODOs filled: the spec's path."""
    def make(name: str) -> Path:
        raw = tmp_path / f"{name}.init.yaml"
        code, _, err = run(monkeypatch, capsys, "init", "--manifest", PUBLIC / f"{name}.yaml", "-o", raw)
        assert code == 0, err
        spec = tmp_path / f"{name}.spec.yaml"
        spec.write_text(fill_required(raw.read_text()))
        for secret in SECRETS:
            assert secret not in raw.read_text()
        return spec
    return make


def diff_json(monkeypatch, capsys, spec: Path, manifest: Path) -> tuple[int, list[dict]]:
    code, out, err = run(monkeypatch, capsys, "diff", spec, "--manifest", manifest, "--format", "json")
    assert code in (0, 1), err
    return code, json.loads(out)["results"]


def drifted(results: list[dict]) -> set[str]:
    return {r["check"] for r in results if r["status"] == "drift"}


def test_the_corpus_is_what_the_notes_say():
    assert 30 <= len(FIXTURES) <= 45
    for name in FIXTURES:
        head = (PUBLIC / f"{name}.yaml").read_text().splitlines()[0]
        assert re.match(r"# Source: https://github\.com/[^/]+/[^/]+/blob/[0-9a-f]{40}/\S+", head), name


@pytest.mark.parametrize("name", FIXTURES)
def test_round_trip(monkeypatch, capsys, tmp_path, spec_of, name):
    manifest = PUBLIC / f"{name}.yaml"
    code, out, err = run(monkeypatch, capsys, "collect", "--manifest", manifest)
    assert code == 0, err
    if name in NO_WORKLOAD:
        code, _, err = run(monkeypatch, capsys, "init", "--manifest", manifest, "-o", tmp_path / "s.yaml")
        assert (code, err.strip()) == (2, "error: no serving workload found in the input to capture")
        return
    spec = spec_of(name)
    code, _, err = run(monkeypatch, capsys, "validate", spec)
    assert code == 0, err
    code, results = diff_json(monkeypatch, capsys, spec, manifest)
    assert drifted(results) == EXPECTED_DRIFT.get(name, set())
    assert code == (1 if name in EXPECTED_DRIFT else 0)


# (manifest, what an incident changes (regex, replacement), check, observed value, field path)
EDITS = [
    ("gke-vllm-gemma-7b-it-tp", (r"--tensor-parallel-size=2", "--tensor-parallel-size=4"),
     "runtime.tensor-parallel", 4, "spec.template.spec.containers[0].args[1]"),
    ("gke-vllm-gemma-7b-it-tp", (r"nvidia.com/gpu: 2", "nvidia.com/gpu: 4"),
     "hardware.gpu-count", 4, "spec.template.spec.containers[0].resources.limits[nvidia.com/gpu]"),
    ("gke-vllm-gemma-7b-awq", (r"--quantization=awq", "--quantization=gptq"),
     "runtime.quantization", "gptq", "spec.template.spec.containers[0].args[2]"),
    ("gke-vllm-gemma-7b-awq", (r"vllm-openai:v[\d.]+", "vllm-openai:latest"),
     "runtime.image", "docker.io/vllm/vllm-openai:latest", "spec.template.spec.containers[0].image"),
    ("gke-vllm-llama4-maverick-fp8", (r"--max-model-len=524288", "--max-model-len=262144"),
     "runtime.max-model-len", 262144, "spec.template.spec.containers[0].args[3]"),
    ("gke-adk-vllm-deploy-llm", (r"\n  replicas: 1", "\n  replicas: 2"), "orchestration.replicas", 2, "spec.replicas"),
    ("gke-tgi-llama3-70b", (r"bitsandbytes-nf4", "gptq"),
     "runtime.quantization", "gptq", "spec.template.spec.containers[0].env[QUANTIZE]"),
    ("gke-tgi-llama3-70b", (r"(NUM_SHARD\n\s*value: \"?)2", r"\g<1>4"),
     "runtime.tensor-parallel", 4, "spec.template.spec.containers[0].env[NUM_SHARD]"),
    ("gke-vllm-tpu-llama3-70b", (r"google.com/tpu: 8", "google.com/tpu: 16"),
     "hardware.gpu-count", 16, "spec.template.spec.containers[0].resources.limits[google.com/tpu]"),
    ("lws-vllm-gpu", (r"--tensor-parallel-size 8", "--tensor-parallel-size 16"),
     "runtime.tensor-parallel", 16, "spec.leaderWorkerTemplate.leaderTemplate.spec.containers[0].command[2]"),
    ("rocm-vllm-serve-mistral-7b", (r"amd.com/gpu: \"1\"", "amd.com/gpu: \"2\""),
     "hardware.gpu-count", 2, "spec.template.spec.containers[0].resources.limits[amd.com/gpu]"),
    ("opea-vllm-gaudi", (r"habana.ai/gaudi: 1", "habana.ai/gaudi: 2"),
     "hardware.gpu-count", 2, "spec.template.spec.containers[0].resources.limits[habana.ai/gaudi]"),
    ("opea-tgi-gaudi", (r"tgi-gaudi:2.0.6", "tgi-gaudi:latest"),
     "runtime.image", "ghcr.io/huggingface/tgi-gaudi:latest", "spec.template.spec.containers[0].image"),
    ("kuberay-rayservice-llm-serve", (r"dtype: bfloat16", "dtype: float16"), "runtime.dtype", "float16",
     "spec.serveConfigV2:applications[0].args.llm_configs[0].engine_kwargs.dtype"),
    ("data-on-eks-rayservice-deepseek-r1-8b", (r"max_model_len: 8192", "max_model_len: 4096"),
     "runtime.max-model-len", 4096, "spec.serveConfigV2:applications[0].args.llm_configs[0].engine_kwargs.max_model_len"),
    ("nim-operator-nimservice", (r"\n  replicas: 1", "\n  replicas: 2"), "orchestration.replicas", 2, "spec.replicas"),
    # a flag inside the vLLM docs' `sh -c` string, underscores read as dashes (vLLM's FlexibleArgumentParser)
    ("vllm-docs-k8s-mistral-7b-nvidia", (r"--max_num_batched_tokens 1024", "--max_num_batched_tokens 4096"),
     "runtime.max-batched-tokens", 4096, "spec.template.spec.containers[0].args[0]"),
    ("vllm-docs-k8s-mistral-7b-nvidia", (r"Mistral-7B-Instruct-v0.3 ", "Mistral-7B-Instruct-v0.2 "),
     "model.id", "mistralai/Mistral-7B-Instruct-v0.2", "spec.template.spec.containers[0].args[0]"),
    # init writes only what the command line sets: a --tp added later is the GPUs no longer matching
    ("sglang-k8s-service-llama31-8b", (r"\"--port\", \"30000\"\]", '"--port", "30000", "--tp", "2"]'),
     "hardware.parallelism-fits", 2, None),
    # the InferenceService's args reach huggingfaceserver through the runtime's `bash -c '… "$@"' --`
    ("kserve-fluid-llama31-8b", (r"--max-model-len=1024", "--max-model-len=512"),
     "runtime.max-model-len", 512, "spec.predictor.model.args[1]"),
    ("kserve-fluid-llama31-8b", (r"--tensor-parallel-size=1", "--tensor-parallel-size=2"),
     "runtime.tensor-parallel", 2, "spec.predictor.model.args[2]"),
]


@pytest.mark.parametrize("name, edit, check, value, path", EDITS, ids=[f"{e[0]}:{e[2]}" for e in EDITS])
def test_incident_edits_are_caught(monkeypatch, capsys, tmp_path, spec_of, name, edit, check, value, path):
    spec = spec_of(name)
    text, n = re.subn(edit[0], edit[1], (PUBLIC / f"{name}.yaml").read_text())
    assert n >= 1, "the edit no longer applies to the fixture"
    edited = tmp_path / f"{name}.edited.yaml"
    edited.write_text(text)
    code, results = diff_json(monkeypatch, capsys, spec, edited)
    assert code == 1
    hit = [r for r in results if r["check"] == check and r["status"] == "drift"]
    assert hit, f"{check} not reported: {sorted(drifted(results))}"
    seen = hit[0]["observed"][0]
    assert (seen["value"], (seen.get("prov") or {}).get("path")) == (value, path)


def test_a_wrapper_script_is_not_read_as_the_engine_defaults(monkeypatch, capsys, tmp_path):
    # data-on-eks Neuron LWS: /usr/local/bin/run.sh builds the vLLM command from env (MODEL=…405b…);
    # vLLM's default model (Qwen/Qwen3-0.6B) and tp 1 were reported and written into the spec.
    manifest = PUBLIC / "data-on-eks-neuron-lws-llama3-405b.yaml"
    code, out, _ = run(monkeypatch, capsys, "collect", "--manifest", manifest)
    assert "Qwen" not in out
    assert re.search(r"model\s+-\s+LeaderWorkerSet/default/llama3-405b-lws \(unknown\)", out)
    code, _, _ = run(monkeypatch, capsys, "init", "--manifest", manifest, "-o", tmp_path / "s.yaml")
    spec = (tmp_path / "s.yaml").read_text()
    assert "Qwen" not in spec and "tensorParallelSize" not in spec.replace("# TODO", "")
    assert "# TODO the model id" in spec


def test_nim_parallel_degree_below_the_gpus_is_left_to_the_reviewer(monkeypatch, capsys, spec_of):
    spec = spec_of("gke-nim-gemma3-27b").read_text()
    assert "# TODO tensorParallelSize: the engine runs tp 2 × pp 1 = 2 on 8 accelerators per replica" in spec
    assert "\n      tensorParallelSize:" not in spec


def test_ray_worker_gpus_hold_several_replicas(monkeypatch, capsys, tmp_path, spec_of):
    # KubeRay's ray-service.llm-serve sample: tp 1 per Ray Serve replica on 4-GPU worker pods is not waste
    spec = spec_of("kuberay-rayservice-llm-serve")
    manifest = PUBLIC / "kuberay-rayservice-llm-serve.yaml"
    _, results = diff_json(monkeypatch, capsys, spec, manifest)
    fits = [r for r in results if r["check"] == "hardware.parallelism-fits"]
    assert [r["status"] for r in fits] == ["match"]
    # a replica bigger than a worker pod: Ray may spread it over workers, offline input cannot tell
    edited = tmp_path / "big.yaml"
    edited.write_text(manifest.read_text().replace("gpu_memory_utilization: 0.75",
                                                   "gpu_memory_utilization: 0.75\n            tensor_parallel_size: 8"))
    _, results = diff_json(monkeypatch, capsys, spec, edited)
    fits = [r for r in results if r["check"] == "hardware.parallelism-fits"]
    assert [r["status"] for r in fits] == ["unverifiable"]


def test_vllm_data_parallel_ranks_count_towards_the_gpus(monkeypatch, capsys, tmp_path, spec_of):
    # KServe's dp-ep DeepSeek sample: tp 1 × data parallel 8 ranks per pod (dataLocal) on 8 GPUs was
    # reported as "tp × pp = 1 but the pod requests 8" (vLLM docs serving/data_parallel_deployment.md:
    # each data-parallel rank runs tp × pp GPUs)
    name = "kserve-llmisvc-dp-ep-deepseek-r1"
    spec, manifest = spec_of(name), PUBLIC / f"{name}.yaml"
    assert "it also runs data parallel 32, which a spec does not declare" in spec.read_text()
    _, results = diff_json(monkeypatch, capsys, spec, manifest)
    assert [r["status"] for r in results if r["check"] == "hardware.parallelism-fits"] == ["match"]
    edited = tmp_path / "half.yaml"
    edited.write_text(manifest.read_text().replace("dataLocal: 8", "dataLocal: 4"))
    _, results = diff_json(monkeypatch, capsys, spec, edited)
    fits = [r for r in results if r["check"] == "hardware.parallelism-fits"]
    assert [(r["status"], r["message"]) for r in fits] == [
        ("drift", "tensor parallel 1 × pipeline parallel 1 × data parallel 4 = 4 GPUs, but the pod requests 8")]
