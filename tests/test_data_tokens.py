"""Prompt lengths in tokens (``--tokenizer tokenizer.json``) and the serving side from vLLM's
``vllm:request_prompt_tokens`` histogram (a saved /metrics page, or the runtime probe).

The tokenizer is a real one, trained here with the Hugging Face ``tokenizers`` library on a
small word list (a WordLevel model on whitespace: one token per known word), so token counts
are known exactly. The serving histogram is the recorded vLLM 0.10.2 page in
``tests/fixtures/engines/vllm-0.10.2`` (4,000 requests, 8 % of them over 500 tokens).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from clirun import main_inprocess
from fake_engines import ENGINES, FakeEngine

from skewaudit.dataskew import sketches as sk
from skewaudit.dataskew import store

METRICS = ENGINES / "vllm-0.10.2" / "metrics.txt"
LONG = ["alphabets", "bandwidth", "calibrate", "datacubes", "effective", "frameworks"]   # ~9-10 characters
SHORT = list("abcdefghij")                                                               # 1 character


@pytest.fixture(scope="module")
def tokenizer(tmp_path_factory) -> Path:
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers

    tok = Tokenizer(models.WordLevel(unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    tok.train_from_iterator([" ".join(LONG + SHORT)] * 4, trainers.WordLevelTrainer(special_tokens=["[UNK]"]))
    path = tmp_path_factory.mktemp("tok") / "tokenizer.json"
    tok.save(str(path))
    return path


def _prompts(words: list[str], counts: np.ndarray, rng: np.random.Generator) -> list[str]:
    return [" ".join(rng.choice(words, int(n))) for n in counts]


def _run(monkeypatch, capsys, *args) -> tuple[int, dict, str]:
    code, out, err = main_inprocess(monkeypatch, capsys, *args)
    return code, (json.loads(out) if out.strip().startswith("{") else {}), err


def _prompt_length(report: dict, feature: str = "prompt") -> dict:
    (r,) = [r for r in report["results"] if r["check"] == "data.prompt-length" and r["field"].endswith(feature)]
    return r


def test_token_lengths_catch_what_character_lengths_miss(tmp_path, tokenizer, monkeypatch, capsys):
    rng = np.random.default_rng(3)
    n = 4_000
    # Baseline: 10-40 long words. Serving: the same character lengths made of one-letter words, so
    # five times the tokens (what a new client's formatting can do to the context).
    words = rng.integers(10, 40, n)
    long_ = [" ".join(["alphabets"] * int(k)) for k in words]
    short = [" ".join(["a"] * int(5 * k)) for k in words]
    assert [len(x) for x in long_] == [len(x) for x in short]
    pq.write_table(pa.table({"prompt": long_}), tmp_path / "train.parquet")
    pq.write_table(pa.table({"prompt": short}), tmp_path / "serve.parquet")

    code, report, err = _run(monkeypatch, capsys, "data-diff", tmp_path / "train.parquet", tmp_path / "serve.parquet",
                             "--kind", "prompt=text", "--format", "json")
    assert code == 0, err
    r = _prompt_length(report)
    assert r["status"] == "match" and "characters" in r["message"]
    assert "no tokenizer" in r["observed"][0]["note"]      # the fallback is named as such

    code, report, err = _run(monkeypatch, capsys, "data-diff", tmp_path / "train.parquet", tmp_path / "serve.parquet",
                             "--kind", "prompt=text", "--tokenizer", tokenizer, "--format", "json")
    assert code == 1, err
    r = _prompt_length(report)
    assert r["status"] == "drift" and "tokens" in r["message"] and "characters" not in r["message"]
    assert r["observed"][0]["value"] > 0.9                  # nearly every serving prompt is longer in tokens
    assert "tokenizer.json@sha256:" in r["observed"][0]["note"]


def test_profile_records_token_lengths_and_the_tokenizer(tmp_path, tokenizer, monkeypatch, capsys):
    rng = np.random.default_rng(5)
    counts = rng.integers(5, 60, 24_000)
    pq.write_table(pa.table({"prompt": _prompts(LONG, counts, rng), "n": counts}), tmp_path / "d.parquet",
                   row_group_size=1_000)
    for jobs in ("1", "2"):   # one process, and pieces in worker processes merged
        code, _out, err = main_inprocess(monkeypatch, capsys, "profile", tmp_path / "d.parquet", "--kind", "prompt=text",
                                         "--tokenizer", tokenizer, "--jobs", jobs, "-o", tmp_path / f"j{jobs}.profile")
        assert code == 0, err
        p = store.load(str(tmp_path / f"j{jobs}.profile"))
        assert p.tokenizer and p.tokenizer.startswith("tokenizer.json@sha256:")
        toks = sk.decode_kll(p.features["prompt"].tokens)
        # one token per word: the token sketch's extremes are the exact word counts
        assert (toks.get_min_value(), toks.get_max_value()) == (counts.min(), counts.max())
        assert p.features["n"].tokens is None                # numbers have no token lengths
    # a profile without tokens merges with one that has them: the merged profile has none
    code, _out, err = main_inprocess(monkeypatch, capsys, "profile", tmp_path / "d.parquet", "--kind", "prompt=text",
                                     "-o", tmp_path / "plain.profile")
    assert code == 0, err
    code, _out, err = main_inprocess(monkeypatch, capsys, "profile", "merge", tmp_path / "j1.profile",
                                     tmp_path / "plain.profile", "-o", tmp_path / "m.profile")
    assert code == 0, err
    m = store.load(str(tmp_path / "m.profile"))
    assert m.tokenizer is None and m.features["prompt"].tokens is None and m.rows == 48_000


def test_bad_tokenizer_files_are_one_line_errors(tmp_path, monkeypatch, capsys, tokenizer):
    pq.write_table(pa.table({"prompt": ["x " * 40] * 10}), tmp_path / "d.parquet")
    (tmp_path / "bad.json").write_text('{"version": "1.0", "model": {"type": "Nope"}}')
    (tmp_path / "bin.json").write_bytes(b"\xff\xfe\x00garbage")
    other = json.loads(tokenizer.read_text())
    other["model"]["vocab"]["zzz"] = len(other["model"]["vocab"])
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "tokenizer.json").write_text(json.dumps(other))
    for bad, needle in ((tmp_path / "bad.json", "bad.json: not a tokenizer.json"),
                        (tmp_path / "bin.json", "bin.json: not a tokenizer.json"),
                        (tmp_path / "missing.json", "missing.json: cannot read tokenizer")):
        code, _out, err = main_inprocess(monkeypatch, capsys, "profile", tmp_path / "d.parquet", "--tokenizer", bad)
        assert code == 2 and needle in err and len(err.strip().splitlines()) == 1, err
    # two profiles counted with different tokenizers do not merge (a directory holding tokenizer.json works)
    for name, tok in (("a", tokenizer), ("b", tmp_path / "other")):
        code, _out, err = main_inprocess(monkeypatch, capsys, "profile", tmp_path / "d.parquet", "--kind",
                                         "prompt=text", "--tokenizer", tok, "-o", tmp_path / f"{name}.profile")
        assert code == 0, err
    code, _out, err = main_inprocess(monkeypatch, capsys, "profile", "merge", tmp_path / "a.profile",
                                     tmp_path / "b.profile", "-o", tmp_path / "ab.profile")
    assert code == 2 and "different tokenizers" in err


# --- the serving side from vLLM's prompt-token histogram ------------------------------------------

def _fixture_shaped_counts(n: int, rng: np.random.Generator, cap: float = 2_000) -> np.ndarray:
    """Token counts drawn like the recorded histogram (uniform inside each bucket), up to ``cap``."""
    bounds = [0, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000]
    per = np.array([0, 0, 0, 0, 4, 96, 640, 1180, 1760, 240, 80], float)
    b = rng.choice(len(per), n, p=per / per.sum())
    lo, hi = np.array(bounds[:-1])[b], np.minimum(np.array(bounds[1:])[b], cap)
    return np.floor(lo + 1 + rng.random(n) * (hi - lo - 1)).clip(1)


@pytest.fixture(scope="module")
def baselines(tmp_path_factory, tokenizer) -> dict[str, Path]:
    """Two validation sets profiled with the tokenizer: one shaped like serving, one of shorter prompts."""
    d = tmp_path_factory.mktemp("hist")
    rng = np.random.default_rng(8)
    out = {}
    for name, counts in (("like", _fixture_shaped_counts(20_000, rng)),
                         ("short", rng.integers(20, 400, 20_000).astype(float))):
        pq.write_table(pa.table({"prompt": _prompts(SHORT, counts, rng)}), d / f"{name}.parquet")
        from clirun import skewaudit

        r = skewaudit("profile", d / f"{name}.parquet", "--kind", "prompt=text", "--tokenizer", tokenizer,
                      "-o", d / f"{name}.profile")
        assert r.code == 0, r.err
        out[name] = d / f"{name}.profile"
    return out


def test_a_saved_vllm_metrics_page_is_the_serving_side(baselines, monkeypatch, capsys):
    code, report, err = _run(monkeypatch, capsys, "data-diff", baselines["short"], "--serving-metrics", METRICS,
                             "--format", "json")
    assert code == 1, err
    r = _prompt_length(report)
    assert r["status"] == "drift"
    # 8 % of the 4,000 served prompts are over 500 tokens; the longest validated one has < 400
    assert 0.08 <= r["observed"][0]["value"] <= 0.30
    prov = r["observed"][0]["prov"]
    assert prov["source"] == "runtime" and prov["object"] == str(METRICS)
    assert "vllm:request_prompt_tokens" in prov["path"] and "4,000 requests" in r["message"]
    # serving like validation: no drift
    code, report, err = _run(monkeypatch, capsys, "data-diff", baselines["like"], "--serving-metrics", METRICS,
                             "--format", "json")
    assert code == 0, (err, report)
    assert _prompt_length(report)["status"] == "match"


def test_the_histogram_needs_token_lengths_in_the_baseline(tmp_path, monkeypatch, capsys):
    pq.write_table(pa.table({"prompt": ["word " * 30] * 100}), tmp_path / "d.parquet")
    code, report, err = _run(monkeypatch, capsys, "data-diff", tmp_path / "d.parquet", "--serving-metrics", METRICS,
                             "--kind", "prompt=text", "--format", "json")
    r = _prompt_length(report)
    assert r["status"] == "unverifiable" and "--tokenizer" in r["reason"]
    assert code == 0   # unverifiable fails the gate only with --fail-on-unverifiable


def test_metrics_pages_without_the_histogram_or_not_prometheus_are_errors(tmp_path, baselines, monkeypatch, capsys):
    (tmp_path / "none.txt").write_text("# TYPE vllm:num_requests_running gauge\nvllm:num_requests_running 1.0\n")
    (tmp_path / "html.txt").write_text("<html><body>502 Bad Gateway</body></html>\n")
    for name, needle in (("none.txt", "no vllm:request_prompt_tokens histogram"), ("html.txt", "not Prometheus text")):
        code, _r, err = _run(monkeypatch, capsys, "data-diff", baselines["short"], "--serving-metrics",
                             tmp_path / name)
        assert code == 2 and name in err and needle in err and len(err.strip().splitlines()) == 1, err


def test_diff_with_probe_compares_the_spec_baseline_with_the_engine_histogram(tmp_path, baselines, monkeypatch,
                                                                              capsys):
    spec = (Path(__file__).parent / "fixtures" / "specs" / "probe" / "vllm.yaml").read_text()
    spec = spec.replace('">=0.6,<0.7"', '">=0.10"').replace("enablePrefixCaching: false", "enablePrefixCaching: true")
    spec += f"  data:\n    baseline: {baselines['short']}\n"
    (tmp_path / "s.yaml").write_text(spec)
    with FakeEngine("vllm-0.10.2") as eng:
        code, report, err = _run(monkeypatch, capsys, "diff", tmp_path / "s.yaml", "--endpoint", eng.url,
                                 "--format", "json")
    assert code == 1, err
    r = _prompt_length(report)
    assert r["status"] == "drift"
    prov = r["observed"][0]["prov"]
    assert prov["source"] == "runtime" and prov["path"] == "GET /metrics vllm:request_prompt_tokens_bucket"
    assert eng.url in prov["object"]
