"""Issue 10 §2: no input crashes skewaudit. One case per hostile input: the exit code, the one line a
user reads (file, position, what is wrong), and never a traceback or exit 70.

Offline cases run the real command line in-process (``clirun.main_inprocess``); live cases talk HTTP
to the loopback API server (``kube_server.FakeKube``).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from clirun import EXAMPLES, MANIFESTS, main_inprocess

SPEC = EXAMPLES / "llama-3.1-70b-vllm.yaml"
MANIFEST = MANIFESTS / "llama-3.1-70b-vllm.yaml"
GPU_LIMIT = 'limits: {memory: 128Gi, nvidia.com/gpu: "4"}'
GPU_REQUEST = 'requests: {cpu: "16", memory: 128Gi, nvidia.com/gpu: "4"}'


def _manifest(old: str = "", new: str = "") -> str:
    text = MANIFEST.read_text()
    assert old in text
    return text.replace(old, new, 1)


def _gpu(value: str) -> str:
    """The example Deployment with both its GPU request and limit set to ``value`` (as YAML)."""
    return _manifest(GPU_LIMIT, f"limits: {{memory: 128Gi, nvidia.com/gpu: {value}}}").replace(
        GPU_REQUEST, f'requests: {{cpu: "16", memory: 128Gi, nvidia.com/gpu: {value}}}', 1)


def _spec(old: str, new: str) -> str:
    text = SPEC.read_text()
    assert old in text
    return text.replace(old, new, 1)


def _json(monkeypatch, capsys, *args) -> tuple[int, dict, str]:
    code, out, err = main_inprocess(monkeypatch, capsys, *args, "--format", "json")
    return code, (json.loads(out) if out.strip() else {}), err


# --- quantities: a collection issue, the GPU count unverifiable, the run goes on ---------------------

@pytest.mark.parametrize("value,why", [
    ("abc", "not a Kubernetes quantity: 'abc'"), ('""', "not a Kubernetes quantity: ''"),
    ("nan", "not a Kubernetes quantity: 'nan'"), ("inf", "not a Kubernetes quantity: 'inf'"),
    ("1e999", "'1e999' is beyond any sane value here"), ("500m", "not a whole number of devices: '500m'"),
    ("'1.5'", "not a whole number of devices: '1.5'"), ("'-1'", "not a whole number of devices: '-1'"),
])
def test_a_gpu_quantity_that_is_no_device_count_is_a_collection_issue(tmp_path, monkeypatch, capsys, value, why):
    m = tmp_path / "m.yaml"
    m.write_text(_gpu(value))
    code, report, err = _json(monkeypatch, capsys, "diff", SPEC, "--manifest", m)
    assert code == 0, err   # unverifiable never fails by default
    issue = next(i for i in report["issues"] if i["area"] == "resources")
    assert issue["kind"] == "malformed" and why in issue["message"]
    assert issue["message"].startswith(f"{m}:3: Deployment/ml/llama-3-1-70b: spec.template.spec.containers[0]")
    gpu = next(r for r in report["results"] if r["check"] == "hardware.gpu-count")
    assert gpu["status"] == "unverifiable" and why in gpu["message"]


@pytest.mark.parametrize("value,count", [("1k", 1000), ("'8'", 8), ("1Gi", 2**30)])
def test_a_gpu_quantity_with_a_suffix_is_read_as_kubernetes_reads_it(tmp_path, monkeypatch, capsys, value, count):
    m = tmp_path / "m.yaml"
    m.write_text(_gpu(value))
    code, report, err = _json(monkeypatch, capsys, "diff", SPEC, "--manifest", m)
    gpu = next(r for r in report["results"] if r["check"] == "hardware.gpu-count")
    assert gpu["status"] == "drift" and str(count) in json.dumps(gpu["observed"]), gpu


def test_invalid_node_allocatable_is_a_collection_issue(tmp_path, monkeypatch, capsys):
    m = tmp_path / "m.yaml"
    m.write_text(MANIFEST.read_text() + "---\napiVersion: v1\nkind: Node\nmetadata:\n  name: gpu-1\n  labels: "
                 "{nvidia.com/gpu.product: NVIDIA-A100-SXM4-80GB}\nstatus:\n  allocatable: {nvidia.com/gpu: 4x, "
                 "cpu: '96', memory: lots}\n")
    code, report, err = _json(monkeypatch, capsys, "diff", SPEC, "--manifest", m)
    assert code in (0, 1), err
    msgs = [i["message"] for i in report["issues"]]
    assert any(re.search(r"m\.yaml:\d+: Node/gpu-1: status\.allocatable\[nvidia\.com/gpu\]: not a Kubernetes "
                         r"quantity: '4x' .*\(and 1 more\)", x) for x in msgs), msgs


@pytest.mark.parametrize("value,message", [
    ('"500m"', "spec.operations.orchestration.requests.nvidia.com/gpu: not a whole number of devices: '500m'"),
    ("abc", "spec.operations.orchestration.requests.nvidia.com/gpu: not a Kubernetes quantity: 'abc'"),
    ("nan", "spec.operations.orchestration.requests.nvidia.com/gpu: not a Kubernetes quantity: 'nan'"),
])
def test_a_device_quantity_in_the_spec_is_exit_2(tmp_path, monkeypatch, capsys, value, message):
    s = tmp_path / "s.yaml"
    s.write_text(_spec('    requests:\n        cpu: "16"\n        memory: 128Gi              # Gi = 2^30 bytes; 128G '
                       'would be 7% less\n        nvidia.com/gpu: "4"',
                       f'    requests:\n        cpu: "16"\n        memory: 128Gi\n        nvidia.com/gpu: {value}'))
    code, out, err = main_inprocess(monkeypatch, capsys, "validate", s)
    assert code == 2 and err.startswith(f"{s}:") and message in err


def test_memory_gb_in_the_spec_diffs_against_a_memory_request(tmp_path, monkeypatch, capsys):
    """runtime.resources.memoryGb (a float) against the container's Decimal memory request."""
    s = tmp_path / "s.yaml"
    s.write_text(_spec("  runtime:\n", "  runtime:\n    resources:\n      memoryGb: 128.0\n      cpuCores: 16\n"))
    code, report, err = _json(monkeypatch, capsys, "diff", s, "--manifest", MANIFEST)
    mem = next(r for r in report["results"] if r["field"] == "spec.runtime.resources.memoryGb")
    assert code == 0 and mem["status"] == "match", mem   # 128Gi is 128 GiB


def test_the_spec_with_every_public_field_diffs_without_error(tmp_path, monkeypatch, capsys, fixture_path):
    """Every public field (runtime.resources.memoryGb: 128 among them) against a workload it finds."""
    m = tmp_path / "m.yaml"
    m.write_text(MANIFEST.read_text().replace("llama-3-1-70b", "llama-2-70b-chat-prod"))
    code, report, err = _json(monkeypatch, capsys, "diff", fixture_path("specs", "piqc-all-fields.yaml"),
                              "--manifest", m)
    assert code in (0, 1), err
    by_field = {r["field"]: r for r in report["results"]}
    assert "spec.target" not in by_field
    assert by_field["spec.runtime.resources.memoryGb"]["status"] == "match"   # 128Gi requested


# --- manifests: exit 2 with file:line:col, or a warning when the run can go on -------------------

@pytest.mark.parametrize("name,text,message", [
    ("bigint.yaml", lambda: _manifest("replicas: 2", "replicas: " + "9" * 5000),
     r"bigint.yaml:10:13: an integer of 5000 characters \(more digits than can be read\)"),
    ("bigint-tagged.yaml", lambda: _manifest("replicas: 2", "replicas: !!int " + "9" * 5000),
     r"bigint-tagged.yaml:10:13: an integer of 5000 characters"),
    ("date.yaml", lambda: _manifest("  namespace: ml\n", "  namespace: ml\n  creationTimestamp: !!timestamp "
                                    "2024-13-45\n"),
     r"date.yaml:8:22: invalid timestamp '2024-13-45': month must be in 1..12"),
])
def test_manifest_values_yaml_cannot_build_are_exit_2(tmp_path, monkeypatch, capsys, name, text, message):
    m = tmp_path / name
    m.write_text(text())
    code, out, err = main_inprocess(monkeypatch, capsys, "diff", SPEC, "--manifest", m)
    assert code == 2 and len(err.splitlines()) == 1 and re.search(message, err), err


def test_an_impossible_date_in_a_manifest_is_a_string_as_in_the_api(tmp_path, monkeypatch, capsys):
    m = tmp_path / "m.yaml"
    m.write_text(_manifest("  namespace: ml\n", "  namespace: ml\n  creationTimestamp: 2024-13-45\n"
                           "  annotations: {deployed: 2024-01-02}\n"))
    code, out, err = main_inprocess(monkeypatch, capsys, "diff", SPEC, "--manifest", m)
    assert code == 0 and err == ""


def test_a_crlf_multi_document_manifest_is_read(tmp_path, monkeypatch, capsys):
    m = tmp_path / "m.yaml"
    m.write_bytes(MANIFEST.read_bytes().replace(b"\n", b"\r\n"))
    code, report, err = _json(monkeypatch, capsys, "diff", SPEC, "--manifest", m)
    assert code == 0 and err == "" and report["summary"]["drift"] == 0


def _as_json_list(*items) -> str:
    import yaml

    docs = [d for d in yaml.safe_load_all(MANIFEST.read_text()) if d]
    return json.dumps({"apiVersion": "v1", "kind": "List", "items": [*docs, *items]})


def test_a_json_list_with_a_null_item_counts_each_object_once(tmp_path, monkeypatch, capsys):
    m = tmp_path / "m.json"
    m.write_text(_as_json_list(None))
    code, report, err = _json(monkeypatch, capsys, "diff", SPEC, "--manifest", m)
    assert code == 0 and report["summary"]["workloads"] == 1
    col = m.read_text().rindex("null") + 1   # the item's own position: line 1 of a one-line dump
    assert err == f"warning: {m}:1:{col}: List.items[3] is null, not a Kubernetes object; ignored\n"
    code, out, err = main_inprocess(monkeypatch, capsys, "collect", "--manifest", m, "--format", "json")
    assert len(json.loads(out)["workloads"]) == 1


@pytest.mark.parametrize("name,text,warning", [
    ("no-name.yaml", lambda: _manifest("  name: llama-3-1-70b\n  namespace: ml\n  labels", "  namespace: ml\n  labels"),
     "{m}:3: Deployment without metadata.name; ignored"),
    ("items-null.yaml", lambda: "apiVersion: v1\nkind: List\nitems: null\n",
     "{m}:1: List without a list of items (items: null); no objects read from it"),
    ("strings.yaml", lambda: "- just\n- strings\n",
     "{m}:1: item [0]: a string 'just', not a Kubernetes object; ignored"),
    ("empty.yaml", lambda: "", "{m}: no Kubernetes objects in this file"),
    ("comments.yaml", lambda: "# nothing here\n---\n---\n", "{m}: no Kubernetes objects in this file"),
    ("scalar.yaml", lambda: "hello\n", "{m}:1: a string 'hello', not a Kubernetes object; ignored"),
    ("no-kind.yaml", lambda: "metadata: {name: x}\n", "{m}:1: an object without kind; ignored"),
    ("items-null.json", lambda: '{"apiVersion": "v1", "kind": "List", "items": null}',
     "{m}:1:1: List: List without items; no objects read from it"),
    ("strings.json", lambda: '{"kind": "List", "items": ["a", 1]}',
     "{m}:1:28: List.items[0] is a JSON str, not a Kubernetes object; ignored"),
])
def test_input_skewaudit_ignores_is_said_on_stderr(tmp_path, monkeypatch, capsys, name, text, warning):
    m = tmp_path / name
    m.write_text(text())
    code, out, err = main_inprocess(monkeypatch, capsys, "collect", "--manifest", m, "--manifest", MANIFEST,
                                    "--format", "json")
    assert code == 0
    assert err.splitlines()[0] == "warning: " + warning.format(m=m)


def test_duplicate_keys_in_a_manifest_are_a_located_warning(tmp_path, monkeypatch, capsys):
    m = tmp_path / "m.yaml"
    m.write_text(_manifest("  replicas: 2\n", "  replicas: 2\n  replicas: 3\n"))
    code, out, err = main_inprocess(monkeypatch, capsys, "collect", "--manifest", m, "--format", "json")
    assert code == 0 and json.loads(out)["workloads"][0]["replicas"]["value"] == 3
    assert err == (f"warning: {m}:11:3: duplicate key 'replicas' (first at line 10); the last value is used, "
                   "kubectl would refuse this file\n")


def test_duplicate_keys_in_a_later_document_name_their_line(tmp_path, monkeypatch, capsys):
    m = tmp_path / "m.yaml"
    m.write_text(_manifest("  minReplicas: 2\n", "  minReplicas: 2\n  minReplicas: 1\n"))
    code, out, err = main_inprocess(monkeypatch, capsys, "collect", "--manifest", m, "--format", "json")
    line = MANIFEST.read_text().splitlines().index("  minReplicas: 2") + 2
    assert code == 0 and err.startswith(f"warning: {m}:{line}:3: duplicate key 'minReplicas'")


# --- specs: duplicate keys and unbuildable values are located errors -------------------------------

@pytest.mark.parametrize("old,new,message", [
    ("  name: llama-3-1-70b\n", "  name: llama-3-1-70b\n  name: other\n",
     "{s}:10:3: duplicate key 'name' (first at line 9); YAML would silently keep the last value"),
    ("      count: 4\n", "      count: 4\n      count: 8\n",
     "{s}:35:7: duplicate key 'count' (first at line 34); YAML would silently keep the last value"),
    ("    tier: prod\n", "    tier: prod\n    <<: {x: 1}\n    team: other\n",
     "{s}:16:5: duplicate key 'team' (first at line 13); YAML would silently keep the last value"),
    ("      count: 4\n", "      count: " + "9" * 5000 + "\n",
     "{s}:34:14: a 5000-digit integer is beyond any sane value for a spec field"),
    ('  version: "2025-06"\n', '  version: "2025-06"\n  created: 2024-13-45\n',
     "{s}:11:12: cannot read '2024-13-45' as a timestamp: month must be in 1..12"),
])
def test_spec_yaml_problems_are_located_errors(tmp_path, monkeypatch, capsys, old, new, message):
    s = tmp_path / "s.yaml"
    s.write_text(_spec(old, new))
    code, out, err = main_inprocess(monkeypatch, capsys, "validate", s)
    assert code == 2 and err.splitlines() == [message.format(s=s)]


def test_a_merge_key_overridden_is_not_a_duplicate(tmp_path, monkeypatch, capsys):
    s = tmp_path / "s.yaml"
    s.write_text(_spec("  labels:\n    team: ml-platform\n    tier: prod\n",
                       "  labels:\n    <<: {team: a, tier: t}\n    tier: x\n"))
    code, out, err = main_inprocess(monkeypatch, capsys, "validate", s)
    assert "duplicate" not in err


# --- snapshots and baselines --------------------------------------------------------------------

def _snapshot(tmp_path, monkeypatch, capsys) -> dict:
    p = tmp_path / "good.json"
    code, out, err = main_inprocess(monkeypatch, capsys, "snapshot", SPEC, "--manifest", MANIFEST, "-o", p)
    assert code == 0, err
    return json.loads(p.read_text())


def _tp(snap: dict) -> dict:
    return snap["workloads"][0]["template"]["containers"][0]


@pytest.mark.parametrize("name,make,message", [
    ("truncated.json", lambda s: b'[{"schema": "skewaudit.io/snapshot/v1"}, {"a": ',
     "not a skewaudit snapshot (invalid JSON: Input data was truncated)"),
    ("array.json", lambda s: b"[1, 2]", "not a skewaudit snapshot (a JSON list, not an object"),
    ("string.json", lambda s: b'"hello"', "not a skewaudit snapshot (a JSON str, not an object"),
    ("null.json", lambda s: b"null", "not a skewaudit snapshot (a JSON NoneType, not an object"),
    ("number.json", lambda s: b"42", "not a skewaudit snapshot (a JSON int, not an object"),
    ("huge-number.json", lambda s: b"1e999", "not a skewaudit snapshot (invalid JSON: Number out of range)"),
    ("tp-string.json", lambda s: (_tp(s)["engine"]["fields"]["tensor_parallel_size"].update(value="4"), s)[1],
     "malformed snapshot: workloads[0].template.containers[0].engine.fields.tensor_parallel_size.value: "
     "tensor_parallel_size must be an integer, got a string \"4\""),
    ("gpu-limit.json", lambda s: (_tp(s)["limits"].update({"nvidia.com/gpu": "four"}), s)[1],
     "malformed snapshot: workloads[0].template.containers[0].limits[nvidia.com/gpu]: not a Kubernetes quantity: "
     "'four'"),
    ("gpu-fraction.json", lambda s: (_tp(s)["requests"].update({"nvidia.com/gpu": "500m"}), s)[1],
     "malformed snapshot: workloads[0].template.containers[0].requests[nvidia.com/gpu]: not a whole number of "
     "devices: '500m'"),
    ("mem-util.json", lambda s: (_tp(s)["engine"]["fields"]["gpu_memory_utilization"].update(value="high"), s)[1],
     "malformed snapshot: workloads[0].template.containers[0].engine.fields.gpu_memory_utilization.value: "
     "gpu_memory_utilization must be a number, got a string \"high\""),
])
@pytest.mark.parametrize("flag", ["--snapshot", "--baseline"])
def test_a_snapshot_that_is_not_one_is_exit_2(tmp_path, monkeypatch, capsys, name, make, message, flag):
    snap = _snapshot(tmp_path, monkeypatch, capsys)
    p = tmp_path / name
    made = make(snap)
    p.write_bytes(made if isinstance(made, bytes) else json.dumps(made).encode())
    source = ["--snapshot", p] if flag == "--snapshot" else ["--manifest", MANIFEST, "--baseline", p]
    code, out, err = main_inprocess(monkeypatch, capsys, "diff", SPEC, *source)
    assert code == 2 and len(err.splitlines()) == 1 and err.startswith(f"error: {p}: {message}"), err


def test_a_bom_prefixed_snapshot_is_read(tmp_path, monkeypatch, capsys):
    _snapshot(tmp_path, monkeypatch, capsys)
    p = tmp_path / "bom.json"
    p.write_bytes(b"\xef\xbb\xbf" + (tmp_path / "good.json").read_bytes())
    code, out, err = main_inprocess(monkeypatch, capsys, "diff", SPEC, "--snapshot", p)
    assert code == 0 and err == ""
    code, out, err = main_inprocess(monkeypatch, capsys, "diff", SPEC, "--manifest", MANIFEST, "--baseline", p)
    assert code == 0 and err == ""


# --- live: malformed API answers through the loopback API server, kubeconfigs that are not one ------

PODS = r"^/api/v1/namespaces/ml/pods$"
DEPLOYS = r"^/apis/apps/v1/namespaces/ml/deployments$"


@pytest.fixture
def cluster(kube, kubeconfig):
    import yaml

    kube.add(*(d for d in yaml.safe_load_all(MANIFEST.read_text()) if d))
    return kube, kubeconfig


def _live(cluster, monkeypatch, capsys, *extra) -> tuple[int, str, str]:
    _, kc = cluster
    return main_inprocess(monkeypatch, capsys, "diff", SPEC, "--kubeconfig", kc, *extra)


def test_the_loopback_cluster_is_clean(cluster, monkeypatch, capsys):
    code, out, err = _live(cluster, monkeypatch, capsys)
    assert code == 0, err


@pytest.mark.parametrize("path,body,message", [
    (PODS, b"[]", "sent a JSON list for pods, not a PodList"),
    (DEPLOYS, b'[{"kind": "Deployment"}]', "sent a JSON list for deployments, not a DeploymentList"),
    (PODS, b'"hello"', "sent a JSON str for pods, not a PodList"),
    (PODS, b'{"kind": "PodList", "items": {"a": 1}}', "sent an object whose items are no list for pods"),
])
def test_an_api_answer_that_is_no_list_is_exit_3(cluster, monkeypatch, capsys, path, body, message):
    kube, _ = cluster
    kube.fault(path, "body", body=body)
    code, out, err = _live(cluster, monkeypatch, capsys)
    assert code == 3 and len(err.splitlines()) == 1 and message in err
    assert err.startswith(f"error: the Kubernetes API at {kube.url} ")


def test_an_object_whose_metadata_is_not_a_mapping_is_a_collection_issue(cluster, monkeypatch, capsys):
    kube, _ = cluster
    deploy = next(d for d in __import__("yaml").safe_load_all(MANIFEST.read_text()) if d["kind"] == "Deployment")
    bad = {**deploy, "metadata": "llama-3-1-70b"}
    body = json.dumps({"kind": "DeploymentList", "apiVersion": "apps/v1", "metadata": {"resourceVersion": "1"},
                       "items": [bad, {**deploy, "metadata": {**deploy["metadata"], "name": "other"}}]}).encode()
    kube.fault(DEPLOYS, "body", body=body)
    # Generous bounds: this checks decoding, not timing (a loaded machine once ran out of the default timeout).
    code, report, err = _json(monkeypatch, capsys, "diff", SPEC, "--kubeconfig", cluster[1], "--timeout", "60",
                              "--deadline", "0")
    assert "issues" in report, (code, err)
    issue = next(i for i in report["issues"] if i["kind"] == "malformed")
    assert issue["scope"] == "Deployment/?" and "metadata" in issue["message"]
    assert "Traceback" not in err


def test_html_from_an_auth_proxy_on_a_single_object_get_is_exit_3(kube, kubeconfig, monkeypatch, capsys):
    """Nodes are read one GET each when few: an auth proxy answering HTML on one of them."""
    import yaml

    kube.load_yaml(Path(__file__).parent / "fixtures" / "k8s" / "kserve.yaml")
    node = next(d["metadata"]["name"] for d in yaml.safe_load_all(
        (Path(__file__).parent / "fixtures" / "k8s" / "kserve.yaml").read_text()) if d and d["kind"] == "Node")
    kube.fault(rf"^/api/v1/nodes/{node}$", "html")
    code, out, err = main_inprocess(monkeypatch, capsys, "collect", "--kubeconfig", kubeconfig, "-A")
    assert code == 3 and len(err.splitlines()) == 1 and f"sent invalid JSON for Node {node}" in err


@pytest.mark.parametrize("content,message", [
    (b"apiVersion: v1\nclusters: [unclosed\n", r"kubeconfig {k}:3:1: not valid YAML: did not find expected"),
    (b"\x7fELF\x02\x01\x01\x00\x00\x00\xff\xfe", r"kubeconfig {k}: not a kubeconfig \(binary data, not UTF-8 text"),
    (b"\x00\x00\x00\x00", r"kubeconfig {k}: not a kubeconfig \(binary data: a NUL byte\)"),
    (b"- a\n- b\n", r"kubeconfig {k}: not a kubeconfig \(a YAML list, expected a mapping"),
    (b"just a string\n", r"kubeconfig {k}: not a kubeconfig \(a YAML str"),
    (b"contexts: [1, 2]\ncurrent-context: x\n", r"kubeconfig {k}: "),
])
def test_a_kubeconfig_that_is_not_one_is_exit_2_naming_it(tmp_path, monkeypatch, capsys, content, message):
    k = tmp_path / "kubeconfig"
    k.write_bytes(content)
    code, out, err = main_inprocess(monkeypatch, capsys, "collect", "--kubeconfig", k, "-n", "ml")
    assert code == 2 and len(err.splitlines()) == 1, err
    assert re.match("error: " + message.format(k=re.escape(str(k))), err), err


# --- init ---------------------------------------------------------------------------------------

def test_init_on_an_empty_toleration(tmp_path, monkeypatch, capsys):
    m = tmp_path / "m.yaml"
    m.write_text(_manifest("- {key: nvidia.com/gpu, operator: Exists, effect: NoSchedule}",
                           "- {}\n        - {key: nvidia.com/gpu, operator: Exists}"))
    code, out, err = main_inprocess(monkeypatch, capsys, "init", "--manifest", m)
    assert code == 0, err
    assert "      tolerations:\n        - key: nvidia.com/gpu\n          operator: Exists\n" in out
    assert "{}" not in out


def test_init_on_tolerations_mixing_objects_and_scalars(tmp_path, monkeypatch, capsys):
    m = tmp_path / "m.yaml"
    m.write_text(_manifest("- {key: nvidia.com/gpu, operator: Exists, effect: NoSchedule}",
                           "- {key: a}\n        - just-a-string\n        - 3"))
    code, out, err = main_inprocess(monkeypatch, capsys, "init", "--manifest", m)
    assert code == 2 and len(err.splitlines()) == 1
    assert err.startswith("error: no serving workload found in the input to capture (")
    assert "Deployment/ml/llama-3-1-70b" in err and "$.spec.template.spec.tolerations[1]" in err


def test_init_from_a_snapshot_with_mixed_tolerations_is_exit_2(tmp_path, monkeypatch, capsys):
    snap = _snapshot(tmp_path, monkeypatch, capsys)
    snap["workloads"][0]["template"]["tolerations"] = [{}, "x", 3]
    p = tmp_path / "mixed.json"
    p.write_text(json.dumps(snap))
    code, out, err = main_inprocess(monkeypatch, capsys, "init", "--snapshot", p)
    assert code == 2 and err.startswith(f"error: {p}: malformed snapshot: ") and "tolerations[1]" in err


def test_skewaudit_debug_does_not_change_the_exit_code_of_bad_input(tmp_path, monkeypatch, capsys):
    m = tmp_path / "m.yaml"
    m.write_text("apiVersion: v1\nkind: [unclosed\n")
    monkeypatch.setenv("SKEWAUDIT_DEBUG", "1")
    code, out, err = main_inprocess(monkeypatch, capsys, "diff", SPEC, "--manifest", m)
    assert code == 2 and err.startswith(f"error: {m}:") and len(err.splitlines()) == 1
