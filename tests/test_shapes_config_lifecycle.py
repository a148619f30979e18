"""``init``, ``snapshot`` and ``--baseline`` on the fixtures of the vLLM config file, DRA claims and
the KEDA target: init captures the values from where they are written (the ConfigMap, the claim's
template, the trigger), and a baseline names an edit with its object.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable

import pytest
import yaml

from clirun import main_inprocess as run
from test_shapes_around import AROUND, docs_of, report, drifts
from test_shapes_config import CM, SECRET, _set_cm, _write
from test_shapes_dra import RCT, _request
from test_shapes_scaling_target import SO, _trigger

def _dra_count(n: int) -> Callable[[list[dict]], None]:
    return lambda d: _request(d)["exactly"].__setitem__("count", n)


LIFECYCLE = [
    ("vllm-config", _set_cm("tensor-parallel-size", 4), "runtime.tensor-parallel", 4, ("configmap", CM)),
    ("dra-claims", _dra_count(4), "hardware.gpu-count", 4, ("resource-claim", RCT)),
    ("keda-vllm", lambda d: _trigger(d).__setitem__("threshold", "50"), "orchestration.hpa-metric", None,
     ("hpa", SO)),
]


@pytest.mark.parametrize("name", ["vllm-config", "dra-claims", "keda-vllm"])
def test_init_reads_config_file_claims_and_target_and_diffs_clean(name: str, tmp_path: Path, monkeypatch,
                                                                  capsys) -> None:
    spec = tmp_path / "spec.yaml"
    code, _, err = run(monkeypatch, capsys, "init", "--manifest", AROUND / f"{name}.yaml", "-o", spec)
    assert code == 0, err
    text = spec.read_text()
    spec.write_text("\n".join("      type: l4" if "# TODO GPU class" in ln else ln for ln in text.splitlines()))
    intent = yaml.safe_load(spec.read_text())["spec"]
    if name == "vllm-config":   # the values written in the mounted file, not the engine defaults
        assert (intent["runtime"]["engine"]["tensorParallelSize"], intent["runtime"]["engine"]["maxModelLen"]) == (
            2, 32768)
    elif name == "dra-claims":
        assert intent["runtime"]["accelerator"] == {"vendor": "nvidia", "type": "h100-80gb", "count": 2}
    else:
        assert intent["operations"]["scaling"]["targetValue"] == 5
    assert run(monkeypatch, capsys, "validate", spec)[0] == 0
    code, rep = report(spec, "--manifest", AROUND / f"{name}.yaml", monkeypatch=monkeypatch, capsys=capsys)
    assert (code, drifts(rep)) == (0, [])


@pytest.mark.parametrize("name,change,check,value,prov", LIFECYCLE, ids=[x[0] for x in LIFECYCLE])
def test_snapshot_then_baseline_names_the_edit(name: str, change, check: str, value: Any, prov: tuple[str, str],
                                               tmp_path: Path, monkeypatch, capsys) -> None:
    snap = tmp_path / "last-good.json"
    code, _, err = run(monkeypatch, capsys, "snapshot", "--manifest", AROUND / f"{name}.yaml", "-o", snap)
    assert code == 0, err
    assert SECRET not in snap.read_text()
    docs = docs_of(name)
    change(docs)
    code, out, err = run(monkeypatch, capsys, "diff", "--baseline", snap, "--manifest", _write(tmp_path, docs),
                         "--format", "json", "--fail-on", "warning")
    changed = [r for r in json.loads(out)["results"] if r["status"] == "drift"]
    assert code == 1 and [r["check"] for r in changed] == [check], changed
    ev = changed[0]["observed"][0]
    assert (ev["prov"]["source"], ev["prov"]["object"]) == prov
    if value is not None:
        assert ev["value"] == value
    code, out, _ = run(monkeypatch, capsys, "diff", "--baseline", snap, "--manifest", AROUND / f"{name}.yaml",
                       "--format", "json")
    assert code == 0 and [r for r in json.loads(out)["results"] if r["status"] == "drift"] == []
