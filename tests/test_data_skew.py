"""Data-distribution skew end to end: profiles, merges, metrics with known answers, findings, gate, bad input.

Data is generated here (numpy, written as Parquet/CSV/JSON Lines) with known
shifts; the sketch-based metrics are checked against exact numpy values on the
full data, and the CLI is checked for what a user sees: exit codes, the checks
that drift, observed values and one-line errors.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from clirun import EXAMPLES, skewaudit

from skewaudit.dataskew import metrics as mx
from skewaudit.dataskew import sketches as sk
from skewaudit.dataskew import store
from skewaudit.dataskew.profile import merge

N = 40_000


def _table(n: int, seed: int, *, shift: float = 0.0, new_category: bool = False, long_prompts: bool = False,
           null_age: bool = False) -> pa.Table:
    rng = np.random.default_rng(seed)
    age = rng.normal(40 + 10 * shift, 10, n)
    age[rng.random(n) < 0.02] = np.nan
    country = np.array(["us", "eu", "apac"])[rng.choice(3, n, p=[0.5, 0.3, 0.2])].astype(object)
    if new_category:
        country[rng.random(n) < 0.05] = "latam"
    lengths = rng.integers(40, 2_000 if long_prompts else 400, n)
    return pa.table({
        "age": pa.array([None] * n, pa.float64()) if null_age else age,
        "country": country.astype(str),
        "prompt": ["p" * int(x) for x in lengths],
        "clicks": rng.poisson(3, n),
    })


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("data")
    pq.write_table(_table(N, 1), d / "train.parquet", row_group_size=5_000)
    pq.write_table(_table(N // 2, 2), d / "serve_ok.parquet")
    pq.write_table(_table(N // 2, 3, shift=1.0, new_category=True, long_prompts=True), d / "serve_bad.parquet")
    r = skewaudit("profile", d / "train.parquet", "-o", d / "train.profile")
    assert r.code == 0, r.err
    return d


def _results(r) -> list[dict]:
    return json.loads(r.out)["results"]


# --- metrics: known answers and agreement with exact values -------------------------------

def _kll(values) -> object:
    s = sk.new_kll()
    s.update(np.asarray(values, dtype="float64"))
    return s


def test_identical_distributions_score_zero():
    rng = np.random.default_rng(0)
    a = rng.normal(0, 1, 200_000)
    one = _kll(a)
    m = mx.numeric_metrics(one, one, float(np.std(a)))
    assert m["psi"] < 1e-9 and m["js"] < 1e-6 and m["ks"] < 1e-9 and m["wasserstein"] < 1e-9
    # the sketch is deterministic: two sketches of the same data are the same sketch
    m = mx.numeric_metrics(_kll(a), _kll(a), float(np.std(a)))
    assert m["psi"] < 1e-9 and m["ks"] < 1e-9 and m["wasserstein"] < 1e-9
    c = mx.categorical_metrics({"a": 5, "b": 5}, 10, {"a": 50, "b": 50}, 100)
    assert c["psi"] == pytest.approx(0) and c["js"] == pytest.approx(0) and c["linf"] == 0 and c["unseen_share"] == 0


def test_disjoint_distributions_score_maximal():
    m = mx.numeric_metrics(_kll(np.arange(0, 10_000)), _kll(np.arange(50_000, 60_000)), 2886.9)
    assert m["ks"] == pytest.approx(1.0) and m["js"] == pytest.approx(1.0, abs=1e-3) and m["psi"] > 5
    c = mx.categorical_metrics({"a": 10}, 10, {"b": 10}, 10)
    assert c["js"] == pytest.approx(1.0) and c["linf"] == pytest.approx(1.0) and c["unseen_share"] == 1.0


def test_a_known_mean_shift_gives_the_analytic_values():
    # N(0,1) vs N(d,1): KS = 2*Phi(d/2) - 1; Wasserstein-1 = d, normalised by sigma = 1.
    rng = np.random.default_rng(1)
    d = 0.5
    a, b = rng.normal(0, 1, 500_000), rng.normal(d, 1, 500_000)
    m = mx.numeric_metrics(_kll(a), _kll(b), float(np.std(a, ddof=1)))
    ks = 2 * (0.5 * (1 + math.erf(d / 2 / math.sqrt(2)))) - 1
    assert m["ks"] == pytest.approx(ks, abs=0.01)
    assert m["wasserstein"] == pytest.approx(d, abs=0.02)


@pytest.mark.parametrize("shift", [0.0, 0.1, 0.3, 1.0])
@pytest.mark.parametrize("seed", [7, 8, 9])
def test_sketch_metrics_agree_with_exact_numpy_values(shift, seed):
    rng = np.random.default_rng(seed)
    a, b = rng.lognormal(0, 0.7, 300_000), rng.lognormal(shift, 0.7, 300_000)
    got = mx.numeric_metrics(_kll(a), _kll(b), float(np.std(a, ddof=1)))
    exact = mx.exact_numeric(a, b)
    # The stated accuracy (README, data skew): PSI ±0.005 up to 0.3 (where gates decide), 3 % of a
    # larger PSI (a near-empty bin's log ratio amplifies rank error); JS and KS ±0.01; normalised
    # Wasserstein ±0.01 or 5 % (tail quantiles of a skewed distribution carry the sketch's error).
    assert got["psi"] == pytest.approx(exact["psi"], abs=0.005 if exact["psi"] <= 0.3 else 0.03 * exact["psi"])
    assert got["js"] == pytest.approx(exact["js"], abs=0.01)
    assert got["ks"] == pytest.approx(exact["ks"], abs=0.01)
    assert got["wasserstein"] == pytest.approx(exact["wasserstein"], abs=max(0.01, 0.05 * exact["wasserstein"]))


@pytest.mark.parametrize("seed", [6, 7])
def test_one_heavy_sketch_item_beyond_the_baseline_range_is_not_read_as_drift(seed):
    # Two 1M-row samples of one distribution, fed in record batches: with seed 7 the serving sketch
    # keeps one item of weight 1,024 just below the baseline's minimum. Counted as 0.1 % of serving
    # outside the baseline's range, it made the JS distance 0.023 against an exact 0.002.
    rng = np.random.default_rng(seed)
    a, b = rng.lognormal(0, 0.6, 1_000_000), rng.lognormal(0, 0.6, 1_000_000)
    sa, sb = sk.new_kll(), sk.new_kll()
    for i in range(0, len(a), 65_536):
        sa.update(a[i:i + 65_536])
        sb.update(b[i:i + 65_536])
    got, exact = mx.numeric_metrics(sa, sb, float(np.std(a, ddof=1))), mx.exact_numeric(a, b)
    assert got["js"] == pytest.approx(exact["js"], abs=0.005)
    # while serving mass really outside the baseline's range still counts, as it does exactly
    c = np.concatenate([b[:950_000], rng.uniform(a.max() + 1, a.max() + 5, 50_000)])
    sc = sk.new_kll()
    sc.update(c)
    assert mx.numeric_metrics(sa, sc, 1.0)["js"] == pytest.approx(mx.exact_numeric(a, c)["js"], abs=0.01)


def test_sketch_quantiles_stay_within_the_stated_rank_error_on_sorted_and_adversarial_orders():
    # Fixed coins must not be a weakness on the orders real files have: sorted, reversed, and
    # sorted blocks (a table clustered by the feature), fed in record batches like the profiler does.
    rng = np.random.default_rng(3)
    base = rng.normal(0, 1, 400_000)
    orders = {"random": base, "sorted": np.sort(base), "reversed": np.sort(base)[::-1],
              "blocks": np.concatenate([np.sort(c) for c in np.array_split(base, 37)])}
    ranks = np.linspace(0.001, 0.999, 199)
    exact = np.sort(base)
    for name, values in orders.items():
        s = sk.new_kll()
        for i in range(0, len(values), 65_536):
            s.update(values[i:i + 65_536])
        got = np.asarray(s.get_quantiles(ranks))
        true_rank = np.searchsorted(exact, got, side="right") / len(exact)
        assert np.abs(true_rank - ranks).max() < 0.005, name   # stated: about 0.2 %
        assert (s.get_min_value(), s.get_max_value()) == (exact[0], exact[-1])


def test_the_same_data_gives_the_same_profile_and_the_same_verdict(data, tmp_path):
    # A gate must not flip on unchanged data: profiles of the same rows are identical, sketches included.
    for name in ("one", "two"):
        r = skewaudit("profile", data / "serve_bad.parquet", "-o", tmp_path / f"{name}.profile")
        assert r.code == 0, r.err
    one, two = (json.loads((tmp_path / f"{n}.profile").read_text()) for n in ("one", "two"))
    one.pop("created_at"), two.pop("created_at")
    assert one == two
    outs = [skewaudit("data-diff", data / "train.profile", tmp_path / f"{n}.profile", "--format", "json")
            for n in ("one", "two")]
    assert outs[0].code == outs[1].code == 1
    assert [(x["check"], x["field"], x["status"], [o["value"] for o in x["observed"]]) for x in _results(outs[0])] == \
        [(x["check"], x["field"], x["status"], [o["value"] for o in x["observed"]]) for x in _results(outs[1])]


def test_profiles_written_with_datasketches_kll_are_still_read(data, tmp_path):
    # Profiles from earlier skewaudit versions hold DataSketches KLL bytes: their items and weights
    # convert exactly, so quantiles, extremes and the comparison are the same as before.
    import base64

    import datasketches

    rng = np.random.default_rng(11)
    values = rng.normal(40, 10, 50_000)
    old = datasketches.kll_doubles_sketch(1_000)
    old.update(values)
    new = sk.decode_kll(base64.b64encode(old.serialize()).decode())
    assert new.n == 50_000 and (new.get_min_value(), new.get_max_value()) == (values.min(), values.max())
    points = [20.0, 30.0, 35.0, 40.0, 45.0, 50.0, 60.0]
    assert new.get_cdf(points) == pytest.approx(old.get_cdf(points), abs=0.003)
    exact = np.sort(values)
    for rank, q in zip((0.01, 0.25, 0.5, 0.75, 0.99), new.get_quantiles([0.01, 0.25, 0.5, 0.75, 0.99])):
        assert np.searchsorted(exact, q, side="right") / len(exact) == pytest.approx(rank, abs=0.005)
    empty = sk.decode_kll(base64.b64encode(datasketches.kll_doubles_sketch(200).serialize()).decode())
    assert empty.is_empty()


def test_a_tampered_quantile_sketch_is_refused(data, tmp_path):
    import base64

    from skewaudit.dataskew.quantiles import QuantileSketch

    good = store.load(str(data / "train.profile"))
    raw = base64.b64decode(good.features["age"].numeric.kll)
    assert QuantileSketch.from_bytes(raw).n > 0
    head = 4 + 4 + 8 + 8 + 8 + 2
    tampered = {
        "count": raw[:8] + (123).to_bytes(8, "little") + raw[16:],          # weights no longer add up
        "truncated": raw[:-8],
        "item outside [min, max]": raw[:-8] + np.array([1e300]).astype("<f8").tobytes(),
        "levels": raw[:head - 2] + (65).to_bytes(2, "little") + raw[head:],
    }
    for what, bad in tampered.items():
        with pytest.raises(ValueError, match="corrupt quantile sketch"):
            sk.decode_kll(base64.b64encode(bad).decode())
        text = (data / "train.profile").read_text().replace(good.features["age"].numeric.kll,
                                                             base64.b64encode(bad).decode())
        (tmp_path / "t.profile").write_text(text)
        r = skewaudit("data-diff", tmp_path / "t.profile", data / "serve_ok.parquet")
        assert r.code == 2 and "feature 'age': corrupt quantile sketch" in r.err, (what, r.err)
        assert len(r.err.strip().splitlines()) == 1 and "Traceback" not in r.err


# --- profiles -----------------------------------------------------------------------------

def test_profiles_of_shards_merge_into_the_profile_of_the_whole(tmp_path):
    whole = _table(N, 5)
    pq.write_table(whole, tmp_path / "all.parquet")
    pq.write_table(whole.slice(0, N // 3), tmp_path / "a.parquet")
    pq.write_table(whole.slice(N // 3), tmp_path / "b.parquet")
    for name in ("all", "a", "b"):
        assert skewaudit("profile", tmp_path / f"{name}.parquet", "-o", tmp_path / f"{name}.profile").code == 0
    r = skewaudit("profile", "merge", tmp_path / "a.profile", tmp_path / "b.profile", "-o", tmp_path / "m.profile")
    assert r.code == 0, r.err
    one, merged = store.load(str(tmp_path / "all.profile")), store.load(str(tmp_path / "m.profile"))
    assert merged.rows == one.rows == N
    for name, f in one.features.items():
        g = merged.features[name]
        assert (g.kind, g.count, g.missing) == (f.kind, f.count, f.missing)
    assert merged.features["age"].numeric.min == one.features["age"].numeric.min
    assert merged.features["age"].numeric.sum == pytest.approx(one.features["age"].numeric.sum)
    fa, exact_a = sk.frequent(sk.decode_freq(one.features["country"].categorical.freq))
    fb, exact_b = sk.frequent(sk.decode_freq(merged.features["country"].categorical.freq))
    assert exact_a and exact_b and dict(fa) == dict(fb)
    qa = sk.decode_kll(one.features["age"].numeric.kll).get_quantiles([0.1, 0.5, 0.9])
    qb = sk.decode_kll(merged.features["age"].numeric.kll).get_quantiles([0.1, 0.5, 0.9])
    assert qa == pytest.approx(qb, abs=0.5)   # rank error ~0.2 % at k=1000; age sd is 10
    # and the merged profile compares clean against the whole
    r = skewaudit("data-diff", tmp_path / "all.profile", tmp_path / "m.profile")
    assert r.code == 0 and "no drift" in r.out


def test_profile_kinds_and_the_file_format(data):
    p = store.load(str(data / "train.profile"))
    assert {n: f.kind for n, f in p.features.items()} == {
        "age": "numeric", "clicks": "numeric", "country": "categorical", "prompt": "text"}
    assert p.features["age"].missing == pytest.approx(0.02 * N, rel=0.15)
    raw = json.loads((data / "train.profile").read_text())
    assert raw["schema"] == "skewaudit.io/data-profile/v1" and raw["rows"] == N
    # the profile's size is set by the sketches, not by the rows
    assert (data / "train.profile").stat().st_size < 400_000


def test_csv_jsonl_stdin_and_hive_partitions_are_read(tmp_path):
    t = _table(3_000, 9).drop(["prompt"])
    import pyarrow.csv as pcsv

    pcsv.write_csv(t, tmp_path / "d.csv")
    (tmp_path / "d.jsonl").write_text("\n".join(json.dumps(r) for r in t.to_pylist()) + "\n")
    for part in ("us", "eu"):
        (tmp_path / "hive" / f"region={part}").mkdir(parents=True)
        pq.write_table(t, tmp_path / "hive" / f"region={part}" / "part-0.parquet")
    profiles = {}
    for name, args in {"csv": [tmp_path / "d.csv"], "jsonl": [tmp_path / "d.jsonl"],
                       "hive": [tmp_path / "hive"]}.items():
        r = skewaudit("profile", *args, "-o", tmp_path / f"{name}.profile")
        assert r.code == 0, r.err
        profiles[name] = store.load(str(tmp_path / f"{name}.profile"))
    r = skewaudit("profile", "-", "--kind", "country=categorical", stdin=(tmp_path / "d.jsonl").read_text())
    assert r.code == 0, r.err
    assert json.loads(r.out)["rows"] == 3_000
    assert profiles["csv"].rows == profiles["jsonl"].rows == 3_000 and profiles["hive"].rows == 6_000
    assert "region" in profiles["hive"].features and profiles["hive"].features["region"].kind == "categorical"
    assert profiles["csv"].features["age"].missing == profiles["jsonl"].features["age"].missing


def test_columns_and_sample(data):
    r = skewaudit("profile", data / "train.parquet", "--columns", "age,country", "--sample", "0.25", "--seed", "3")
    assert r.code == 0, r.err
    p = json.loads(r.out)
    assert sorted(p["features"]) == ["age", "country"]
    assert 0.2 * N < p["rows"] < 0.3 * N and p["sample"] == 0.25


# --- findings and the gate ------------------------------------------------------------------

def test_serving_data_like_the_baseline_is_clean(data):
    r = skewaudit("data-diff", data / "train.profile", data / "serve_ok.parquet", "--format", "json")
    assert r.code == 0, r.out
    res = _results(r)
    assert res and all(x["status"] in ("match", "not-applicable") for x in res)
    assert {x["check"] for x in res} >= {"data.psi", "data.ks", "data.wasserstein", "data.js-distance", "data.linf",
                                         "data.unseen-categories", "data.missing-rate", "data.schema",
                                         "data.prompt-length"}


def test_shifted_serving_data_drifts_per_feature_and_metric(data):
    r = skewaudit("data-diff", data / "train.profile", data / "serve_bad.parquet", "--format", "json")
    assert r.code == 1
    drift = {(x["check"], x["field"].rsplit(".", 1)[1]): x for x in _results(r) if x["status"] == "drift"}
    assert ("data.psi", "age") in drift and ("data.wasserstein", "age") in drift and ("data.ks", "age") in drift
    assert ("data.unseen-categories", "country") in drift and ("data.prompt-length", "prompt") in drift
    assert ("data.psi", "clicks") not in drift          # clicks did not move
    unseen = drift[("data.unseen-categories", "country")]
    assert unseen["observed"][0]["value"] == pytest.approx(0.05, abs=0.01)
    assert "'latam'" in unseen["observed"][0]["note"]
    assert drift[("data.wasserstein", "age")]["observed"][0]["value"] == pytest.approx(1.0, abs=0.1)
    prov = drift[("data.psi", "age")]["observed"][0]["prov"]
    assert prov["source"] == "data" and "20,000 serving rows vs 40,000 baseline rows" in prov["path"]
    # the table says the same, and its last line agrees with the exit code
    t = skewaudit("data-diff", data / "train.profile", data / "serve_bad.parquet")
    assert t.code == 1 and t.out.strip().splitlines()[-1].startswith(f"{len(drift)} drifted")


def test_thresholds_from_flags_change_the_verdict(data):
    args = ("data-diff", data / "train.profile", data / "serve_bad.parquet", "--format", "json")
    loose = [f"{m}=off" for m in ("psi", "js-distance", "ks", "wasserstein", "linf", "unseen-share",
                                  "prompt-over-validated", "missing-rate")]
    r = skewaudit(*args, *sum((["--threshold", t] for t in loose), []))
    assert r.code == 0 and not [x for x in _results(r) if x["status"] == "drift"]
    r = skewaudit(*args, "--threshold", "psi=nonsense")
    assert r.code == 2 and "psi=nonsense" in r.err and len(r.err.strip().splitlines()) == 1


def test_every_output_format_is_written(data, tmp_path):
    outs = {f: tmp_path / f"r.{f}" for f in ("json", "sarif", "junit", "markdown")}
    args = sum((["--format", f, "-o", p] for f, p in outs.items()), [])
    r = skewaudit("data-diff", data / "train.profile", data / "serve_bad.parquet", *args)
    assert r.code == 1
    assert json.loads(outs["sarif"].read_text())["runs"][0]["results"]
    assert "data.psi" in outs["junit"].read_text() and "<failure" in outs["junit"].read_text()
    assert "`data.unseen-categories`" in outs["markdown"].read_text()


SPEC_DATA = """
  data:
    baseline: {baseline}
    thresholds: {{psi: 0.2}}
    features:
      clicks: {{thresholds: {{psi: "off"}}}}
"""


def _spec_with_data(tmp_path: Path, baseline: str, extra_policy: str = "") -> Path:
    text = (EXAMPLES / "llama-3.1-70b-vllm.yaml").read_text()
    text = text.replace("apiVersion: piqc.ai/v1alpha1", "apiVersion: skewaudit.io/v1alpha1")
    if extra_policy:
        # The example already has a policy block: add to its ignore list (a second `policy:` key is an error).
        head = "  policy:\n    ignore:\n"
        assert extra_policy.startswith(head) and text.count("\n" + head) == 1
        text = text.replace("\n" + head, "\n" + extra_policy, 1)
    p = tmp_path / "spec.yaml"
    p.write_text(text.rstrip("\n") + "\n" + SPEC_DATA.format(baseline=baseline))
    return p


def test_diff_with_data_reports_config_and_data_findings_in_one_report(data, tmp_path):
    spec = _spec_with_data(tmp_path, str(data / "train.profile"))
    manifest = EXAMPLES / "manifests" / "llama-3.1-70b-vllm.yaml"
    clean = skewaudit("diff", spec, "--manifest", manifest, "--data", data / "serve_ok.parquet", "--format", "json")
    assert clean.code == 0, clean.out + clean.err
    assert any(x["category"] == "data" for x in _results(clean))
    bad = skewaudit("diff", spec, "--manifest", manifest, "--data", data / "serve_bad.parquet", "--format", "json")
    assert bad.code == 1
    drift = [x for x in _results(bad) if x["status"] == "drift"]
    assert drift and all(x["category"] == "data" for x in drift)
    psi_age = next(x for x in drift if x["check"] == "data.psi" and x["field"].endswith(".age"))
    assert psi_age["expected"] == "<= 0.2" and psi_age["spec"] == "llama-3-1-70b"
    assert psi_age["location"]["file"].endswith("spec.yaml") and psi_age["location"]["line"] > 1
    # the per-feature override turned clicks' PSI off
    clicks = next(x for x in _results(bad) if x["check"] == "data.psi" and x["field"].endswith(".clicks"))
    assert clicks["status"] == "not-applicable"


def test_spec_policy_suppresses_a_data_finding_with_its_reason(data, tmp_path):
    policy = ("  policy:\n    ignore:\n      - check: data.unseen-categories\n"
              "        reason: latam launch approved (DATA-7)\n")
    spec = _spec_with_data(tmp_path, str(data / "train.profile"), policy)
    r = skewaudit("diff", spec, "--manifest", EXAMPLES / "manifests" / "llama-3.1-70b-vllm.yaml",
                  "--data", data / "serve_bad.parquet", "--format", "json")
    unseen = next(x for x in _results(r) if x["check"] == "data.unseen-categories")
    assert unseen["status"] == "suppressed" and "DATA-7" in unseen["reason"]


def test_diff_data_without_a_data_block_is_a_usage_error(data):
    r = skewaudit("diff", EXAMPLES / "llama-3.1-70b-vllm.yaml", "--manifest",
                  EXAMPLES / "manifests" / "llama-3.1-70b-vllm.yaml", "--data", data / "serve_ok.parquet")
    assert r.code == 2 and "spec.data.baseline" in r.err


# --- bad input: one line, exit 2, or a data.schema finding ------------------------------------

def test_corrupt_and_unreadable_inputs(tmp_path, data):
    (tmp_path / "bad.parquet").write_bytes(b"PAR1 this is not parquet")
    (tmp_path / "p.profile").write_text('{"schema": "skewaudit.io/data-profile/v0", "features": {}}')
    (tmp_path / "t.profile").write_text('{"schema": "skewaudit.io/data-profile/v1", "features": {"a": [')
    (tmp_path / "k.profile").write_text('{"schema": "skewaudit.io/data-profile/v1", "rows": 1, "features": '
                                        '{"a": {"name": "a", "kind": "numeric", "type": "double", "count": 1, '
                                        '"numeric": {"kll": "bm90IGEgc2tldGNo"}}}}')
    (tmp_path / "mixed.jsonl").write_text('{"a": 1}\n' * 20_000 + '{"a": "x"}\n')
    cases = {
        "bad.parquet": (["profile", tmp_path / "bad.parquet"], "bad.parquet"),
        "p.profile": (["data-diff", tmp_path / "p.profile", data / "serve_ok.parquet"], "data-profile/v0"),
        "t.profile": (["data-diff", tmp_path / "t.profile", data / "serve_ok.parquet"], "invalid JSON"),
        "k.profile": (["data-diff", tmp_path / "k.profile", data / "serve_ok.parquet"], "feature 'a': corrupt"),
        "missing": (["profile", tmp_path / "nope.parquet"], "nope.parquet"),
        "column": (["profile", data / "train.parquet", "--columns", "nope"], "'nope'"),
        "mixed": (["profile", tmp_path / "mixed.jsonl"], "mixed.jsonl"),
        "sample": (["profile", data / "train.parquet", "--sample", "2"], "--sample"),
        "kind": (["profile", data / "train.parquet", "--kind", "age=colour"], "--kind"),
    }
    for name, (args, needle) in cases.items():
        r = skewaudit(*args)
        assert r.code == 2, (name, r.code, r.err)
        assert needle in r.err and "Traceback" not in r.err and len(r.err.strip().splitlines()) == 1, (name, r.err)


def test_schema_changes_all_null_and_empty_serving_data_are_findings(data, tmp_path):
    t = _table(5_000, 11, null_age=True).drop(["clicks"])
    t = t.set_column(t.schema.get_field_index("country"), "country", pa.array(np.arange(5_000)))
    pq.write_table(t, tmp_path / "s.parquet")
    r = skewaudit("data-diff", data / "train.profile", tmp_path / "s.parquet", "--format", "json")
    assert r.code == 1
    by = {(x["check"], x["field"].rsplit(".", 1)[1]): x for x in _results(r)}
    assert by[("data.schema", "clicks")]["status"] == "drift"
    assert "missing from the serving data" in by[("data.schema", "clicks")]["message"]
    assert by[("data.schema", "country")]["status"] == "drift"
    assert by[("data.missing-rate", "age")]["status"] == "drift"
    assert by[("data.psi", "age")]["status"] == "unverifiable"
    # empty serving data: nothing to compare is never a pass
    pq.write_table(_table(10, 1).slice(0, 0), tmp_path / "empty.parquet")
    r = skewaudit("data-diff", data / "train.profile", tmp_path / "empty.parquet", "--format", "json")
    assert r.code == 1 and r.err.count("no rows") <= 1
    assert all(x["status"] != "match" for x in _results(r) if x["check"] == "data.psi")


# --- the distributed path: a local Dask cluster of worker processes ------------------------------

def test_profile_on_a_local_dask_cluster_equals_the_single_machine_profile(data, tmp_path):
    r = skewaudit("profile", data / "train.parquet", "--dask", "local:2", "-o", tmp_path / "dask.profile")
    assert r.code == 0, r.err
    one, dist = store.load(str(data / "train.profile")), store.load(str(tmp_path / "dask.profile"))
    assert dist.rows == one.rows
    for name, f in one.features.items():
        assert (dist.features[name].count, dist.features[name].missing) == (f.count, f.missing)
    r = skewaudit("data-diff", data / "train.profile", tmp_path / "dask.profile")
    assert r.code == 0, r.out


def test_bundle_shows_the_top_drifting_features_with_histograms(data, tmp_path):
    spec = _spec_with_data(tmp_path, str(data / "train.profile"))
    r = skewaudit("bundle", spec, "--manifest", EXAMPLES / "manifests" / "llama-3.1-70b-vllm.yaml",
                  "--data", data / "serve_bad.parquet", "-o", tmp_path / "incident")
    assert r.code == 0, r.err
    bundle = json.loads((tmp_path / "incident.json").read_text())
    (block,) = bundle["data_skew"]
    features = [f["feature"] for f in block["features"]]
    assert features[0] == "age" and "clicks" not in features       # age moved most; clicks did not move
    age = block["features"][0]
    assert len(age["bins"]) == 10 and sum(b["baseline"] for b in age["bins"]) == pytest.approx(1, abs=0.01)
    # shifted up by one standard deviation: serving's share of the top bin is far above the baseline's 10 %
    assert age["bins"][-1]["serving"] > 0.3 and age["bins"][-1]["baseline"] == pytest.approx(0.1, abs=0.02)
    country = next(f for f in block["features"] if f["feature"] == "country")
    assert {b["label"] for b in country["bins"]} >= {"us", "eu", "apac", "latam"}
    md = (tmp_path / "incident.md").read_text()
    assert "## Data skew: `llama-3-1-70b`" in md and "### `age` (numeric)" in md and "█" in md
    assert any(f["check"].startswith("data.") for f in bundle["findings"])


def test_profile_in_worker_processes_equals_one_pass(tmp_path):
    # 24 row groups: three pieces of eight, profiled in two spawned worker processes and merged.
    pq.write_table(_table(24_000, 21), tmp_path / "big.parquet", row_group_size=1_000)
    serial = skewaudit("profile", tmp_path / "big.parquet", "--jobs", "1", "-o", tmp_path / "one.profile")
    parallel = skewaudit("profile", tmp_path / "big.parquet", "--jobs", "2", "-o", tmp_path / "two.profile")
    assert serial.code == 0 and parallel.code == 0, parallel.err
    one, two = store.load(str(tmp_path / "one.profile")), store.load(str(tmp_path / "two.profile"))
    assert two.rows == one.rows == 24_000
    for name, f in one.features.items():
        assert (two.features[name].kind, two.features[name].count, two.features[name].missing) == (
            f.kind, f.count, f.missing)
    assert two.features["age"].numeric.max == one.features["age"].numeric.max
    assert skewaudit("data-diff", tmp_path / "one.profile", tmp_path / "two.profile").code == 0
