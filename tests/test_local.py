"""Local mode (skewaudit.collect.local): a fake /proc, the recorded NVML, and the CLI end to end."""

from __future__ import annotations

import ctypes.util
import os
import socket
import subprocess
import sys
from pathlib import Path

import msgspec
import pytest

import fake_nvml
from skewaudit.collect import SourceRequest, gather, local, nvml
from skewaudit.errors import InputError

HF_TOKEN = "hf_AbCdEfGhIjKlMnOpQrStUvWx"
API_KEY = "sk-live-0123456789abcdefXYZ"
DB_PASSWORD = "correct-horse-battery"
VLLM_ARGV = ["python3", "-m", "vllm.entrypoints.openai.api_server", "--model", "meta-llama/Llama-3.1-8B-Instruct",
             "--dtype", "half", "--api-key", API_KEY, "--tensor-parallel-size", "2"]
ENGINE_ENV = {"HF_TOKEN": HF_TOKEN, "DB_PASSWORD": DB_PASSWORD, "CUDA_VISIBLE_DEVICES": "1,3",
              "VLLM_ATTENTION_BACKEND": "FLASHINFER", "PATH": "/usr/local/bin:/usr/bin"}
REPO = Path(__file__).resolve().parents[1]


def write_proc(root: Path, pid: int, argv: list[str], env: dict[str, str] | None = None) -> None:
    d = root / str(pid)
    d.mkdir(parents=True)
    (d / "cmdline").write_bytes(b"".join(a.encode() + b"\0" for a in argv))
    (d / "environ").write_bytes(b"".join(f"{k}={v}".encode() + b"\0" for k, v in (env or {}).items()))


@pytest.fixture
def proc(tmp_path, monkeypatch) -> Path:
    """A fake /proc with the vLLM process 1234, selected through SKEWAUDIT_PROC_ROOT, and the
    4 x A100 recording as the NVML answer."""
    root = tmp_path / "proc"
    write_proc(root, 1234, VLLM_ARGV, ENGINE_ENV)
    monkeypatch.setenv(local.PROC_ROOT_ENV, str(root))
    monkeypatch.setenv(nvml.REPLAY_ENV, fake_nvml.path("a100x4_nvlink"))
    monkeypatch.delenv(local.IMAGE_ENV, raising=False)
    return root


def _only(snap):
    [w] = snap.workloads
    [pod] = w.pods
    [c] = pod.containers
    return w, pod, c


def test_pid_mode_reads_argv_env_engine_and_gpus(proc):
    snap = gather(SourceRequest(local=True, pid=1234))
    w, pod, c = _only(snap)
    assert (snap.source, w.kind, w.object, w.pods_collected) == ("local", "Process", "process/1234", True)
    assert pod.name == w.name == (socket.gethostname() or "local")
    assert c.name == "engine"
    assert c.argv[:7] == VLLM_ARGV[:7]
    # only what serving reads is recorded: DB_PASSWORD and PATH are not serving facts
    assert {e.name for e in c.env} == {"HF_TOKEN", "CUDA_VISIBLE_DEVICES", "VLLM_ATTENTION_BACKEND"}
    assert next(e for e in c.env if e.name == "VLLM_ATTENTION_BACKEND").value == "FLASHINFER"
    assert all(e.source == "process" and e.path == f"env[{e.name}]" for e in c.env)
    assert c.engine.engine == "vllm"
    dtype = c.engine.fields["dtype"]
    assert (dtype.value, dtype.prov.source, dtype.prov.object, dtype.prov.path) == (
        "half", "arg", "process/1234", "cmdline[6]")
    assert c.engine.fields["tensor_parallel_size"].value == 2
    # the engine's CUDA_VISIBLE_DEVICES decides which of the 4 GPUs count
    assert [d.index for d in pod.gpu.devices] == [1, 3]
    assert pod.gpu.visible_devices == "CUDA_VISIBLE_DEVICES=1,3"
    assert pod.gpu.devices[0].name == "NVIDIA A100-SXM4-80GB"
    assert snap.inputs == [str(proc / "1234" / "cmdline"), str(proc / "1234" / "environ"),
                           fake_nvml.path("a100x4_nvlink")]
    assert snap.issues == []


def test_secrets_never_reach_the_snapshot(proc):
    snap = gather(SourceRequest(local=True, pid=1234))
    text = msgspec.json.encode(snap).decode()
    for secret in (HF_TOKEN, API_KEY, DB_PASSWORD):
        assert secret not in text
    _, _, c = _only(snap)
    env = {e.name: e.value for e in c.env}
    assert env["HF_TOKEN"].startswith("<redacted:") and "DB_PASSWORD" not in env
    assert c.argv[8].startswith("<redacted:")


def test_spec_declared_env_is_kept_besides_serving_prefixes(proc):
    snap = gather(SourceRequest(local=True, pid=1234, env_names=("PATH",)))
    _, _, c = _only(snap)
    assert {e.name for e in c.env} == {"HF_TOKEN", "CUDA_VISIBLE_DEVICES", "VLLM_ATTENTION_BACKEND", "PATH"}


def test_local_scripts_are_redacted_like_manifests(proc, tmp_path, monkeypatch):
    script = "export P=zq-local-script-secret; exec vllm serve m --enforce-eager --api-key $P"
    write_proc(tmp_path / "p2", 77, ["sh", "-c", script], {})
    monkeypatch.setenv(local.PROC_ROOT_ENV, str(tmp_path / "p2"))
    snap = gather(SourceRequest(local=True, pid=77))
    text = msgspec.json.encode(snap).decode()
    assert "zq-local-script-secret" not in text
    _, _, c = _only(snap)
    assert c.argv[:2] == ["sh", "-c"] and "--api-key" in c.argv[2] and "<redacted:" in c.argv[2]


def test_request_proc_root_and_image(tmp_path, monkeypatch):
    write_proc(tmp_path / "p", 42, ["text-generation-launcher", "--model-id", "bigscience/bloom", "--num-shard", "2"],
               {"MAX_TOTAL_TOKENS": "4096"})
    monkeypatch.delenv(local.PROC_ROOT_ENV, raising=False)
    monkeypatch.setenv(nvml.REPLAY_ENV, fake_nvml.path("l4"))
    monkeypatch.setenv(local.IMAGE_ENV, "ghcr.io/huggingface/text-generation-inference:3.3.6")
    snap = gather(SourceRequest(local=True, pid=42, proc_root=str(tmp_path / "p")))
    _, pod, c = _only(snap)
    assert (c.engine.engine, c.image.ref) == ("tgi", "ghcr.io/huggingface/text-generation-inference:3.3.6")
    assert c.engine.fields["max_model_len"].prov.path == "env[MAX_TOTAL_TOKENS]"
    assert pod.gpu.devices[0].name == "NVIDIA L4"


@pytest.mark.skipif(ctypes.util.find_library("nvidia-ml") is not None, reason="this machine has an NVIDIA driver")
def test_cmdline_on_a_machine_without_driver(monkeypatch):
    monkeypatch.delenv(nvml.REPLAY_ENV, raising=False)
    monkeypatch.setenv("SKEWAUDIT_TEST_MARKER", "on")
    monkeypatch.setenv("VLLM_TEST_MARKER", "on")
    monkeypatch.setenv("MY_SERVICE_PASSWORD", DB_PASSWORD)
    snap = gather(SourceRequest(local=True, cmdline="vllm serve m --dtype half"))
    w, pod, c = _only(snap)
    assert (w.object, c.argv) == ("process/cmdline", ["vllm", "serve", "m", "--dtype", "half"])
    assert c.engine.fields["dtype"].value == "half"
    env = {e.name: e.value for e in c.env}
    # skewaudit's own environment stands in for the engine's: only serving variables are kept
    assert env["VLLM_TEST_MARKER"] == "on" and "SKEWAUDIT_TEST_MARKER" not in env
    assert "MY_SERVICE_PASSWORD" not in env
    assert DB_PASSWORD not in msgspec.json.encode(snap).decode()
    assert (pod.gpu.status, pod.gpu.reason) == ("unavailable", "no NVIDIA driver: libnvidia-ml.so.1 not found")
    [issue] = snap.issues
    assert (issue.kind, issue.area, issue.message) == (
        "unsupported", "gpu", "no NVIDIA driver: libnvidia-ml.so.1 not found")


@pytest.mark.parametrize("recording,kind,start", [
    ("no_permission", "forbidden", "no permission to use the GPU"),
    ("driver_not_loaded", "unreachable", "NVIDIA driver not loaded"),
    ("gpu_lost", "unreachable", "GPU is lost"),
])
def test_gpu_failures_become_issues(proc, monkeypatch, recording, kind, start):
    monkeypatch.setenv(nvml.REPLAY_ENV, fake_nvml.path(recording))
    snap = gather(SourceRequest(local=True, pid=1234))
    [issue] = snap.issues
    assert (issue.kind, issue.area, issue.scope) == (kind, "gpu", "process/1234")
    assert issue.message.startswith(start)
    assert _only(snap)[2].engine.engine == "vllm"     # the engine facts are still there


def test_no_visible_gpu_is_an_issue(tmp_path, monkeypatch):
    write_proc(tmp_path, 7, ["vllm", "serve", "m"], {"CUDA_VISIBLE_DEVICES": ""})
    monkeypatch.setenv(nvml.REPLAY_ENV, fake_nvml.path("a100x4_nvlink"))
    snap = gather(SourceRequest(local=True, pid=7, proc_root=str(tmp_path)))
    [issue] = snap.issues
    assert (issue.kind, issue.area, issue.message) == (
        "not-found", "gpu", "NVML sees no GPUs with CUDA_VISIBLE_DEVICES=")


def test_unreadable_process_files_are_input_errors(tmp_path, monkeypatch):
    monkeypatch.setenv(nvml.REPLAY_ENV, fake_nvml.path("l4"))
    with pytest.raises(InputError, match=r"/999/cmdline: no such process 999"):
        gather(SourceRequest(local=True, pid=999, proc_root=str(tmp_path)))
    write_proc(tmp_path, 5, [])
    with pytest.raises(InputError, match=r"/5/cmdline: empty command line"):
        gather(SourceRequest(local=True, pid=5, proc_root=str(tmp_path)))
    (tmp_path / "6" / "cmdline").mkdir(parents=True)
    with pytest.raises(InputError, match=r"/6/cmdline: cannot read"):
        gather(SourceRequest(local=True, pid=6, proc_root=str(tmp_path)))
    write_proc(tmp_path, 8, ["vllm", "serve", "m"])
    (tmp_path / "8" / "environ").unlink()
    with pytest.raises(InputError, match=r"/8/environ: no such process 8"):
        gather(SourceRequest(local=True, pid=8, proc_root=str(tmp_path)))


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root reads any file")
def test_permission_denied_names_the_file(tmp_path):
    write_proc(tmp_path, 9, ["vllm", "serve", "m"], {"A": "b"})
    (tmp_path / "9" / "environ").chmod(0)
    with pytest.raises(InputError, match=r"/9/environ: permission denied"):
        gather(SourceRequest(local=True, pid=9, proc_root=str(tmp_path)))


def test_bad_cmdline_text():
    with pytest.raises(InputError, match="--cmdline: cannot split the command line: No closing quotation"):
        gather(SourceRequest(local=True, cmdline="vllm serve 'm"))


def test_scanning_proc_finds_the_engine(tmp_path, monkeypatch):
    write_proc(tmp_path, 1, ["/sbin/init"])
    write_proc(tmp_path, 77, ["bash"])
    write_proc(tmp_path, 1234, ["/usr/bin/python3", "/usr/local/bin/vllm", "serve", "m", "--dtype", "bfloat16"],
               {"HF_TOKEN": HF_TOKEN})
    write_proc(tmp_path, 1240, ["python3", "-c", "from multiprocessing.spawn import spawn_main; spawn_main()"])
    write_proc(tmp_path, 2000, ["text-generation-launcher", "--model-id", "x"])
    (tmp_path / "self").mkdir()
    monkeypatch.setenv(nvml.REPLAY_ENV, fake_nvml.path("l4"))
    snap = gather(SourceRequest(local=True, proc_root=str(tmp_path)))
    w, _, c = _only(snap)
    assert w.object == "process/1234"
    assert c.engine.fields["dtype"].value == "bfloat16"
    assert c.argv_note == f"engine process found by scanning {tmp_path}: pid 1234 (also: 2000)"
    assert HF_TOKEN not in msgspec.json.encode(snap).decode()


def test_scanning_without_engine_reports_not_found(tmp_path, monkeypatch):
    write_proc(tmp_path, 77, ["bash"])
    monkeypatch.setenv(nvml.REPLAY_ENV, fake_nvml.path("l4"))
    snap = gather(SourceRequest(local=True, proc_root=str(tmp_path)))
    _, pod, c = _only(snap)
    assert (c.argv, c.engine) == (None, None)
    [issue] = snap.issues
    assert (issue.kind, issue.area) == ("not-found", "engine")
    assert "pass --pid N or --cmdline" in issue.message
    assert pod.gpu.status == "ok"


def test_unrecognised_command_line(monkeypatch):
    monkeypatch.setenv(nvml.REPLAY_ENV, fake_nvml.path("l4"))
    snap = gather(SourceRequest(local=True, cmdline="python train.py --epochs 3"))
    [issue] = snap.issues
    assert (issue.kind, issue.area) == ("unsupported", "engine")
    assert _only(snap)[2].argv == ["python", "train.py", "--epochs", "3"]


@pytest.mark.parametrize("argv,yes", [
    (["vllm", "serve", "m"], True),
    (["/usr/bin/python3", "/usr/local/bin/vllm", "serve", "m"], True),
    (["python", "-m", "vllm.entrypoints.openai.api_server"], True),
    (["python3", "-m", "sglang.launch_server", "--model-path", "m"], True),
    (["sglang", "serve", "m"], True),
    (["text-generation-launcher", "--model-id", "m"], True),
    (["text-generation-server", "serve", "m"], False),          # a TGI shard: the launcher holds the config
    (["python", "-m", "vllmx"], False),
    (["bash", "-c", "vllm serve m"], False),
    (["VLLM::EngineCore"], False),
])
def test_looks_like_engine(argv, yes):
    assert local.looks_like_engine(argv) is yes


# --- the CLI ------------------------------------------------------------------------------------

def _cli_ready() -> bool:
    from skewaudit.commands import collect as cmd

    return "placeholder" not in (cmd.__doc__ or "")


needs_cli = pytest.mark.skipif(not _cli_ready(), reason="`skewaudit collect` is still the placeholder")


def _run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    full = {k: v for k, v in os.environ.items() if not k.startswith("SKEWAUDIT_")}
    full.update(env)
    return subprocess.run([sys.executable, "-m", "skewaudit", *args], capture_output=True, text=True, env=full,
                          cwd=REPO, timeout=60)


@needs_cli
def test_cli_collect_local_pid_json(proc):
    p = _run(["collect", "--local", "--pid", "1234", "--format", "json"],
             {local.PROC_ROOT_ENV: str(proc), nvml.REPLAY_ENV: fake_nvml.path("h100x8_mig")})
    assert p.returncode == 0, p.stderr
    for secret in (HF_TOKEN, API_KEY, DB_PASSWORD):
        assert secret not in p.stdout + p.stderr
    snap = msgspec.json.decode(p.stdout)
    [w] = snap["workloads"]
    gpu = w["pods"][0]["gpu"]
    assert [d["index"] for d in gpu["devices"]] == [1, 3]
    assert gpu["devices"][0]["mig_devices"][0]["profile"] == "1g.10gb"
    assert w["pods"][0]["containers"][0]["engine"]["fields"]["dtype"]["prov"]["path"] == "cmdline[6]"


@needs_cli
@pytest.mark.skipif(ctypes.util.find_library("nvidia-ml") is not None, reason="this machine has an NVIDIA driver")
def test_cli_collect_local_cmdline_without_driver():
    p = _run(["collect", "--local", "--cmdline", "vllm serve m --dtype half"], {"MY_API_KEY": API_KEY})
    out = p.stdout + p.stderr
    assert p.returncode == 0, out
    assert "no NVIDIA driver" in out
    assert "half" in out
    assert API_KEY not in out and "Traceback" not in out
    p = _run(["collect", "--local", "--cmdline", "vllm serve m --dtype half", "--format", "json"],
             {"MY_API_KEY": API_KEY, "SKEWAUDIT_TEST_MARKER": "on"})
    assert p.returncode == 0, p.stderr
    assert API_KEY not in p.stdout
    snap = msgspec.json.decode(p.stdout)
    c = snap["workloads"][0]["pods"][0]["containers"][0]
    assert c["argv"] == ["vllm", "serve", "m", "--dtype", "half"]
    env = {e["name"]: e["value"] for e in c.get("env", [])}
    # skewaudit's own environment is not the engine's: only serving variables are recorded
    assert "SKEWAUDIT_TEST_MARKER" not in env and "MY_API_KEY" not in env
    assert snap["workloads"][0]["pods"][0]["gpu"]["reason"] == "no NVIDIA driver: libnvidia-ml.so.1 not found"


@needs_cli
def test_cli_collect_local_missing_pid(tmp_path):
    p = _run(["collect", "--local", "--pid", "999"], {local.PROC_ROOT_ENV: str(tmp_path)})
    assert p.returncode == 2
    assert "999/cmdline: no such process 999" in p.stderr
    assert "Traceback" not in p.stderr


def test_local_table_shows_argv_and_engine_env_redacted():
    from clirun import skewaudit

    r = skewaudit("collect", "--local", "--cmdline", "vllm serve m --dtype half --api-key s3cr3t-value",
                  env={"HF_TOKEN": "hf_abcdefghijklmnopqrst", "VLLM_LOGGING_LEVEL": "DEBUG"})
    assert r.code == 0, r.err
    assert "argv: vllm serve m --dtype half --api-key <redacted:" in r.out
    assert "VLLM_LOGGING_LEVEL=DEBUG" in r.out and "HF_TOKEN=<redacted:" in r.out
    assert "s3cr3t-value" not in r.out + r.err and "hf_abcdefghijklmnopqrst" not in r.out + r.err
    assert "no NVIDIA driver" in r.out
