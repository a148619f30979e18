"""Local mode: audit the machine or container skewaudit runs in.

Used inside the serving pod, in an init container, or as a Job on a GPU node. The snapshot holds one
``WorkloadObs(kind="Process")`` with one pseudo-pod (named after the host) whose ``gpu`` is the NVML
report and whose one container, ``engine`` (also the workload's template container), carries:

* argv from ``--pid N`` (``/proc/N/cmdline``), from ``--cmdline "…"`` (shell-split), or, with
  neither, from the first process in ``/proc`` that runs vLLM, TGI's launcher or SGLang;
* the environment: the engine process's (``/proc/N/environ``) or, for ``--cmdline``, skewaudit's own;
* engine facts from the same parsers the Kubernetes collector uses (:mod:`skewaudit.runtimes`);
* the image from ``SKEWAUDIT_IMAGE`` when the caller knows it (set it from the pod spec).

Env values and argv are redacted before they are stored. The GPUs that count are the ones the
engine's ``CUDA_VISIBLE_DEVICES`` / ``NVIDIA_VISIBLE_DEVICES`` leave it. ``SKEWAUDIT_PROC_ROOT``
points at another ``/proc`` (tests, or a host ``/proc`` mounted into a debug pod).
"""

from __future__ import annotations

import os
import shlex
import socket
from datetime import datetime, timezone

from skewaudit import redact
from skewaudit.collect.request import SourceRequest
from skewaudit.errors import InputError
from skewaudit.model.observed import (CollectionIssue, ContainerObs, EnvVar, GpuReport, ImageRef, PodObs,
                                      PodTemplateObs, Prov, Snapshot, SourceKind, WorkloadObs)

PROC_ROOT_ENV = "SKEWAUDIT_PROC_ROOT"
IMAGE_ENV = "SKEWAUDIT_IMAGE"
CONTAINER = "engine"

_ENGINE_BINS = {"vllm", "text-generation-launcher", "sglang"}
_ENGINE_MODULES = ("vllm.entrypoints", "sglang.launch_server", "sglang.")


def _proc_root(req: SourceRequest) -> str:
    # An explicit req.proc_root wins; the env var is how tests and debug pods point elsewhere.
    if req.proc_root != "/proc":
        return req.proc_root
    return os.environ.get(PROC_ROOT_ENV) or "/proc"


def _read(path: str, pid: int) -> bytes:
    try:
        with open(path, "rb") as f:
            return f.read()
    except FileNotFoundError:
        raise InputError(f"{path}: no such process {pid}") from None
    except PermissionError:
        raise InputError(f"{path}: permission denied (process {pid} belongs to another user; "
                         "run skewaudit as that user or as root)") from None
    except OSError as e:
        raise InputError(f"{path}: cannot read: {e.strerror}") from None


def _split_nul(data: bytes) -> list[str]:
    return [p.decode("utf-8", "replace") for p in data.split(b"\0") if p]


def read_cmdline(proc_root: str, pid: int) -> list[str]:
    """argv of process ``pid``; InputError naming the file when it cannot be read or is empty."""
    path = os.path.join(proc_root, str(pid), "cmdline")
    argv = _split_nul(_read(path, pid))
    if not argv:
        raise InputError(f"{path}: empty command line (process {pid} is a kernel thread or has exited)")
    return argv


def read_environ(proc_root: str, pid: int) -> dict[str, str]:
    """Environment of process ``pid`` (values not yet redacted)."""
    path = os.path.join(proc_root, str(pid), "environ")
    env: dict[str, str] = {}
    for entry in _split_nul(_read(path, pid)):
        name, sep, value = entry.partition("=")
        if sep and name:
            env[name] = value
    return env


def looks_like_engine(argv: list[str]) -> bool:
    """True for vLLM, TGI launcher and SGLang command lines (direct, via a python shebang, or -m)."""
    for i, tok in enumerate(argv[:3]):
        if os.path.basename(tok) in _ENGINE_BINS:
            return True
        if tok == "-m" and i + 1 < len(argv) and argv[i + 1].startswith(_ENGINE_MODULES):
            return True
    return False


def find_engine(proc_root: str) -> list[tuple[int, list[str]]]:
    """Engine processes under ``proc_root``, lowest pid first (the launcher before its workers)."""
    found = []
    try:
        entries = os.listdir(proc_root)
    except OSError:
        return []
    me = os.getpid()
    for name in entries:
        if not name.isdigit() or int(name) == me:
            continue
        try:
            with open(os.path.join(proc_root, name, "cmdline"), "rb") as f:
                argv = _split_nul(f.read())
        except OSError:
            continue   # exited while we looked, or not ours to read
        if argv and looks_like_engine(argv):
            found.append((int(name), argv))
    return sorted(found)


# What serving reads from its environment: engine, Hugging Face, CUDA/NCCL/NVIDIA, thread and
# allocator settings. The rest of a process environment (skewaudit's own with --cmdline: the
# user's shell, cloud credentials, CI tokens) is not a serving fact and is never recorded.
SERVING_ENV_PREFIXES = ("VLLM_", "HF_", "HUGGING_FACE_", "TRANSFORMERS_", "TOKENIZERS_", "SAFETENSORS_",
                        "CUDA_", "NCCL_", "NVIDIA_", "CUBLAS_", "CUDNN_", "TORCH_", "PYTORCH_", "TORCHINDUCTOR_",
                        "TGI_", "TEXT_GENERATION_", "SGLANG_", "SGL_", "TRTLLM_", "TRITON_", "TLLM_", "NIM_",
                        "OMP_", "MKL_", "OPENBLAS_", "XLA_", "TPU_", "ROCM_", "HIP_", "HSA_", "ROCR_")
# TGI's launcher reads these unprefixed names (text-generation-launcher --help: env = …).
SERVING_ENV_NAMES = {"MODEL_ID", "REVISION", "DTYPE", "QUANTIZE", "NUM_SHARD", "SHARDED", "MAX_INPUT_TOKENS",
                     "MAX_INPUT_LENGTH", "MAX_TOTAL_TOKENS", "MAX_BATCH_PREFILL_TOKENS", "MAX_BATCH_TOTAL_TOKENS",
                     "MAX_CONCURRENT_REQUESTS", "MAX_BEST_OF", "MAX_STOP_SEQUENCES", "PORT", "HOSTNAME",
                     "KV_CACHE_DTYPE", "PREFIX_CACHING", "ATTENTION", "USE_FLASH_ATTENTION", "LD_LIBRARY_PATH"}


def serving_env(env: dict[str, str], declared: tuple[str, ...] = ()) -> dict[str, str]:
    """The part of a process environment serving reads (prefixes above, TGI's names, and the
    names the specs declare)."""
    keep = set(declared)
    return {k: v for k, v in env.items() if k in keep or k in SERVING_ENV_NAMES or k.startswith(SERVING_ENV_PREFIXES)}


def _argv_from_text(text: str) -> list[str]:
    try:
        argv = shlex.split(text)
    except ValueError as e:
        raise InputError(f"--cmdline: cannot split the command line: {e}") from None
    if not argv:
        raise InputError("--cmdline: the command line is empty")
    return argv


def _engine_facts(argv: list[str] | None, env: dict[str, str | None], obj: str, note: str | None):
    from skewaudit import runtimes

    env_prov = {k: Prov(SourceKind.PROCESS, obj, f"env[{k}]", CONTAINER) for k in env}
    ci = runtimes.ContainerInput(argv=argv, arg_paths=[f"cmdline[{i}]" for i in range(len(argv or []))],
                                 env=env, env_prov=env_prov, image=os.environ.get(IMAGE_ENV, ""),
                                 object=obj, container=CONTAINER, note=note)
    return runtimes.parse(ci)


def _probe(req: SourceRequest, container: ContainerObs, obj: str, issues: list[CollectionIssue], inputs: list[str]):
    """``--probe`` locally: the engine at ``--endpoint``, else at 127.0.0.1 on the port its argv names."""
    from skewaudit.collect import probe

    engine = container.engine
    name = engine.engine if engine is not None else None
    url = req.endpoint
    if url is None:
        if engine is None:
            issues.append(CollectionIssue(obj, "not-collected", "--probe: no engine command line to find the port "
                                          "in; pass --endpoint URL", area="runtime"))
            return None
        mod = probe.ENGINES.get(name)
        port_fact = engine.fields.get("port")
        port = port_fact.value if port_fact is not None and isinstance(port_fact.value, int) else \
            (mod.PORT if mod else 8000)
        url = f"http://127.0.0.1:{port}"
    rec = probe.recorder_for(req)
    report = probe.probe_url(url, name, obj, req.timeout, container=CONTAINER, hint=probe.hint_of(container),
                             record=rec)
    probe.save_recording(rec, req)
    if url not in inputs:
        inputs.append(url)
    if report.status == "unavailable":
        issues.append(CollectionIssue(obj, "unreachable", f"runtime facts unverifiable: {report.reason}",
                                      area="runtime"))
    return report


def collect(req: SourceRequest) -> Snapshot:
    """One local snapshot: the engine process (or command line), its environment, and NVML."""
    from skewaudit import __version__
    from skewaudit.collect import nvml

    proc_root = _proc_root(req)
    issues: list[CollectionIssue] = []
    inputs: list[str] = []
    note = None
    argv: list[str] | None
    if req.pid is not None:
        argv, env = read_cmdline(proc_root, req.pid), read_environ(proc_root, req.pid)
        obj = f"process/{req.pid}"
        inputs += [os.path.join(proc_root, str(req.pid), f) for f in ("cmdline", "environ")]
    elif req.cmdline is not None:
        argv, env, obj = _argv_from_text(req.cmdline), dict(os.environ), "process/cmdline"
        inputs.append("--cmdline")
    elif req.endpoint:
        # a server outside Kubernetes: its endpoints describe it, no local process does
        argv, env, obj = None, {}, f"endpoint/{req.endpoint}"
        inputs.append(req.endpoint)
    else:
        found = find_engine(proc_root)
        if found:
            pid, argv = found[0]
            obj = f"process/{pid}"
            note = f"engine process found by scanning {proc_root}: pid {pid}"
            if len(found) > 1:
                note += f" (also: {', '.join(str(p) for p, _ in found[1:4])})"
            inputs.append(os.path.join(proc_root, str(pid), "cmdline"))
            try:
                env = read_environ(proc_root, pid)
                inputs.append(os.path.join(proc_root, str(pid), "environ"))
            except InputError as e:
                env = {}
                issues.append(CollectionIssue(obj, "forbidden", e.message, area="env"))
        else:
            argv, env, obj = None, dict(os.environ), f"process/{os.getpid()}"
            issues.append(CollectionIssue(obj, "not-found", f"no engine process found in {proc_root} (looked for "
                                          "vllm, text-generation-launcher, sglang); pass --pid N or --cmdline",
                                          area="engine"))

    env = serving_env(env, req.env_names)
    red_env = {k: redact.value(k, v) for k, v in env.items()}
    red_argv = redact.command(argv)
    engine = _engine_facts(red_argv, red_env, obj, note) if red_argv is not None else None
    if red_argv is not None and engine is None:
        issues.append(CollectionIssue(obj, "unsupported", f"no known serving engine in {' '.join(red_argv[:3])!r}",
                                      area="engine"))
    container = ContainerObs(
        name=CONTAINER, image=ImageRef(ref=os.environ.get(IMAGE_ENV, "")), argv=red_argv, argv_note=note,
        env=[EnvVar(k, v, source="process", path=f"env[{k}]") for k, v in red_env.items()], engine=engine)

    if os.environ.get(nvml.REPLAY_ENV):
        inputs.append(os.environ[nvml.REPLAY_ENV])
    if req.endpoint and req.pid is None and req.cmdline is None:
        # the server is elsewhere: this machine's GPUs say nothing about it
        gpu = GpuReport(source="nvml", object=obj, status="unavailable",
                        reason=f"{req.endpoint} is a remote server: its GPUs are not visible from here")
    else:
        gpu = nvml.collect_gpus(env=env)
    if gpu.status != "ok" and gpu.object == obj:
        issues.append(CollectionIssue(obj, "not-collected", gpu.reason or "GPU facts unavailable", area="gpu"))
    elif gpu.status != "ok":
        issues.append(CollectionIssue(obj, nvml.failure_kind(gpu), gpu.reason or "GPU facts unavailable",
                                      area="gpu"))
    elif not gpu.devices:
        seen = f" with {gpu.visible_devices}" if gpu.visible_devices else ""
        issues.append(CollectionIssue(obj, "not-found", f"NVML sees no GPUs{seen}", area="gpu"))

    runtime = _probe(req, container, obj, issues, inputs) if req.probe else None
    host = socket.gethostname() or "local"
    # The running process is also the "template": there is no other statement of intent locally,
    # and renderers that list template containers then show the engine facts.
    workload = WorkloadObs(kind="Process", name=host, object=obj, pods_collected=True,
                           template=PodTemplateObs(containers=[container]),
                           pods=[PodObs(name=host, phase="Running", containers=[container], gpu=gpu,
                                        runtime=runtime)])
    return Snapshot(source="local", collected_at=datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
                    skewaudit_version=__version__, inputs=inputs, workloads=[workload], issues=issues)
