"""The secret-leak matrix: one distinctive secret per shape a secret can take in a serving
object, and every output of every command, offline (``--manifest``), live (the loopback API
server) and local (``--pid`` on a fake ``/proc``). No cell may show a secret, nor a reversible
form of one (base64 in any alignment, hex, percent-encoding).

Each secret holds a token ``zqNNqx`` (``ZQNNQX`` where the shape needs upper case); the
"rotated" manifest used for the baseline diff writes ``zr``/``ZR`` instead, so the hints of a
secret that changed are checked against both values. The count of shapes x outputs is
printed (``pytest -s``) and asserted to stay at least what the issue measured (61 x 20).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import urllib.parse
from pathlib import Path

import pytest
import yaml

from clirun import main_inprocess

NS = "ml"
PEM = "-----BEGIN PRIVATE KEY-----\nMIIE{m}AAAA\n-----END PRIVATE KEY-----"

# (shape id, where, payload). where: env (NAME, VALUE), arg (argv list), script (sh -c text),
# annotation/label (KEY, VALUE), cmenv (ConfigMap key via envFrom), isvc (storageUri/args/env).
SHAPES: list[tuple[str, str, object]] = [
    # env values, by name
    ("env HF_TOKEN", "env", ("HF_TOKEN", "hf_{m}abcdefghij")),
    ("env HFTOKEN run-together", "env", ("HFTOKEN", "{m}plainvalue")),
    ("env DB_PASS", "env", ("DB_PASS", "{m}pass")),
    ("env *_PASSWD", "env", ("LDAP_PASSWD", "{m}passwd")),
    ("env *_PWD", "env", ("MYSQL_PWD", "{m}pwd")),
    ("env KEY + digit", "env", ("API_KEY2", "{m}key2")),
    ("env *AUTHORIZATION*", "env", ("UPSTREAM_AUTHORIZATION", "{m}authz")),
    ("env *_DSN", "env", ("SENTRY_DSN", "{m}dsn")),
    ("env *_WEBHOOK*", "env", ("ALERT_WEBHOOK_URL", "{m}hook")),
    ("env *_CREDENTIALS*", "env", ("GCP_CREDENTIALS_JSON", "{m}creds")),
    ("env *_PRIVATE*", "env", ("SSH_PRIVATE_KEY", "{m}private")),
    ("env camelCase apiKey", "env", ("openaiApiKey", "{m}camel")),
    ("env OPENAI_API_KEY", "env", ("OPENAI_API_KEY", "{m}openai")),
    ("env AWS secret key", "env", ("AWS_SECRET_ACCESS_KEY", "{m}awssecret")),
    ("env conn string", "env", ("AZURE_STORAGE_CONN_STR", "AccountKey={m}conn")),
    # env values, by shape (plain names)
    ("env URL userinfo", "env", ("DATABASE_URL", "postgres://admin:{m}pg@db.internal:5432/app")),
    ("env URL ?token=", "env", ("MODEL_URL", "https://models.internal/m.bin?rev=1&token={m}qtok")),
    ("env URL sig=", "env", ("BLOB_URL", "https://acct.blob.core.windows.net/c/m.bin?sv=2024&sig={m}sig&se=2030")),
    ("env URL X-Amz-Signature", "env", ("PRESIGNED", "https://b.s3.amazonaws.com/m?X-Amz-Signature={m}amz")),
    ("env hf_ shape", "env", ("SOME_SETTING", "hf_{m}shapeonly12")),
    ("env sk- shape", "env", ("LLM_FALLBACK", "sk-{m}abcdefghijklmnop")),
    ("env Bearer value", "env", ("UPSTREAM_HEADER", "Bearer {m}bearer")),
    ("env JSON api_key", "env", ("EXTRA_CONFIG", '{{"endpoint": "x", "api_key": "{m}json"}}')),
    ("env GitHub PAT", "env", ("GIT_REMOTE_CRED", "ghp_{m}abcdefghijklmnopqrstu")),
    ("env AWS access key id", "env", ("AWS_ID_PLAIN", "AKIA{M}ABCDEFGHIJ")),
    ("env JWT", "env", ("SA_BLOB", "eyJ{m}abcdefghij.eyJzdWIiOiJ4In0.sig{m}")),
    ("env Slack webhook URL", "env", ("NOTIFY_URL", "https://hooks.slack.com/services/T000/B000/{m}slack")),
    ("env GitLab token", "env", ("CI_THING", "glpat-{m}abcdefghijklmn")),
    ("env Google API key", "env", ("MAPS", "AIza{m}" + "a" * 29)),
    ("env Slack bot token", "env", ("BOT", "xoxb-{m}-abcdefghij")),
    ("env PEM private key", "env", ("TLS_BUNDLE", PEM)),
    ("env Basic auth", "env", ("PROXY_HDR", "Basic {m}basic==")),
    ("env expanded into --api-key $(VAR)", "env+arg", ("PLAIN_VAR", "{m}k8sref")),
    ("env read by sh -c --api-key $VAR", "env+script", ("SCRIPT_VAR", "{m}shref")),
    ("ConfigMap envFrom HF_TOKEN", "cmenv", ("HF_TOKEN", "{m}cmtoken")),
    # argv
    ("arg --api-key VALUE", "arg", ["--api-key", "{m}argsep"]),
    ("arg --api-key=VALUE", "arg", ["--api-key={m}arginline"]),
    ("arg --hf-token VALUE", "arg", ["--hf-token", "{m}hftok"]),
    ("arg --api-key -VALUE", "arg", ["--api-key", "-{m}dash"]),
    ("arg model id URL with creds", "model", "https://user:{m}modelurl@hf.internal/org/Model"),
    ("arg unknown flag URL ?token=", "arg", ["--download-dir", "https://x.internal/d?token={m}dl"]),
    ("arg unknown secret flag", "arg", ["--my-secret", "{m}mysecret"]),
    ("arg --password", "arg", ["--password", "{m}password"]),
    ("arg positional sk- shape", "arg", ["sk-{m}positional12345"]),
    ("arg --api-key --hf-token chained", "arg", ["--api-key", "--hf-token", "{m}chained"]),
    ("arg header with space", "arg", ["--header", "X-Api-Key: {m}hdr"]),
    ("arg JSON token", "arg", ["--hf-overrides", '{{"hf_token": "{m}overrides"}}']),
    # sh -c scripts
    ("sh -c after hyphenated model", "script", "exec vllm serve org/Model-Instruct --api-key {m}hyph"),
    ("sh -c after a switch", "script", "vllm serve m --enforce-eager --api-key {m}switch --port 8000"),
    ("sh -c export then $P", "script", "export P={m}export; exec vllm serve m --api-key $P"),
    ("sh -c ${P} in quotes", "script", 'P={m}braced\nexec vllm serve m --api-key="${{P}}" 2>&1'),
    ("sh -c NAME=value prefix", "script", "HF_TOKEN={m}prefix exec vllm serve m"),
    ("sh -c curl Authorization", "script", "curl -sH 'Authorization: Bearer {m}curl' http://x/ready; exec vllm serve m"),
    ("sh -c model URL creds", "script", "exec vllm serve https://u:{m}shurl@hf.internal/org/M"),
    ("sh -c nested bash -c", "script", "exec bash -c 'vllm serve m --api-key {m}nested'"),
    ("sh -c pipe after value", "script", "vllm serve m --api-key {m}pipe 2>&1 | tee /tmp/log"),
    ("sh -c variable chain", "script", "export Q={m}chain; export HF_TOKEN=$Q; exec vllm serve m"),
    ("sh -c --api-key -VALUE", "script", "exec vllm serve m --api-key -{m}shdash"),
    ("sh -c value then ;", "script", "vllm serve m --api-key {m}semi;sleep 1"),
    # annotations and labels
    ("annotation secret key", "annotation", ("example.com/api-token", "{m}annot")),
    ("annotation password key", "annotation", ("vault.example.com/db-password", "{m}annpw")),
    ("annotation URL creds", "annotation", ("example.com/model-source", "https://u:{m}annurl@h.internal/m")),
    ("label api-key", "label", ("api-key", "{m}label")),
    ("label token", "label", ("token", "{m}labeltok")),
    # KServe InferenceService
    ("isvc storageUri creds", "isvc-uri", "https://user:{m}isvcuri@models.internal/llama"),
    ("isvc args --api-key", "isvc-arg", ["--api-key", "{m}isvcarg"]),
    ("isvc env HF_TOKEN", "isvc-env", ("HF_TOKEN", "{m}isvcenv")),
]


def token(i: int, rotated: bool = False) -> str:
    return f"{'zr' if rotated else 'zq'}{i:02d}qx"


def fill(obj, i: int, rotated: bool):
    m = token(i, rotated)
    if isinstance(obj, str):
        return obj.replace("{M}", m.upper()).replace("{m}", m).replace("{{", "{").replace("}}", "}")
    if isinstance(obj, (list, tuple)):
        return type(obj)(fill(x, i, rotated) for x in obj)
    return obj


def secrets_of(rotated_too: bool = True) -> dict[str, list[str]]:
    """Shape id -> the strings that must never appear (the token, its reversible forms)."""
    out: dict[str, list[str]] = {}
    for i, (sid, _, _) in enumerate(SHAPES):
        forms: list[str] = []
        for rot in (False, True) if rotated_too else (False,):
            for t in (token(i, rot), token(i, rot).upper()):
                raw = t.encode()
                forms += [t, binascii.hexlify(raw).decode(), urllib.parse.quote(t)]
                for pad in (b"", b"a", b"ab"):   # base64 in every alignment: the stable middle part
                    enc = base64.b64encode(pad + raw + b"   ").decode()
                    start = {0: 0, 1: 4, 2: 4}[len(pad)]
                    forms.append(enc[start:start + 4 * ((len(raw) - (3 - len(pad)) % 3) // 3)])
        out[sid] = [f for f in dict.fromkeys(forms) if len(f) >= 6]
    return out


# --- objects ------------------------------------------------------------------------------


def _container(name: str, command: list[str], env: list[dict] | None = None, env_from: list | None = None) -> dict:
    c = {"name": name, "image": "vllm/vllm-openai:v0.10.0", "command": command,
         "resources": {"limits": {"nvidia.com/gpu": "1"}}}
    if env:
        c["env"] = env
    if env_from:
        c["envFrom"] = env_from
    return c


def _deployment(name: str, container: dict, annotations=None, labels=None) -> dict:
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": name, "namespace": NS, "annotations": annotations or {},
                         "labels": {"app": name, **(labels or {})}},
            "spec": {"replicas": 1, "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}, "annotations": annotations or {}},
                                  "spec": {"containers": [container]}}}}


def objects(rotated: bool = False) -> tuple[list[dict], list[str]]:
    """The serving objects holding every shape, and the names of the workloads specs target."""
    env, ann, lab, objs, names = [], {}, {}, [], []
    serve = ["vllm", "serve", "org/Model", "--dtype", "half"]
    for i, (sid, where, payload) in enumerate(SHAPES):
        p = fill(payload, i, rotated)
        name = f"w{i:02d}"
        if where == "env":
            env.append({"name": p[0], "value": p[1]})
        elif where == "annotation":
            ann[p[0]] = p[1]
        elif where == "label":
            lab[p[0]] = p[1]
        elif where == "env+arg":
            objs.append(_deployment(name, _container("vllm", [*serve, "--api-key", f"$({p[0]})"],
                                                     [{"name": p[0], "value": p[1]}])))
        elif where == "env+script":
            objs.append(_deployment(name, _container("vllm", ["sh", "-c", f"exec vllm serve m --api-key ${p[0]}"],
                                                     [{"name": p[0], "value": p[1]}])))
        elif where == "cmenv":
            objs.append({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cm-" + name, "namespace": NS},
                         "data": {p[0]: p[1]}})
            objs.append(_deployment(name, _container("vllm", serve, env_from=[{"configMapRef": {"name": "cm-" + name}}])))
        elif where == "arg":
            objs.append(_deployment(name, _container("vllm", [*serve, *p])))
        elif where == "model":
            objs.append(_deployment(name, _container("vllm", ["vllm", "serve", p, "--dtype", "half"])))
        elif where == "script":
            objs.append(_deployment(name, _container("vllm", ["sh", "-c", p])))
        elif where.startswith("isvc"):
            model = {"modelFormat": {"name": "huggingface"}, "storageUri": "hf://org/Model",
                     "args": ["--model_name=llama"], "resources": {"limits": {"nvidia.com/gpu": "1"}}}
            if where == "isvc-uri":
                model["storageUri"] = p
            elif where == "isvc-arg":
                model["args"] += list(p)
            else:
                model["env"] = [{"name": p[0], "value": p[1]}]
            objs.append({"apiVersion": "serving.kserve.io/v1beta1", "kind": "InferenceService",
                         "metadata": {"name": name, "namespace": NS}, "spec": {"predictor": {"model": model}}})
            continue
        else:
            raise AssertionError(where)
        if where not in ("env", "annotation", "label"):
            names.append(name)
    objs.append(_deployment("wenv", _container("vllm", serve, env), annotations=ann, labels=lab))
    names.append("wenv")
    return objs, names


def spec_docs(names: list[str], env_names: list[str]) -> str:
    """One spec per Deployment, each with deliberate drift (dtype, an extra flag, every env var)
    so the findings quote what runs."""
    docs = []
    for n in names:
        docs.append({"apiVersion": "skewaudit.io/v1alpha1", "kind": "ModelSpec", "metadata": {"name": f"s-{n}"},
                     "spec": {"identity": {"model": {"id": "org/Model", "family": "llama", "task": "text-generation",
                                                     "framework": "pytorch"}},
                              "runtime": {"engine": {"name": "vllm", "dtype": "bfloat16", "args": ["--enforce-eager"]},
                                          "accelerator": {"vendor": "nvidia", "type": "a100", "count": 1},
                                          "environment": {"variables": {e: "intended" for e in env_names}}},
                              "target": {"kind": "Deployment", "name": n, "namespace": NS}}})
    return yaml.safe_dump_all(docs, sort_keys=False)


# --- running every command ----------------------------------------------------------------


class Outputs(dict):
    """Output name -> text (stdout + stderr, or a written file)."""

    def run(self, monkeypatch, capsys, label: str, *args, files: tuple[Path, ...] = (), ok=(0, 1)) -> None:
        code, out, err = main_inprocess(monkeypatch, capsys, *args)
        assert code in ok, f"{label}: exit {code}: {err[-500:]}"
        self[label] = out + err
        for f in files:
            self[f"{label} {f.name}"] = f.read_text()


def check(outputs: Outputs, mode: str) -> int:
    forbidden = secrets_of()
    leaks = [(sid, name) for name, text in outputs.items() for sid, forms in forbidden.items()
             if any(f in text for f in forms)]
    cells = len(SHAPES) * len(outputs)
    print(f"\nleak matrix ({mode}): {len(SHAPES)} shapes x {len(outputs)} outputs = {cells} cells, "
          f"{len(leaks)} leaking")
    assert leaks == [], "\n".join(f"{sid}  in  {name}" for sid, name in leaks[:40])
    return cells


def _write(tmp_path: Path, rotated: bool = False) -> tuple[Path, Path]:
    objs, names = objects(rotated)
    manifest = tmp_path / ("rotated.yaml" if rotated else "serving.yaml")
    manifest.write_text(yaml.safe_dump_all(objs, sort_keys=False))
    env_names = [fill(p, i, False)[0] for i, (_, w, p) in enumerate(SHAPES) if w == "env"]
    specs = tmp_path / "specs.yaml"
    specs.write_text(spec_docs([n for n in names if not n.startswith("w") or n == "wenv" or
                                any(o["kind"] == "Deployment" and o["metadata"]["name"] == n for o in objs)], env_names))
    return manifest, specs


def test_no_secret_in_any_offline_output(monkeypatch, capsys, tmp_path):
    monkeypatch.delenv("SKEWAUDIT_DEBUG", raising=False)
    manifest, specs = _write(tmp_path)
    rotated, _ = _write(tmp_path, rotated=True)
    o = Outputs()
    for fmt in ("table", "json", "yaml"):
        o.run(monkeypatch, capsys, f"collect {fmt}", "collect", "-f", manifest, "--format", fmt, "-A")
    for fmt in ("table", "json", "sarif", "junit", "markdown"):
        o.run(monkeypatch, capsys, f"diff {fmt}", "diff", specs, "-f", manifest, "-F", fmt)
    o.run(monkeypatch, capsys, "diff --show-matches", "diff", specs, "-f", manifest, "--show-matches")
    files = tuple(tmp_path / f"report.{s}" for s in ("txt", "json", "sarif", "xml", "md"))
    args = [a for fmt, f in zip(("table", "json", "sarif", "junit", "markdown"), files) for a in ("-F", fmt, "-o", f)]
    o.run(monkeypatch, capsys, "diff -o", "diff", specs, "-f", manifest, *args, files=files)
    snap = tmp_path / "snap.json"
    o.run(monkeypatch, capsys, "snapshot", "snapshot", "-f", manifest, "-A", "-o", snap, files=(snap,))
    o.run(monkeypatch, capsys, "diff --snapshot", "diff", specs, "--snapshot", snap)
    o.run(monkeypatch, capsys, "diff --baseline table", "diff", specs, "-f", rotated, "--baseline", snap)
    o.run(monkeypatch, capsys, "diff --baseline json", "diff", specs, "-f", rotated, "--baseline", snap, "-F", "json")
    prefix = tmp_path / "bundle"
    o.run(monkeypatch, capsys, "bundle", "bundle", specs, "-f", manifest, "--baseline", snap, "-o", prefix,
          files=(Path(f"{prefix}.md"), Path(f"{prefix}.json")))
    for i, (sid, where, _) in enumerate(SHAPES):
        if where in ("arg", "script", "model", "env+arg", "env+script"):
            o.run(monkeypatch, capsys, f"init w{i:02d}", "init", "-f", manifest, "--from", f"deployment/w{i:02d}",
                  "-n", NS, "-o", "-")
    o.run(monkeypatch, capsys, "init wenv", "init", "-f", manifest, "--from", "deployment/wenv", "-n", NS, "-o", "-")
    spec_out = tmp_path / "init.yaml"
    o.run(monkeypatch, capsys, "init -o", "init", "-f", manifest, "--from", "deployment/wenv", "-n", NS,
          "-o", spec_out, files=(spec_out,))
    o.run(monkeypatch, capsys, "explain", "explain", "runtime.env")
    # error paths (SKEWAUDIT_DEBUG unset): a broken manifest around a secret, a spec holding one
    broken = tmp_path / "broken.yaml"
    broken.write_text(manifest.read_text().replace("HF_TOKEN\n", "HF_TOKEN: [\n", 1) + "\n: :\n")
    o.run(monkeypatch, capsys, "error: broken manifest", "diff", specs, "-f", broken, ok=(2,))
    bad_spec = tmp_path / "bad-spec.yaml"
    bad_spec.write_text(specs.read_text().replace("dtype: bfloat16", f"dtype: {{HF_TOKEN: hf_{token(0)}abcdefghij}}", 1))
    o.run(monkeypatch, capsys, "error: bad spec", "diff", bad_spec, "-f", manifest, ok=(2,))
    snap_text = snap.read_text()
    assert "<redacted:" in snap_text   # the matrix is not vacuous: secrets were there to redact
    cells = check(o, "offline")
    assert cells >= 61 * 20


def test_no_secret_in_any_live_output(monkeypatch, capsys, tmp_path, kube, kubeconfig):
    monkeypatch.delenv("SKEWAUDIT_DEBUG", raising=False)
    manifest, specs = _write(tmp_path)
    kube.install_crd("serving.kserve.io/v1beta1", "InferenceService")
    kube.add(*objects()[0])
    o = Outputs()
    live = ("--kubeconfig", str(kubeconfig))
    for fmt in ("table", "json", "yaml"):
        o.run(monkeypatch, capsys, f"collect {fmt}", "collect", "-n", NS, "--format", fmt, *live)
    for fmt in ("table", "json", "sarif", "junit", "markdown"):
        o.run(monkeypatch, capsys, f"diff {fmt}", "diff", specs, "-F", fmt, *live)
    snap = tmp_path / "live.json"
    o.run(monkeypatch, capsys, "snapshot", "snapshot", "-n", NS, "-o", snap, *live, files=(snap,))
    prefix = tmp_path / "bundle"
    o.run(monkeypatch, capsys, "bundle", "bundle", specs, "-o", prefix, *live,
          files=(Path(f"{prefix}.md"), Path(f"{prefix}.json")))
    o.run(monkeypatch, capsys, "init", "init", "--from", "deployment/wenv", "-n", NS, "-o", "-", *live)
    # error path: a kubeconfig whose server URL carries credentials, unreachable
    cfg = yaml.safe_load(Path(kubeconfig).read_text())
    cfg["clusters"][0]["cluster"]["server"] = f"https://admin:{token(0)}x@127.0.0.1:9"
    bad = tmp_path / "creds-kubeconfig"
    bad.write_text(yaml.safe_dump(cfg))
    o.run(monkeypatch, capsys, "error: unreachable server with userinfo", "collect", "-n", NS, "--kubeconfig", bad,
          "--timeout", "2", ok=(2, 3))
    assert "<redacted:" in snap.read_text()
    check(o, "live")


def test_no_secret_in_any_local_output(monkeypatch, capsys, tmp_path):
    monkeypatch.delenv("SKEWAUDIT_DEBUG", raising=False)
    root = tmp_path / "proc"
    o = Outputs()
    for pid, argv in ((100, ["vllm", "serve", "org/Model", "--api-key", "-" + token(38), "--dtype", "half"]),
                      (101, ["sh", "-c", fill(SHAPES[49][2], 49, False)])):
        d = root / str(pid)
        d.mkdir(parents=True)
        d.joinpath("cmdline").write_bytes(b"".join(a.encode() + b"\0" for a in argv))
        env = {fill(p, i, False)[0]: fill(p, i, False)[1] for i, (_, w, p) in enumerate(SHAPES) if w == "env"}
        env["HF_TOKEN"] = fill(SHAPES[0][2], 0, False)[1]
        d.joinpath("environ").write_bytes(b"".join(f"{k}={v}".encode() + b"\0" for k, v in env.items()))
    monkeypatch.setenv("SKEWAUDIT_PROC_ROOT", str(root))
    for pid in (100, 101):
        for fmt in ("table", "json"):
            o.run(monkeypatch, capsys, f"collect --pid {pid} {fmt}", "collect", "--pid", str(pid), "--format", fmt)
        prefix = tmp_path / f"b{pid}"
        o.run(monkeypatch, capsys, f"bundle --pid {pid}", "bundle", "--pid", str(pid), "-o", prefix,
              files=(Path(f"{prefix}.md"), Path(f"{prefix}.json")))
    assert "<redacted:" in o["collect --pid 100 json"]
    check(o, "local")
