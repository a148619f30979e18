"""`skewaudit snapshot` and reading snapshots back, as a user runs them: files, exit codes, messages."""

from __future__ import annotations

import json
import os
from pathlib import Path

import msgspec
import pytest

from clirun import main_inprocess as run
from skewaudit.collect import snapshot as snap_io
from skewaudit.errors import InputError
from skewaudit.model.observed import SNAPSHOT_SCHEMA, Snapshot, WorkloadObs

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "specs" / "examples"
MANIFESTS = EXAMPLES / "manifests"
BASELINE = ROOT / "tests" / "fixtures" / "baseline"
SECRETS = ("hf_LiveFixtureSecretToken12345", "sk-baseline-fixture-key-0123456789")




def test_snapshot_file_is_versioned_with_time_version_and_provenance(monkeypatch, capsys, tmp_path):
    out = tmp_path / "last-good.json"
    code, stdout, err = run(monkeypatch, capsys, "snapshot", "--manifest", MANIFESTS / "llama-3.1-70b-vllm.yaml",
                            "-o", out)
    assert code == 0 and stdout == ""
    assert err == f"{out}: 1 workload, 0 pods, 0 collection issues\n"
    raw = out.read_text()
    doc = json.loads(raw)
    assert list(doc)[:5] == ["schema", "source", "collected_at", "skewaudit_version", "context"]
    assert doc["schema"] == SNAPSHOT_SCHEMA == "skewaudit.io/snapshot/v1"
    assert doc["source"] == "manifest" and doc["context"] is None
    assert doc["collected_at"].endswith("Z") and doc["collected_at"][:2] == "20"
    from skewaudit import __version__
    assert doc["skewaudit_version"] == __version__
    assert doc["inputs"] == [str(MANIFESTS / "llama-3.1-70b-vllm.yaml")]
    w = doc["workloads"][0]
    assert w["object"] == "Deployment/ml/llama-3-1-70b"
    dtype = w["template"]["containers"][0]["engine"]["fields"]["dtype"]
    assert dtype == {"value": "bfloat16", "prov": {"source": "arg", "object": "Deployment/ml/llama-3-1-70b",
                                                   "path": "spec.template.spec.containers[0].args[5]",
                                                   "container": "vllm"}}
    # No temporary file is left next to it.
    assert [p.name for p in tmp_path.iterdir()] == ["last-good.json"]


def test_load_returns_what_was_collected(tmp_path):
    from skewaudit.collect import gather
    from skewaudit.commands._options import source_request

    snap = gather(source_request(manifest=[str(BASELINE / "live.yaml")]))
    path = tmp_path / "s.json"
    snap_io.save(snap, str(path))
    back = snap_io.load(str(path))
    assert isinstance(back, Snapshot)
    assert back.workloads == snap.workloads and back.nodes == snap.nodes and back.issues == snap.issues
    assert back.collected_at and back.skewaudit_version
    # Saving what was loaded gives the same bytes: nothing is lost or reordered on the way.
    assert snap_io.encode(back) == path.read_bytes()


def test_snapshot_to_stdout_and_read_from_stdin(monkeypatch, capsys):
    code, stdout, _ = run(monkeypatch, capsys, "snapshot", "--manifest", BASELINE / "before.yaml", "-o", "-")
    assert code == 0 and json.loads(stdout)["schema"] == SNAPSHOT_SCHEMA
    code, out, err = run(monkeypatch, capsys, "diff", "--baseline", "-", "--manifest", BASELINE / "after.yaml",
                         "-F", "json", stdin=stdout.encode())
    assert code == 1, err
    assert sorted(r["check"] for r in json.loads(out)["results"]) == ["hardware.gpu-class", "runtime.dtype"]


def test_snapshot_redacts_secrets(monkeypatch, capsys, tmp_path):
    out = tmp_path / "s.json"
    code, _, err = run(monkeypatch, capsys, "snapshot", "--manifest", BASELINE / "live.yaml", "-o", out)
    assert code == 0, err
    text = out.read_text()
    for secret in SECRETS:
        assert secret not in text
    # The secrets are still there as markers, so a changed token shows as a change.
    assert text.count("<redacted:") >= 2


def test_diff_of_a_snapshot_equals_diff_of_its_source(monkeypatch, capsys, tmp_path):
    spec = EXAMPLES / "llama-3.1-70b-vllm.yaml"
    drifted = MANIFESTS / "llama-3.1-70b-vllm-drifted.yaml"
    snap = tmp_path / "drifted.json"
    assert run(monkeypatch, capsys, "snapshot", "--manifest", drifted, "-o", snap)[0] == 0
    code_m, out_m, _ = run(monkeypatch, capsys, "diff", spec, "--manifest", drifted, "-F", "json")
    code_s, out_s, _ = run(monkeypatch, capsys, "diff", spec, "--snapshot", snap, "-F", "json")
    assert code_m == code_s == 1
    rm, rs = json.loads(out_m), json.loads(out_s)
    assert rm["results"] == rs["results"] and rm["summary"] == rs["summary"]
    assert rm["summary"]["drift"] >= 5
    # The human table is the same too.
    code_m, table_m, _ = run(monkeypatch, capsys, "diff", spec, "--manifest", drifted)
    code_s, table_s, _ = run(monkeypatch, capsys, "diff", spec, "--snapshot", snap)
    assert table_m == table_s and "runtime.dtype" in table_m


def test_baseline_against_itself_reports_no_change(monkeypatch, capsys, tmp_path):
    snap = tmp_path / "a.json"
    assert run(monkeypatch, capsys, "snapshot", "--manifest", BASELINE / "live.yaml", "-o", snap)[0] == 0
    code, out, err = run(monkeypatch, capsys, "diff", "--baseline", snap, "--snapshot", snap)
    assert code == 0, out + err
    assert "no drift" in out and "1 workload" in out
    code, out, _ = run(monkeypatch, capsys, "diff", "--baseline", snap, "--snapshot", snap, "-F", "json")
    assert code == 0 and json.loads(out)["results"] == []


@pytest.mark.parametrize("content, expected", [
    (b"{not json", "not a skewaudit snapshot (invalid JSON"),
    (b"", "not a skewaudit snapshot (invalid JSON"),
    (b"[1, 2]", "not a skewaudit snapshot (a JSON list"),
    (b'{"schema": "skewaudit.io/report/v1", "source": "manifest", "summary": {}}',
     "not a skewaudit snapshot (schema 'skewaudit.io/report/v1'"),
    (b'{"apiVersion": "v1", "kind": "List", "items": []}', "not a skewaudit snapshot (no 'schema' field"),
    (b'{"schema": "skewaudit.io/snapshot/v9", "source": "live"}', "snapshot schema 'skewaudit.io/snapshot/v9' is not supported"),
    (b'{"schema": "skewaudit.io/snapshot/v1", "source": "live", "workloads": [{"kind": 3}]}', "malformed snapshot"),
    (b'{"schema": "skewaudit.io/snapshot/v1"}', "malformed snapshot"),
])
@pytest.mark.parametrize("flag", ["--snapshot", "--baseline"])
def test_corrupt_or_foreign_file_is_one_line_exit_2(monkeypatch, capsys, tmp_path, content, expected, flag):
    bad = tmp_path / "bad.json"
    bad.write_bytes(content)
    args = ["diff", flag, bad] + (["--manifest", BASELINE / "before.yaml"] if flag == "--baseline" else
                                  [EXAMPLES / "llama-3.1-70b-vllm.yaml"])
    code, out, err = run(monkeypatch, capsys, *args)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith(f"error: {bad}: ")
    assert expected in err


def test_missing_snapshot_file(monkeypatch, capsys, tmp_path):
    code, _, err = run(monkeypatch, capsys, "diff", "--baseline", tmp_path / "nope.json", "--snapshot",
                       tmp_path / "nope.json")
    assert code == 2 and err == f"error: {tmp_path / 'nope.json'}: no such snapshot file\n"
    code, _, err = run(monkeypatch, capsys, "diff", "--baseline", tmp_path, "--manifest", BASELINE / "before.yaml")
    assert code == 2 and "is a directory, not a snapshot file" in err


def test_write_is_atomic(monkeypatch, tmp_path):
    path = tmp_path / "last-good.json"
    path.write_text("previous snapshot\n")

    def full_disk(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", full_disk)
    with pytest.raises(InputError, match="No space left on device"):
        snap_io.save(Snapshot(source="manifest", workloads=[WorkloadObs(kind="Deployment", name="x")]), str(path))
    # The old file is untouched and no half-written temporary file is left behind.
    assert path.read_text() == "previous snapshot\n"
    assert [p.name for p in tmp_path.iterdir()] == ["last-good.json"]


def test_snapshot_into_missing_directory_is_exit_2(monkeypatch, capsys, tmp_path):
    code, _, err = run(monkeypatch, capsys, "snapshot", "--manifest", BASELINE / "before.yaml", "-o",
                       tmp_path / "no" / "s.json")
    assert code == 2 and "does not exist" in err and err.count("\n") == 1


def test_snapshot_of_a_local_command_line(monkeypatch, capsys, tmp_path):
    out = tmp_path / "local.json"
    code, _, err = run(monkeypatch, capsys, "snapshot", "--cmdline",
                       "vllm serve Qwen/Qwen2.5-7B-Instruct --dtype bfloat16 --api-key sk-local-secret-0123456789abcd",
                       "-o", out)
    assert code == 0, err
    snap = snap_io.load(str(out))
    assert snap.source == "local"
    c = snap.workloads[0].pods[0].containers[0]
    assert c.engine.fields["dtype"].value == "bfloat16"
    assert "sk-local-secret-0123456789abcd" not in out.read_text()


def test_decode_keeps_unknown_schema_family_message_short():
    with pytest.raises(InputError) as e:
        snap_io.decode(msgspec.json.encode({"schema": "skewaudit.io/snapshot/v2"}), "s.json")
    assert "\n" not in e.value.message and e.value.message.startswith("s.json: ")
