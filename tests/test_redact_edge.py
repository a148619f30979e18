"""Secret flags behind shell edge cases found by the fuzzer: an unclosed quote and an escaped space."""

from __future__ import annotations

from pathlib import Path

from clirun import skewaudit

MANIFEST = """apiVersion: apps/v1
kind: Deployment
metadata: {name: probe, namespace: ns}
spec:
  selector: {matchLabels: {app: probe}}
  template:
    metadata: {labels: {app: probe}}
    spec:
      containers:
        - name: a
          image: vllm/vllm-openai:v0.10.0
          command: ["sh", "-c", "vllm serve --model \\" --api-key QUOTELEAK1"]
        - name: b
          image: vllm/vllm-openai:v0.10.0
          command: ["sh", "-c", "vllm serve m\\\\ --api-key BACKSLASHLEAK2"]
"""


def test_a_secret_after_an_unclosed_quote_or_an_escaped_space_is_redacted(tmp_path: Path):
    p = tmp_path / "m.yaml"
    p.write_text(MANIFEST)
    for fmt in ("json", "yaml", "table"):
        r = skewaudit("collect", "--manifest", p, "--format", fmt)
        assert r.code == 0, r.err
        assert "QUOTELEAK1" not in r.out + r.err and "BACKSLASHLEAK2" not in r.out + r.err
        assert "<redacted:" in r.out
