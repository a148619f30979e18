"""Device facts: NVML through the recorded fake (skewaudit.collect.nvml), one real-library test, and
nvidia-smi through pods/exec (skewaudit.collect.exec_gpu)."""

from __future__ import annotations

import ctypes.util
import json

import msgspec
import pytest

import fake_nvml
from skewaudit import gpus
from skewaudit.collect import exec_gpu, nvml, nvml_replay
from skewaudit.errors import InputError
from skewaudit.model.observed import GpuReport

MiB = 2**20


def collect(name: str, **kw) -> tuple[GpuReport, nvml_replay.ReplayNvml]:
    lib = fake_nvml.load(name)
    kw.setdefault("env", {})
    return nvml.collect_gpus(lib, **kw), lib


def test_a100_nvlink_every_field():
    r, lib = collect("a100x4_nvlink")
    assert (r.status, r.source, r.object) == ("ok", "nvml", "local")
    assert (r.driver_version, r.cuda_driver_version, r.nvml_version) == ("550.107.02", "12.4", "12.550.107.02")
    assert [d.name for d in r.devices] == ["NVIDIA A100-SXM4-80GB"] * 4
    d = r.devices[1]
    assert (d.index, d.uuid, d.memory_total_bytes, d.compute_capability) == (
        1, "GPU-a1000001-5b1e-4f8a-9c3d-0e7f6a5b4c31", 81920 * MiB, "8.0")
    assert (d.mig_mode, d.mig_devices, d.pci_bus_id) == (False, [], "00000000:0F:00.0")
    assert (d.persistence_mode, d.ecc_mode, d.power_limit_w, d.nvlink_active) == (True, True, 400.0, 12)
    assert lib.calls[0] == "nvmlInit" and lib.calls.count("nvmlShutdown") == 1
    assert r.visible_devices is None


def test_h100_mig_devices_and_profiles():
    r, _ = collect("h100x8_mig")
    assert len(r.devices) == 8
    assert all(d.mig_mode is True and d.nvlink_active == 18 for d in r.devices)
    assert all(d.memory_total_bytes == 81559 * MiB for d in r.devices)
    assert [m.profile for m in r.devices[0].mig_devices] == ["1g.10gb"] * 7
    assert [(m.index, m.profile, m.memory_mib) for m in r.devices[6].mig_devices] == [
        (0, "4g.40gb", 40192), (1, "3g.40gb", 40192)]                     # slots 2-6 empty: skipped
    assert [m.profile for m in r.devices[7].mig_devices] == ["7g.80gb"]
    assert r.devices[7].mig_devices[0].uuid == "MIG-h1007700-aaaa-5bbb-8ccc-000007000000"


def test_old_binding_returning_bytes():
    lib = fake_nvml.load("t4_bytes")
    lib.nvmlInit()
    assert isinstance(lib.nvmlDeviceGetName(lib.nvmlDeviceGetHandleByIndex(0)), bytes)   # what the fake models
    lib.nvmlShutdown()
    r, _ = collect("t4_bytes")
    d = r.devices[0]
    assert (d.name, d.uuid, d.pci_bus_id) == (
        "Tesla T4", "GPU-7d1f0c3a-1b2c-4d5e-8f90-a1b2c3d4e5f6", "00000000:00:1E.0")
    assert all(isinstance(v, str) for v in (d.name, d.uuid, d.pci_bus_id, r.driver_version, r.nvml_version))
    assert r.cuda_driver_version == "11.4"        # no _v2 getter: falls back to nvmlSystemGetCudaDriverVersion
    assert (d.mig_mode, d.nvlink_active, d.persistence_mode, d.power_limit_w) == (None, None, False, 70.0)


def test_l4():
    r, _ = collect("l4")
    d = r.devices[0]
    assert (d.name, d.compute_capability, d.memory_total_bytes // MiB, d.power_limit_w) == (
        "NVIDIA L4", "8.9", 23034, 72.0)
    assert (r.cuda_driver_version, d.mig_mode, d.nvlink_active) == ("12.2", None, None)


@pytest.mark.parametrize("name,reason,kind", [
    ("no_library", "no NVIDIA driver: libnvidia-ml.so.1 not found", "unsupported"),
    ("driver_not_loaded", "NVIDIA driver not loaded", "unreachable"),
    ("no_permission", "no permission to use the GPU through NVML", "forbidden"),
    ("version_mismatch", "NVML library and kernel driver versions differ", "unreachable"),
    ("gpu_lost", "GPU is lost (fell off the bus, needs a reset): GPU 1 at 00000000:0F:00.0", "unreachable"),
])
def test_failure_classes_are_unavailable_with_one_line(name, reason, kind):
    r, lib = collect(name)
    assert r.status == "unavailable"
    assert r.reason.startswith(reason)
    assert "\n" not in r.reason
    assert r.devices == [] and r.driver_version is None       # nothing half-true survives
    assert nvml.failure_kind(r) == kind
    # nvmlShutdown exactly when nvmlInit succeeded (the real library raises Uninitialized otherwise)
    assert lib.calls.count("nvmlShutdown") == (1 if name == "gpu_lost" else 0)


def test_unsupported_calls_leave_fields_empty():
    r, lib = collect("not_supported")
    assert r.status == "ok"
    d = r.devices[0]
    assert (d.name, d.compute_capability, d.memory_total_bytes // MiB) == ("NVIDIA A10G", "8.6", 23028)
    assert (d.ecc_mode, d.persistence_mode, d.power_limit_w, d.mig_mode, d.nvlink_active) == (None,) * 5
    assert lib.calls.count("nvmlShutdown") == 1


def test_missing_binding_reported(monkeypatch):
    monkeypatch.setattr(nvml, "_load_lib", lambda: None)
    monkeypatch.delenv(nvml.REPLAY_ENV, raising=False)
    r = nvml.collect_gpus(env={})
    assert (r.status, r.reason) == ("unavailable", "nvidia-ml-py is not installed (Python module pynvml)")


def test_shutdown_even_when_a_call_blows_up():
    lib = fake_nvml.load("l4")

    def boom(h):
        raise RuntimeError("binding bug")
    lib.nvmlDeviceGetUUID = boom
    with pytest.raises(RuntimeError):
        nvml.collect_gpus(lib, env={})
    assert lib.calls.count("nvmlShutdown") == 1


def test_calls_before_init_fail_like_the_real_library():
    lib = fake_nvml.load("l4")
    with pytest.raises(lib.NVMLError_Uninitialized):
        lib.nvmlDeviceGetCount()
    with pytest.raises(lib.NVMLError) as e:
        lib.nvmlShutdown()
    assert e.value.value == 1


# --- visibility ----------------------------------------------------------------------------------


@pytest.mark.parametrize("env,indices,label", [
    ({"CUDA_VISIBLE_DEVICES": "1,3"}, [1, 3], "CUDA_VISIBLE_DEVICES=1,3"),
    ({"CUDA_VISIBLE_DEVICES": "GPU-a1000002-5b1e-4f8a-9c3d-0e7f6a5b4c32"}, [2], None),
    ({"CUDA_VISIBLE_DEVICES": "GPU-a1000003"}, [3], None),                      # unique prefix, as CUDA allows
    ({"CUDA_VISIBLE_DEVICES": "0,bogus,2"}, [0], None),                         # CUDA stops at the first bad entry
    ({"CUDA_VISIBLE_DEVICES": ""}, [], None),
    ({"NVIDIA_VISIBLE_DEVICES": "all"}, [0, 1, 2, 3], "NVIDIA_VISIBLE_DEVICES=all"),
    ({"NVIDIA_VISIBLE_DEVICES": "void"}, [], None),
    ({"NVIDIA_VISIBLE_DEVICES": "none"}, [], None),
    ({"NVIDIA_VISIBLE_DEVICES": "0,1,2,3"}, [0, 1, 2, 3], None),
    ({"NVIDIA_VISIBLE_DEVICES": "/var/run/nvidia-container-devices"}, [0, 1, 2, 3], None),
    ({"NVIDIA_VISIBLE_DEVICES": "GPU-a1000001-5b1e-4f8a-9c3d-0e7f6a5b4c31"}, [1], None),
    ({"NVIDIA_VISIBLE_DEVICES": "all", "CUDA_VISIBLE_DEVICES": "2"}, [2],
     "NVIDIA_VISIBLE_DEVICES=all; CUDA_VISIBLE_DEVICES=2"),
    ({}, [0, 1, 2, 3], None),
])
def test_visible_devices(env, indices, label):
    r, _ = collect("a100x4_nvlink", env=env)
    assert [d.index for d in r.devices] == indices
    if label:
        assert r.visible_devices == label


def test_visible_argument_overrides_env():
    r, _ = collect("a100x4_nvlink", env={"CUDA_VISIBLE_DEVICES": "0"}, visible="3")
    assert ([d.index for d in r.devices], r.visible_devices) == ([3], "CUDA_VISIBLE_DEVICES=3")


def test_mig_uuid_keeps_only_that_instance():
    r, _ = collect("h100x8_mig", env={"CUDA_VISIBLE_DEVICES": "MIG-h1006301-aaaa-5bbb-8ccc-000006000001"})
    assert [d.index for d in r.devices] == [6]
    assert [m.profile for m in r.devices[0].mig_devices] == ["3g.40gb"]


def test_default_env_is_this_process(monkeypatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "2")
    r = nvml.collect_gpus(fake_nvml.load("a100x4_nvlink"))
    assert [d.index for d in r.devices] == [2]


# --- record and replay ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", fake_nvml.NAMES)
def test_record_then_replay_gives_the_same_report(name):
    rec = nvml.record(fake_nvml.load(name))
    again = nvml_replay.ReplayNvml(json.loads(json.dumps(rec)))
    assert nvml.collect_gpus(again, env={}) == nvml.collect_gpus(fake_nvml.load(name), env={})
    if name == "t4_bytes":
        assert rec["binding"] == "bytes"


def test_replay_env_var(monkeypatch):
    monkeypatch.setenv(nvml.REPLAY_ENV, fake_nvml.path("h100x8_mig"))
    r = nvml.collect_gpus(env={})
    assert (r.status, len(r.devices), r.devices[0].name) == ("ok", 8, "NVIDIA H100 80GB HBM3")


def test_replay_bad_files_are_input_errors(monkeypatch, tmp_path):
    monkeypatch.setenv(nvml.REPLAY_ENV, str(tmp_path / "missing.json"))
    with pytest.raises(InputError, match=r"missing\.json: cannot read NVML recording"):
        nvml.collect_gpus(env={})
    bad = tmp_path / "bad.json"
    bad.write_text('{"devices": [\n  {"nvmlDeviceGetName": }\n]}')
    monkeypatch.setenv(nvml.REPLAY_ENV, str(bad))
    with pytest.raises(InputError, match=r"bad\.json:2:\d+: not an NVML recording"):
        nvml.collect_gpus(env={})
    bad.write_text('{"devices": [{"nvmlDeviceGetMemoryInfo": 5, "nvmlDeviceGetName": "x"}]}')
    with pytest.raises(InputError, match="malformed NVML recording"):
        nvml.collect_gpus(env={})


def _l4_with(path: str, value) -> dict:
    rec = json.loads(open(fake_nvml.path("l4")).read())
    *parents, last = path.split(".")
    node = rec
    for p in parents:
        node = node[int(p)] if p.isdigit() else node[p]
    node[last] = value
    return rec


# Found by the recording-readers fuzz target (tests/test_fuzz.py): each crashed with a traceback
# (exit 70) or, for the counts, would loop for hours; each must be one line, exit 2.
@pytest.mark.parametrize("path,value,message", [
    ("devices.0.nvmlDeviceGetEccMode", 1, "malformed NVML recording (TypeError"),
    ("devices.0.nvmlDeviceGetEnforcedPowerLimit", "72000", "malformed NVML recording (TypeError"),
    ("devices.0.nvmlDeviceGetName", 5, "malformed NVML recording (ValidationError: Expected `str`, got `int` - "
                                       "at `$.devices[0].name`)"),
    ("devices.0.nvmlDeviceGetCudaComputeCapability", [8], "malformed NVML recording (IndexError"),
    ("nvlink_max_links", "", ":1:1: not an NVML recording: 'nvlink_max_links' must be an integer"),
    ("nvlink_max_links", 10**12, ":1:1: not an NVML recording: nvlink_max_links: 1000000000000 is out of range"),
    ("nvmlDeviceGetCount", 10**9, ":1:1: not an NVML recording: nvmlDeviceGetCount: 1000000000 is out of range"),
    ("devices.0.nvmlDeviceGetMaxMigDeviceCount", 10**9,
     ":1:1: not an NVML recording: devices[0].nvmlDeviceGetMaxMigDeviceCount: 1000000000 is out of range"),
])
def test_replay_of_a_hand_edited_recording_is_an_input_error(monkeypatch, tmp_path, path, value, message):
    rec = _l4_with(path, value)
    if path.endswith("MaxMigDeviceCount"):
        rec["devices"][0]["nvmlDeviceGetMigMode"] = [1, 1]
    bad = tmp_path / "rec.json"
    bad.write_text(json.dumps(rec))
    monkeypatch.setenv(nvml.REPLAY_ENV, str(bad))
    with pytest.raises(InputError) as e:
        nvml.collect_gpus(env={})
    assert str(e.value).startswith(f"{bad}{message}" if message.startswith(":") else f"{bad}: {message}")
    assert "\n" not in str(e.value)


def test_replay_reads_within_the_input_limit_and_locates_bad_bytes(monkeypatch, tmp_path):
    from skewaudit import limits

    rec = tmp_path / "rec.json"
    rec.write_bytes(b"\xef\xbb\xbf" + open(fake_nvml.path("l4"), "rb").read())   # a BOM is accepted
    monkeypatch.setenv(nvml.REPLAY_ENV, str(rec))
    assert nvml.collect_gpus(env={}).devices[0].name == "NVIDIA L4"
    rec.write_bytes(b'{"devices": [],\n "comment": "\xff"}')
    with pytest.raises(InputError, match=r"rec\.json:2:14: not an NVML recording: not UTF-8 text$"):
        nvml.collect_gpus(env={})
    monkeypatch.setattr(limits, "_limit", 4096)
    rec.write_text('{"devices": [], "comment": "' + "x" * 5000 + '"}')
    with pytest.raises(InputError, match=r"rec\.json: larger than 4096 bytes \(--max-input-bytes"):
        nvml.collect_gpus(env={})


def test_record_command_writes_a_replayable_file(tmp_path, monkeypatch):
    monkeypatch.setattr(nvml, "_load_lib", lambda: fake_nvml.load("l4"))
    out = tmp_path / "box.json"
    nvml._main(["record", str(out)])
    monkeypatch.setenv(nvml.REPLAY_ENV, str(out))
    assert nvml.collect_gpus(env={}).devices[0].name == "NVIDIA L4"


@pytest.mark.parametrize("attrs,total_mib,profile", [
    ({"gpuInstanceSliceCount": 1, "computeInstanceSliceCount": 1, "memorySizeMB": 4864}, 40960, "1g.5gb"),
    ({"gpuInstanceSliceCount": 3, "computeInstanceSliceCount": 3, "memorySizeMB": 19968}, 40960, "3g.20gb"),
    ({"gpuInstanceSliceCount": 7, "computeInstanceSliceCount": 7, "memorySizeMB": 40192}, 40960, "7g.40gb"),
    ({"gpuInstanceSliceCount": 3, "computeInstanceSliceCount": 1, "memorySizeMB": 19968}, 40960, "1c.3g.20gb"),
    ({"gpuInstanceSliceCount": 1, "computeInstanceSliceCount": 1, "memorySizeMB": 16384}, 143771, "1g.18gb"),
    ({"gpuInstanceSliceCount": 1, "computeInstanceSliceCount": 1, "memorySizeMB": 9856}, None, "1g.10gb"),
])
def test_mig_profile_names(attrs, total_mib, profile):
    assert nvml.mig_profile(attrs, total_mib * MiB if total_mib else None) == profile


def test_report_is_msgspec_encodable():
    r, _ = collect("h100x8_mig")
    assert msgspec.json.decode(msgspec.json.encode(r), type=GpuReport) == r


# --- the real library ------------------------------------------------------------------------------


@pytest.mark.skipif(ctypes.util.find_library("nvidia-ml") is not None, reason="this machine has an NVIDIA driver")
def test_real_library_without_driver_says_so(monkeypatch):
    monkeypatch.delenv(nvml.REPLAY_ENV, raising=False)
    r = nvml.collect_gpus(env={})
    assert (r.status, r.reason) == ("unavailable", "no NVIDIA driver: libnvidia-ml.so.1 not found")


@pytest.mark.gpu
def test_real_gpu(monkeypatch):
    import pynvml

    try:
        pynvml.nvmlInit()
        pynvml.nvmlShutdown()
    except pynvml.NVMLError as e:
        pytest.skip(f"no usable NVIDIA GPU: {e}")
    monkeypatch.delenv(nvml.REPLAY_ENV, raising=False)
    r = nvml.collect_gpus(env={})
    assert r.status == "ok", r.reason
    assert r.driver_version and r.cuda_driver_version
    assert r.devices and all(d.name and d.memory_total_bytes for d in r.devices)
    rec = nvml.record()
    assert nvml.collect_gpus(nvml_replay.ReplayNvml(json.loads(json.dumps(rec))), env={}).devices == r.devices


# --- nvidia-smi through pods/exec (skewaudit.collect.exec_gpu) -------------------------------------
SMI_8xH100 = "\n".join(["NVIDIA H100 80GB HBM3, 81559 MiB, 550.90.07, 9.0"] * 8) + "\n"
NO_DRIVER = ("NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver. Make sure that the "
             "latest NVIDIA driver is installed and running.\n")


def test_parse_nvidia_smi():
    devs = exec_gpu.parse_nvidia_smi(SMI_8xH100)
    assert len(devs) == 8 and [d.index for d in devs] == list(range(8))
    assert (devs[0].name, devs[0].memory_total_bytes, devs[0].compute_capability) == (
        "NVIDIA H100 80GB HBM3", 81559 * MiB, "9.0")
    old = exec_gpu.parse_nvidia_smi("Tesla T4, 15360 MiB, 470.82.01\n")          # no compute_cap column
    assert (old[0].name, old[0].memory_total_bytes, old[0].compute_capability) == ("Tesla T4", 15360 * MiB, None)
    na = exec_gpu.parse_nvidia_smi("NVIDIA A10G, [N/A], 535.183.01, [N/A]\n")
    assert (na[0].memory_total_bytes, na[0].compute_capability) == (None, None)
    assert exec_gpu.parse_nvidia_smi("") == []
    with pytest.raises(ValueError, match="line 1: unexpected nvidia-smi output: NVIDIA-SMI has failed"):
        exec_gpu.parse_nvidia_smi(NO_DRIVER)


def test_report_from_csv():
    r = exec_gpu.report_from_csv(SMI_8xH100, "Pod/ml/llama-0")
    assert (r.source, r.object, r.status, r.driver_version, len(r.devices)) == (
        "exec", "Pod/ml/llama-0", "ok", "550.90.07", 8)
    assert gpus.report_gpu_facts(r)["class"].value == "h100-80gb"
    bad = exec_gpu.report_from_csv(NO_DRIVER, "Pod/ml/llama-0")
    assert bad.status == "unavailable" and "couldn't communicate with the NVIDIA driver" in bad.reason


def _api_exc(status, reason):
    from kubernetes.client.exceptions import ApiException

    return ApiException(status=status, reason=reason)


@pytest.mark.parametrize("status,reason,expected", [
    (403, "Forbidden", "forbidden: pods/exec in namespace ml (--exec needs get, and create on clusters 1.30+, "
     "on pods/exec); using node labels"),
    # how the kubernetes client reports a refused websocket upgrade
    (0, "Handshake status 403 Forbidden -+-+- {'content-type': 'application/json'} -+-+- b'{\"kind\":\"Status\"}'",
     "forbidden: pods/exec in namespace ml (--exec needs get, and create on clusters 1.30+, "
     "on pods/exec); using node labels"),
    (0, "Handshake status 404 Not Found -+-+- {}", "pod ml/llama-0 not found for exec; using node labels"),
    (0, "[Errno 111] Connection refused",
     "exec into ml/llama-0 failed: [Errno 111] Connection refused; using node labels"),
])
def test_exec_error_mapping(status, reason, expected):
    r = exec_gpu.exec_error_report(_api_exc(status, reason), "ml", "llama-0")
    assert (r.status, r.reason, r.object, r.source) == ("unavailable", expected, "Pod/ml/llama-0", "exec")


class _FakeWs:
    """What kubernetes.stream.stream(..., _preload_content=False) returns, after the command ran."""

    def __init__(self, stdout="", stderr="", status='{"status":"Success"}'):
        self.out, self.err, self.status, self.closed = stdout, stderr, status, False

    def run_forever(self, timeout=None):
        pass

    def is_open(self):
        return False

    def read_channel(self, ch, timeout=0):
        return self.status if ch == 3 else ""

    def read_stdout(self, timeout=None):
        return self.out

    def read_stderr(self, timeout=None):
        return self.err

    def close(self):
        self.closed = True


def _exit_status(code: int, message: str = "command terminated with non-zero exit code") -> str:
    return json.dumps({"status": "Failure", "message": message, "reason": "NonZeroExitCode",
                       "details": {"causes": [{"reason": "ExitCode", "message": str(code)}]}})


def test_exec_gpu_report_paths(monkeypatch):
    import kubernetes.stream

    answers: list = []
    commands: list = []

    def fake_stream(fn, pod, namespace, **kw):
        commands.append((pod, namespace, kw["command"], kw.get("container")))
        a = answers.pop(0)
        if isinstance(a, Exception):
            raise a
        return a

    monkeypatch.setattr(kubernetes.stream, "stream", fake_stream)
    answers.append(_FakeWs(stdout=SMI_8xH100))
    r = exec_gpu.exec_gpu_report(None, "ml", "llama-0", "vllm")
    assert (r.status, len(r.devices), r.driver_version) == ("ok", 8, "550.90.07")
    assert commands[-1] == ("llama-0", "ml", exec_gpu.COMMAND, "vllm")

    answers.append(_api_exc(0, "Handshake status 403 Forbidden -+-+- {}"))
    r = exec_gpu.exec_gpu_report(None, "ml", "llama-0")
    assert r.reason == ("forbidden: pods/exec in namespace ml (--exec needs get, and create on clusters 1.30+, "
                        "on pods/exec); using node labels")

    answers.append(_FakeWs(status=json.dumps({"status": "Failure", "message": 'OCI runtime exec failed: exec: '
                                              '"nvidia-smi": executable file not found in $PATH: unknown'})))
    r = exec_gpu.exec_gpu_report(None, "ml", "llama-0")
    assert r.reason == "nvidia-smi failed in Pod/ml/llama-0: nvidia-smi is not in the container; using node labels"

    # an old nvidia-smi without compute_cap: asked again without it
    answers += [_FakeWs(stdout='Field "compute_cap" is not a valid field to query.\n', status=_exit_status(2)),
                _FakeWs(stdout="Tesla T4, 15360 MiB, 470.82.01\n")]
    r = exec_gpu.exec_gpu_report(None, "ml", "llama-0")
    assert (r.status, r.devices[0].name, commands[-1][2]) == ("ok", "Tesla T4", exec_gpu.COMMAND_OLD)

    answers.append(_FakeWs(stdout=NO_DRIVER, status=_exit_status(9)))
    r = exec_gpu.exec_gpu_report(None, "ml", "llama-0")
    assert r.reason.startswith("nvidia-smi failed in Pod/ml/llama-0: NVIDIA-SMI has failed because")


@pytest.mark.parametrize("channel,expected", [
    ('{"status":"Success"}', (0, "")),
    ("", (0, "")),
    (_exit_status(9), (9, "command terminated with non-zero exit code")),
    ('{"status":"Failure","message":"container not found (\\"vllm\\")"}', (None, 'container not found ("vllm")')),
])
def test_exec_status(channel, expected):
    assert exec_gpu.exec_status(channel) == expected
