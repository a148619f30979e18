"""The fleet benchmark's tooling and the live-run behaviours issue 7 asks for.

The benchmark itself is run by hand (``make bench``); these tests check, on a
tiny fleet, that what it measures is what it claims: pods of 10-20 KB, valid
ModelSpecs with some drift, a floor that reads the same pages, and a live
skewaudit run over that fleet that finds the drift. Then the two behaviours
of a live run that users see: the progress line on stderr (only on a
terminal) and ``--workers`` bounding the concurrent API calls. No test here
asserts a duration.
"""

from __future__ import annotations

import json
import sys
import threading
from pathlib import Path

import msgspec
import pytest

from clirun import main_inprocess as run
from kube_server import FakeKube
from skewaudit.collect import kube as live
from skewaudit.collect import kubehttp
from skewaudit.collect.request import SourceRequest, Target

BENCH = Path(__file__).resolve().parent.parent / "benchmarks"
sys.path.insert(0, str(BENCH))

import floor  # noqa: E402  (benchmarks/ is not a package)
import gen  # noqa: E402
import serve  # noqa: E402


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("fleet")
    return out, gen.generate(out, pods=60, specs=20)


@pytest.fixture
def served(fleet: tuple[Path, dict]):
    out, _meta = fleet
    kube = FakeKube(token=None)
    serve.load(kube, out / "cluster")
    with kube:
        yield kube, kube.write_kubeconfig(out / "kubeconfig")


def test_generated_pods_are_realistic_in_size_and_shape(fleet: tuple[Path, dict]) -> None:
    out, meta = fleet
    lines = (out / "cluster" / "Pod.jsonl").read_bytes().splitlines()
    assert len(lines) == meta["pods"] == 60
    sizes = [len(line) for line in lines]
    assert 10_000 <= min(sizes) and max(sizes) <= 20_480, (min(sizes), max(sizes))
    pod = json.loads(lines[0])
    c = pod["spec"]["containers"][0]
    assert 20 <= len(c["env"]) <= 40 and len(" ".join(c["args"])) > 200
    assert c["resources"]["limits"]["nvidia.com/gpu"] and pod["spec"]["tolerations"] and pod["spec"]["affinity"]
    assert pod["metadata"]["managedFields"] and pod["metadata"]["ownerReferences"][0]["controller"] is True
    assert all("@sha256:" in s["imageID"] for s in pod["status"]["containerStatuses"])
    assert meta["counts"]["Deployment"] == meta["deployments"] == 20 and meta["counts"]["Node"] >= 8


def test_generated_specs_validate_and_some_are_drifted(fleet: tuple[Path, dict]) -> None:
    from skewaudit.specfile import load_paths

    out, meta = fleet
    specs, warnings = load_paths([str(out / "specs")])
    assert len(specs) == 20 and not warnings
    assert 0 < meta["drifted"] < 20


def test_floor_reads_the_same_objects_the_server_holds(served, fleet: tuple[Path, dict]) -> None:
    kube, _ = served
    _out, meta = fleet
    counts = floor.fetch_all(kube.url, page=25)   # several pages per list
    assert counts["pods"] == 60 and counts["deployments"] == 20 and counts["nodes"] == meta["counts"]["Node"]
    pod_pages = [q for _, p, q in kube.requests if p == "/api/v1/pods"]
    assert len(pod_pages) == 3 and all(q["limit"] == "25" for q in pod_pages)


def test_skewaudit_audits_the_served_fleet_and_finds_the_drift(served, fleet, monkeypatch, capsys) -> None:
    kube, kubeconfig = served
    out, _meta = fleet
    code, stdout, err = run(monkeypatch, capsys, "diff", out / "specs", "-A", "--format", "json",
                            "--kubeconfig", kubeconfig)
    assert code == 1, err
    summary = json.loads(stdout)["summary"]
    assert summary["specs"] == 20 and summary["workloads"] == 20 and summary["pods"] == 60
    assert summary["drift"] >= 1
    assert {m for m, _, _ in kube.requests} == {"GET"}


def test_progress_shows_on_a_terminal_and_is_cleared(served, monkeypatch: pytest.MonkeyPatch,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    _kube, kubeconfig = served
    monkeypatch.setattr(live, "PROGRESS_AFTER", 0.0)   # a long run, as far as the indicator can tell
    live.collect(SourceRequest(kubeconfig=str(kubeconfig), all_namespaces=True, progress=True,
                               targets=(Target(kind="Deployment"),)))
    err = capsys.readouterr().err
    assert "objects read" in err and err.endswith("\r\033[K")


def test_progress_is_silent_off_a_terminal(served, monkeypatch: pytest.MonkeyPatch,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    _kube, kubeconfig = served
    monkeypatch.setattr(live, "PROGRESS_AFTER", 0.0)
    live.collect(SourceRequest(kubeconfig=str(kubeconfig), all_namespaces=True, progress=False,
                               targets=(Target(kind="Deployment"),)))
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize("workers", [1, 2])
def test_workers_bound_the_concurrent_api_calls(served, monkeypatch: pytest.MonkeyPatch, workers: int) -> None:
    _kube, kubeconfig = served
    lock, state = threading.Lock(), {"now": 0, "max": 0, "calls": 0}
    real_get = kubehttp.Api.get

    def counting_get(self, path, query=None):
        with lock:
            state["now"] += 1
            state["calls"] += 1
            state["max"] = max(state["max"], state["now"])
        try:
            threading.Event().wait(0.02)   # hold the slot so that overlapping calls do overlap
            return real_get(self, path, query)
        finally:
            with lock:
                state["now"] -= 1

    monkeypatch.setattr(kubehttp.Api, "get", counting_get)
    snap = live.collect(SourceRequest(kubeconfig=str(kubeconfig), all_namespaces=True, workers=workers,
                                      targets=(Target(kind="Deployment"),)))
    assert len(snap.workloads) == 20
    assert state["calls"] > workers and 1 <= state["max"] <= workers


def test_json_written_in_chunks_is_the_rendered_report_byte_for_byte(served, fleet,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    import io

    from skewaudit import audit, render
    from skewaudit.pipeline import collect_for, load_specs
    from skewaudit.render import json as json_render

    _kube, kubeconfig = served
    out, _meta = fleet
    specs = load_specs([str(out / "specs")])
    report = audit.run(specs, collect_for(specs, dict(kubeconfig=str(kubeconfig), all_namespaces=True)))
    monkeypatch.setattr(json_render, "CHUNK", 7)   # many chunks, the last one partial
    for r in (report, msgspec.structs.replace(report, results=[]), msgspec.structs.replace(report,
                                                                                         results=report.results[:1])):
        buf = io.BytesIO()
        render.write(r, "json", buf)
        assert buf.getvalue() == render.render(r, "json").encode("utf-8")
    assert len(report.results) > 7 * 3
