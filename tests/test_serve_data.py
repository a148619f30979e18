"""Data-skew scores in `skewaudit serve` metrics: a spec with a `data` block, serving data given with --data,
scores exported as skewaudit_data_skew_score{spec,feature,metric}, feature labels capped per spec."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from clirun import EXAMPLES, MANIFESTS, skewaudit
from test_serve import promtool_check, samples

DATA = EXAMPLES / "data"
CLEAN = MANIFESTS / "llama-3.1-70b-vllm.yaml"


def spec_with_data(tmp_path: Path, baseline: Path) -> Path:
    spec = tmp_path / "spec.yaml"
    spec.write_text((EXAMPLES / "llama-3.1-70b-vllm.yaml").read_text().rstrip("\n")
                    + f"\n  data:\n    baseline: {baseline}\n")
    return spec


def scores(text: str) -> dict[tuple[str, str], float]:
    return {(dict(labels)["feature"], dict(labels)["metric"]): v for (n, labels), v in samples(text).items()
            if n == "skewaudit_data_skew_score"}


def test_once_exports_each_features_scores_as_diff_computes_them(tmp_path: Path) -> None:
    spec = spec_with_data(tmp_path, DATA / "validation.csv")
    r = skewaudit("serve", spec, "--manifest", CLEAN, "--once", "--data", DATA / "serving-drifted.csv")
    assert r.code == 0, r.err
    got = scores(r.out)
    assert {f for f, _ in got} == {"prompt_chars", "temperature", "language", "user_tier"}
    assert {m for _, m in got} >= {"psi", "js-distance", "ks", "wasserstein", "linf", "missing-rate"}
    # the same figures diff --data reports, and the drift is in the gate
    d = skewaudit("diff", spec, "--manifest", CLEAN, "--data", DATA / "serving-drifted.csv", "-F", "json")
    psi = {x["field"].rsplit(".", 1)[1]: x["observed"][0]["value"] for x in json.loads(d.out)["results"]
           if x["check"] == "data.psi"}
    # the sketches are deterministic: both runs profile the same rows into the same sketches, so the
    # figures agree to the report's rounding (six decimals)
    assert psi and all(got[(f, "psi")] == pytest.approx(v, abs=1e-6) for f, v in psi.items())
    assert got[("prompt_chars", "psi")] > 1.0 and got[("user_tier", "psi")] < 0.01
    assert samples(r.out)[("skewaudit_gate_failed", ())] == 1
    assert not [k for k in samples(r.out) if k[0] == "skewaudit_data_features_omitted"]
    promtool_check(r.out)


def test_feature_labels_are_capped_drifted_first(tmp_path: Path) -> None:
    rnd = random.Random(7)
    names = [f"f{i:02d}" for i in range(60)]
    base, serve = tmp_path / "base.csv", tmp_path / "serve.csv"
    base.write_text(",".join(names) + "\n" + "".join(
        ",".join(f"{rnd.gauss(0, 1):.4f}" for _ in names) + "\n" for _ in range(400)))
    # only the last five features move in serving: they must be among the exported ones
    serve.write_text(",".join(names) + "\n" + "".join(
        ",".join(f"{rnd.gauss(5 if i >= 55 else 0, 1):.4f}" for i in range(60)) + "\n" for _ in range(400)))
    spec = spec_with_data(tmp_path, base)
    r = skewaudit("serve", spec, "--manifest", CLEAN, "--once", "--data", serve)
    assert r.code == 0, r.err
    exported = {f for f, _ in scores(r.out)}
    assert len(exported) == 50 and {"f55", "f56", "f57", "f58", "f59"} <= exported
    assert samples(r.out)[("skewaudit_data_features_omitted", (("spec", "llama-3-1-70b"),))] == 10
    promtool_check(r.out)


def test_serving_data_without_a_data_block_is_a_usage_error() -> None:
    r = skewaudit("serve", EXAMPLES / "llama-3.1-70b-vllm.yaml", "--manifest", CLEAN, "--port", "0",
                  "--data", DATA / "serving-drifted.csv")
    assert r.code == 2 and "spec.data.baseline" in r.err and r.err.count("\n") == 1
