"""Redaction: which names and values are secrets, argv and script pairing, URL credentials,
the marker and its per-installation key. The end-to-end guarantee (no secret in any output
of any command) is the leak matrix in test_leak_matrix.py."""

from __future__ import annotations

import os
import stat
import subprocess
import sys

import pytest

from skewaudit import redact
from skewaudit.runtimes import effective_argv, sglang, tgi, triton, vllm
from skewaudit.runtimes import llamacpp, trtllm

SECRET_NAMES = ["HF_TOKEN", "HFTOKEN", "HUGGING_FACE_HUB_TOKEN", "--hf-token", "--api-key", "--admin-api-key",
                "OPENAI_API_KEY", "DB_PASS", "DB_PASSWD", "MYSQL_PWD", "DB_PASSWORD", "API_KEY2", "KEY", "PASS",
                "X_AUTHORIZATION", "PROXY_AUTHORIZATION_HEADER", "SENTRY_DSN", "SLACK_WEBHOOK_URL", "TEAMS_WEBHOOK",
                "GOOGLE_APPLICATION_CREDENTIALS", "AWS_CREDENTIALS_FILE", "SSH_PRIVATE_KEY", "GIT_PRIVATE",
                "AWS_SECRET_ACCESS_KEY", "apiKey", "hfToken", "x-api-key", "example.com/db-password", "BASIC_AUTH",
                "ACCESSTOKEN", "MY_CREDS", "API_KEYS", "AZURE_CONN_STR", "ConnectionString", "SESSION_COOKIE",
                "--token", "--password"]
# Serving facts skewaudit compares, and ordinary names: never redacted.
PLAIN_NAMES = ["TOKENIZER", "TOKENIZERS_PARALLELISM", "MAX_TOKENS", "MAX_TOTAL_TOKENS", "MAX_INPUT_TOKENS",
               "--max-num-batched-tokens", "--num-speculative-tokens", "--tokenizer", "--tokenizer-mode",
               "--tokenizer-revision", "--skip-tokenizer-init", "--max-new-tokens", "KV_CACHE_DTYPE",
               "--kv-cache-dtype", "KEY_CACHE_DTYPE", "KEY_FILE_PATH", "PWD", "OLDPWD", "PRIVATE_REGISTRY",
               "MONKEY", "KEYBOARD_LAYOUT", "AUTHOR", "PATH", "VLLM_LOGGING_LEVEL", "--ssl-keyfile"]


@pytest.mark.parametrize("name", SECRET_NAMES)
def test_secret_names(name):
    assert redact.is_secret_name(name)
    assert redact.value(name, "plain-looking") != "plain-looking"


@pytest.mark.parametrize("name", PLAIN_NAMES)
def test_names_that_are_not_secrets(name):
    assert not redact.is_secret_name(name)
    assert redact.value(name, "8192") == "8192"


def test_no_engine_flag_skewaudit_compares_is_taken_for_a_secret():
    tables = {**vllm.FLAGS, **sglang.FLAGS, **tgi.FLAGS, **triton.TRITON_FLAGS, **trtllm.FLAGS, **llamacpp.FLAGS}
    wrong = [f for f, opt in tables.items() if (opt.kind == "secret") != redact.is_secret_name(f)]
    assert wrong == []


@pytest.mark.parametrize("raw, kept, gone", [
    ("https://alice:zq-url-pass@hf.example.com/org/m", ["https://", "@hf.example.com/org/m"], ["alice", "zq-url-pass"]),
    ("postgres://:zq-pg@db:5432/x?sslmode=require", ["postgres://", "@db:5432/x?sslmode=require"], ["zq-pg"]),
    ("https://s.example.com/m.bin?sv=2024&sig=zq-sas-sig&se=2030", ["https://s.example.com/m.bin?sv=2024&sig="],
     ["zq-sas-sig"]),
    ("https://x/y?a=1&token=zq-query-token", ["a=1&token=<redacted:"], ["zq-query-token"]),
    ("https://x/y?X-Amz-Signature=zq-amz&X-Amz-Credential=zq-cred", ["X-Amz-Signature=<redacted:"], ["zq-amz", "zq-cred"]),
    ("https://hooks.slack.com/services/T0/B0/zqslackpath", ["https://hooks.slack.com/services/"], ["zqslackpath"]),
    ("Authorization: Bearer zq-header-bearer", ["Authorization: <redacted:"], ["zq-header-bearer"]),
    ('{"model": "m", "api_key": "zq-json-key"}', ['"model": "m"', '"api_key": "<redacted:'], ["zq-json-key"]),
])
def test_credentials_inside_values(raw, kept, gone):
    out = redact.value("SOME_URL", raw)
    assert all(k in out for k in kept), out
    assert not any(g in out for g in gone), out


@pytest.mark.parametrize("argv, secret", [
    (["vllm", "serve", "m", "--api-key", "-zqdash"], "-zqdash"),
    (["vllm", "serve", "m", "--api-key", "--hf-token", "zq-chained"], "zq-chained"),
    (["vllm", "serve", "m", "--api-key=zq-inline"], "zq-inline"),
    (["vllm", "serve", "https://u:zq-model-url@host/m"], "zq-model-url"),
    (["vllm", "serve", "m", "--x", "hf_zqShapeOnlyToken123"], "hf_zqShapeOnlyToken123"),
])
def test_argv_pairs_and_shapes(argv, secret):
    out = redact.argv(argv)
    assert secret not in " ".join(out) and len(out) == len(argv)


@pytest.mark.parametrize("script, secret", [
    ("exec vllm serve org/Model-Instruct --api-key zq-after-hyphenated", "zq-after-hyphenated"),
    ("vllm serve m --enforce-eager --api-key zq-after-switch --port 8000", "zq-after-switch"),
    ("export P=zq-exported; exec vllm serve m --api-key $P", "zq-exported"),
    ("P=zq-braced\nvllm serve m --api-key=\"${P}\" 2>&1", "zq-braced"),
    ("export Q=zq-chain; export HF_TOKEN=$Q; vllm serve m", "zq-chain"),
    ("bash -c 'vllm serve m --api-key zq-nested'", "zq-nested"),
    ("vllm serve m --api-key zq-semicolon;echo done", "zq-semicolon"),
    ("curl -H 'X-Api-Key: zq-curl-header' http://x", "zq-curl-header"),
])
def test_scripts(script, secret):
    out = redact.text(script)
    assert secret not in out, out
    assert redact.text(out) == out   # idempotent: a second pass (bundle, snapshot re-read) changes nothing


def test_script_variable_is_redacted_wherever_it_expands():
    r = effective_argv(["sh", "-c"], ["export P=zq-expands; echo $P > /tmp/p; exec vllm serve m --x $P --api-key $P"],
                       {}, "", "c")
    assert "zq-expands" not in " ".join(r.argv) + (r.note or "")
    assert r.argv[r.argv.index("--x") + 1] == r.argv[r.argv.index("--api-key") + 1] and redact.is_marker(r.argv[-1])


def test_marker_is_64_bits_and_keyed(monkeypatch):
    m = redact.marker("hunter2")
    assert redact.is_marker(m) and len(m) == len("<redacted:>") + 16 and redact.marker("hunter2") == m
    monkeypatch.setenv(redact.KEY_ENV, "shared-between-ci-and-laptop")
    assert redact.marker("hunter2") != m
    assert redact.marker("hunter2") == redact.marker("hunter2")


def _marker_in_process(config_home: str, extra: dict | None = None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != redact.KEY_ENV}
    env.update({"XDG_CONFIG_HOME": config_home, **(extra or {})})
    return subprocess.run([sys.executable, "-c", "from skewaudit import redact; print(redact.marker('hunter2'))"],
                          env=env, capture_output=True, text=True, timeout=60)


def test_key_file_is_created_once_private_and_shared_by_concurrent_runs(tmp_path):
    home = tmp_path / "cfg"
    procs = [subprocess.Popen([sys.executable, "-c", "from skewaudit import redact; print(redact.marker('hunter2'))"],
                              env={**{k: v for k, v in os.environ.items() if k != redact.KEY_ENV},
                                   "XDG_CONFIG_HOME": str(home)}, stdout=subprocess.PIPE, text=True)
             for _ in range(6)]
    outs = {p.communicate(timeout=60)[0].strip() for p in procs}
    assert len(outs) == 1
    first = outs.pop()
    assert redact.is_marker(first)
    key = home / "skewaudit" / "redaction.key"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert stat.S_IMODE((home / "skewaudit").stat().st_mode) == 0o700
    assert [p.name for p in (home / "skewaudit").iterdir()] == ["redaction.key"]   # no temp file left
    assert len(key.read_text().strip()) == 64
    # a later run reads the same key; another installation has another one
    again = _marker_in_process(str(home)).stdout.strip()
    other = _marker_in_process(str(tmp_path / "other")).stdout.strip()
    assert again == first and other != first


def test_no_key_can_be_kept_then_the_run_says_so_once(tmp_path):
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    p = _marker_in_process(str(blocker))
    assert p.returncode == 0 and redact.MARKER.fullmatch(p.stdout.strip())
    assert p.stderr.count("\n") == 1 and "cannot keep a redaction key" in p.stderr and redact.KEY_ENV in p.stderr


def test_env_key_wins_over_the_key_file(tmp_path):
    a = _marker_in_process(str(tmp_path / "a"), {redact.KEY_ENV: "k1"}).stdout
    b = _marker_in_process(str(tmp_path / "b"), {redact.KEY_ENV: "k1"}).stdout
    assert a == b and not (tmp_path / "a").exists()
