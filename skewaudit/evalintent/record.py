"""What a validation run evaluated, read from its own records, each value with where it was read.

Sources (local files only; nothing is downloaded):
- lm-evaluation-harness results JSON (0.4.x): ``config.model`` (backend) and
  ``config.model_args`` (``pretrained=…,revision=…,dtype=…,max_length=…,
  tensor_parallel_size=…,gpu_memory_utilization=…,quantization=…``, as a string
  or a mapping), top-level ``model_name``, ``max_length``, ``chat_template_sha``,
  ``transformers_version``, ``pretty_env_info`` (torch's environment report: the
  PyTorch version and ``[pip3] name==version`` lines), ``git_hash``, ``date``, and
  the task configs' ``generation_kwargs``;
- a Hugging Face model snapshot directory (``config.json``,
  ``generation_config.json``, ``tokenizer_config.json`` or ``chat_template.jinja``;
  in the cache layout ``models--org--name/snapshots/<sha>/`` the sha is the revision);
- an MLflow model directory (``MLmodel``: flavor, ``source_model_name``,
  ``source_model_revision``, ``torch_dtype``, ``transformers_version``, task, run id;
  ``requirements.txt`` ``==`` pins of the libraries that shape numerics).
Each value keeps where it was read (``Where``: the file, the key path inside it, or
its line), so findings against the record point into the record itself.
A file that is not what it claims, or a field of the wrong type, is an
``InputError`` naming the file and field.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from skewaudit.errors import InputError

MAX_RECORD_BYTES = 64 << 20
SAMPLING_KEYS = ("temperature", "top_p", "top_k", "repetition_penalty", "max_new_tokens", "do_sample")
# Libraries whose version shapes numerics (kernels, tokenization, default dtypes), as pip names them.
LIBRARIES = ("transformers", "torch", "tokenizers", "vllm", "sglang")
_PIN = re.compile(r"\s*(" + "|".join(LIBRARIES) + r")\s*==\s*([0-9][\w.+-]*)\s*(?:[;#].*)?$", re.I)


@dataclass(frozen=True)
class Where:
    """Where in a record file a value was read: a key path (JSON or YAML), the ``k=v`` item inside a
    ``model_args`` string, or a line (requirements.txt). Empty key: the file (or directory) itself."""

    file: str
    key: tuple[str | int, ...] = ()
    arg: str = ""                    # the item of a "k=v,k=v" string at ``key``
    line: int = 0                    # known directly (a requirements.txt line)

    def label(self) -> str:
        return ".".join(map(str, self.key)) + (f".{self.arg}" if self.arg else "")


@dataclass(frozen=True)
class Value:
    value: Any
    source: str                      # "results.json config.model_args.dtype"
    at: Where | None = None


@dataclass
class EvalRecord:
    """The evaluated configuration. Every field is optional: records carry what they carry."""

    values: dict[str, Value] = field(default_factory=dict)
    sampling: dict[str, Value] = field(default_factory=dict)       # evaluated generation settings
    model_defaults: dict[str, Value] = field(default_factory=dict)  # generation_config.json of the model
    libraries: dict[str, Value] = field(default_factory=dict)      # pip name -> version at evaluation
    sources: list[str] = field(default_factory=list)

    def get(self, key: str) -> Any:
        v = self.values.get(key)
        return v.value if v else None

    def put(self, key: str, value: Any, source: str, at: Where | None = None) -> None:
        if value is not None and value != "" and key not in self.values:
            self.values[key] = Value(value, source, at)

    def library(self, name: str, version: Any, source: str, at: Where | None = None) -> None:
        """The first source of a library's version wins (the results file before the model directories)."""
        if isinstance(version, str) and version.strip() and name not in self.libraries:
            self.libraries[name] = Value(version.strip(), source, at)


def _read_json(path: Path, what: str) -> Any:
    try:
        size = path.stat().st_size
        if size > MAX_RECORD_BYTES:
            raise InputError(f"{path}: {what} is larger than {MAX_RECORD_BYTES >> 20} MiB; refusing to read it")
        text = path.read_bytes().decode("utf-8-sig")
        return json.loads(text)
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except (UnicodeDecodeError, OSError) as e:
        raise InputError(f"{path}: cannot read {what}: {e}") from None
    except json.JSONDecodeError as e:
        raise InputError(f"{path}:{e.lineno}:{e.colno}: not valid JSON ({e.msg})") from None
    except RecursionError:
        raise InputError(f"{path}: {what} nests too deeply to read") from None


def parse_model_args(text: Any, where: str) -> dict[str, Any]:
    """lm-eval's ``model_args``: ``"k=v,k=v"`` (values may not contain commas) or a mapping."""
    if isinstance(text, dict):
        return dict(text)
    if text is None or text == "":
        return {}
    if not isinstance(text, str):
        raise InputError(f"{where}: config.model_args must be a string 'k=v,…' or a mapping, not {type(text).__name__}")
    out: dict[str, Any] = {}
    for part in text.split(","):
        if not part.strip():
            continue
        k, sep, v = part.partition("=")
        if not sep:
            raise InputError(f"{where}: config.model_args: {part!r} is not key=value")
        out[k.strip()] = _scalar(v.strip())
    return out


def _scalar(v: str) -> Any:
    if re.fullmatch(r"-?\d+", v):
        return int(v)
    if re.fullmatch(r"-?\d+\.\d*(e-?\d+)?", v, re.I):
        return float(v)
    return {"true": True, "false": False, "none": None}.get(v.lower(), v)


def read_lm_eval(path: Path, rec: EvalRecord) -> None:
    data = _read_json(path, "an lm-evaluation-harness results file")
    if not isinstance(data, dict) or not isinstance(data.get("config"), dict) or "results" not in data:
        raise InputError(f"{path}: not an lm-evaluation-harness results file (no 'config' and 'results')")
    name, file = path.name, str(path)
    cfg = data["config"]
    backend = cfg.get("model")
    raw_args = cfg.get("model_args")
    args = parse_model_args(raw_args, file)
    rec.sources.append(file)
    src = f"{name} config.model_args"

    def top(key: str) -> Where:
        return Where(file, (key,))

    def arg(key: str) -> Where:
        # a "k=v,…" string: the item inside it; a mapping: its own key
        return Where(file, ("config", "model_args"), arg=key) if isinstance(raw_args, str) else \
            Where(file, ("config", "model_args", key))

    rec.put("backend", backend, f"{name} config.model", Where(file, ("config", "model")))
    pretrained = "pretrained" if args.get("pretrained") else "model"
    rec.put("model_id", args.get(pretrained), f"{src}.{pretrained}", arg(pretrained))
    rec.put("model_id", data.get("model_name"), f"{name} model_name", top("model_name"))
    rec.put("revision", args.get("revision"), f"{src}.revision", arg("revision"))
    rec.put("dtype", _dtype(args.get("dtype")), f"{src}.dtype", arg("dtype"))
    rec.put("dtype", _dtype(cfg.get("model_dtype")), f"{name} config.model_dtype",
            Where(file, ("config", "model_dtype")))
    for key in ("max_length", "max_model_len"):
        if isinstance(args.get(key), int):
            rec.put("max_length", args[key], f"{src}.{key}", arg(key))
    if isinstance(data.get("max_length"), int):
        rec.put("max_length", data["max_length"], f"{name} max_length", top("max_length"))
    rec.put("tensor_parallel_size", _int(args.get("tensor_parallel_size"), f"{src}.tensor_parallel_size", path),
            f"{src}.tensor_parallel_size", arg("tensor_parallel_size"))
    for key in ("gpu_memory_utilization", "quantization", "tokenizer", "tokenizer_revision"):
        rec.put(key, args.get(key), f"{src}.{key}", arg(key))
    rec.put("chat_template_sha", data.get("chat_template_sha"), f"{name} chat_template_sha", top("chat_template_sha"))
    if isinstance(data.get("chat_template"), str) and data["chat_template"]:
        rec.put("chat_template_sha", template_sha(data["chat_template"]), f"{name} chat_template (hashed)",
                top("chat_template"))
    rec.library("transformers", _version(data, "transformers_version", path), f"{name} transformers_version",
                top("transformers_version"))
    env = data.get("pretty_env_info")
    if isinstance(env, str):
        for lib, version, how in _env_versions(env):
            rec.library(lib, version, f"{name} pretty_env_info ({how})", top("pretty_env_info"))
    if backend == "vllm":
        rec.put("engine", "vllm", f"{name} config.model", Where(file, ("config", "model")))
    rec.put("git_hash", data.get("git_hash"), f"{name} git_hash", top("git_hash"))
    rec.put("date", data.get("date"), f"{name} date", top("date"))
    configs = data.get("configs") or {}
    if not isinstance(configs, dict):
        raise InputError(f"{path}: configs must be a mapping of task name to task config")
    for task, tc in sorted(configs.items()):
        gen = (tc or {}).get("generation_kwargs") if isinstance(tc, dict) else None
        if isinstance(gen, dict):
            for k in SAMPLING_KEYS:
                if k in gen and k not in rec.sampling:
                    rec.sampling[k] = Value(gen[k], f"{name} configs.{task}.generation_kwargs.{k}",
                                            Where(file, ("configs", task, "generation_kwargs", k)))


def _env_versions(text: str) -> list[tuple[str, str, str]]:
    """(library, version, the line's wording) from torch's collect_env report, which lm-eval stores."""
    out = []
    m = re.search(r"^PyTorch version:\s*([0-9][\w.+-]*)", text, re.M)
    if m:
        out.append(("torch", m.group(1), "PyTorch version"))
    for m in re.finditer(r"^\[(?:pip3?|conda)\]\s+([A-Za-z0-9_.-]+)==([0-9][\w.+-]*)", text, re.M):
        if m.group(1).lower() in LIBRARIES:
            out.append((m.group(1).lower(), m.group(2), f"{m.group(1)}=={m.group(2)}"))
    return out


def read_model_dir(path: Path, rec: EvalRecord) -> None:
    if not path.is_dir():
        raise InputError(f"{path}: not a directory (--model-dir takes a model snapshot directory)")
    rec.sources.append(str(path))
    m = re.search(r"models--([^/]+)--([^/]+)/snapshots/([0-9a-f]{40})", str(path.resolve()))
    if m:
        rec.put("model_id", f"{m.group(1)}/{m.group(2)}", f"{path} (HF cache path)", Where(str(path)))
        rec.put("revision", m.group(3), f"{path} (HF cache snapshot sha)", Where(str(path)))
    cfg_path = path / "config.json"
    if cfg_path.exists():
        cfg = _read_json(cfg_path, "a model config")
        if not isinstance(cfg, dict):
            raise InputError(f"{cfg_path}: a model config must be a JSON object")
        c, cn = str(cfg_path), cfg_path.name
        dkey = "torch_dtype" if cfg.get("torch_dtype") else "dtype"
        rec.put("model_dtype", _dtype(cfg.get(dkey)), f"{cn} {dkey}", Where(c, (dkey,)))
        mpe = cfg.get("max_position_embeddings")
        if mpe is not None and (isinstance(mpe, bool) or not isinstance(mpe, int)):
            raise InputError(f"{cfg_path}: max_position_embeddings must be an integer")
        rec.put("max_position_embeddings", mpe, f"{cn} max_position_embeddings", Where(c, ("max_position_embeddings",)))
        rec.put("rope_scaling", cfg.get("rope_scaling"), f"{cn} rope_scaling", Where(c, ("rope_scaling",)))
        q = cfg.get("quantization_config")
        if isinstance(q, dict):
            rec.put("model_quantization", q.get("quant_method"), f"{cn} quantization_config.quant_method",
                    Where(c, ("quantization_config", "quant_method")))
        else:
            # read, and no quantization_config: the checkpoint evaluated was unquantized
            rec.put("model_unquantized", True, f"{cn} (no quantization_config)", Where(c))
        arch = cfg.get("architectures")
        rec.put("architecture", arch[0] if isinstance(arch, list) and arch else None, f"{cn} architectures",
                Where(c, ("architectures", 0)))
    gen_path = path / "generation_config.json"
    if gen_path.exists():
        gen = _read_json(gen_path, "a generation config")
        if not isinstance(gen, dict):
            raise InputError(f"{gen_path}: a generation config must be a JSON object")
        for k in SAMPLING_KEYS:
            if k in gen:
                rec.model_defaults[k] = Value(gen[k], f"{gen_path.name} {k}", Where(str(gen_path), (k,)))
    template = None
    jinja = path / "chat_template.jinja"
    if jinja.exists():
        template = _read_text(jinja, "a chat template"), "chat_template.jinja", Where(str(jinja))
    tok_path = path / "tokenizer_config.json"
    if tok_path.exists():
        tok = _read_json(tok_path, "a tokenizer config")
        if not isinstance(tok, dict):
            raise InputError(f"{tok_path}: a tokenizer config must be a JSON object")
        if template is None and isinstance(tok.get("chat_template"), str):
            template = tok["chat_template"], f"{tok_path.name} chat_template", Where(str(tok_path), ("chat_template",))
        mml = tok.get("model_max_length")
        if isinstance(mml, int) and mml < 10**9:
            rec.put("tokenizer_max_length", mml, f"{tok_path.name} model_max_length",
                    Where(str(tok_path), ("model_max_length",)))
    if template is not None:
        rec.put("model_chat_template_sha", template_sha(template[0]), f"{template[1]} (hashed)", template[2])


def _read_text(path: Path, what: str) -> str:
    try:
        if path.stat().st_size > MAX_RECORD_BYTES:
            raise InputError(f"{path}: {what} is larger than {MAX_RECORD_BYTES >> 20} MiB; refusing to read it")
        return path.read_bytes().decode("utf-8-sig", errors="replace")
    except OSError as e:
        raise InputError(f"{path}: cannot read {what}: {e.strerror or e}") from None


def read_mlflow(path: Path, rec: EvalRecord) -> None:
    import yaml

    mlmodel = path / "MLmodel"
    if not mlmodel.exists():
        raise InputError(f"{path}: no MLmodel file (--mlflow-model takes an MLflow model directory)")
    try:
        doc = yaml.safe_load(_read_text(mlmodel, "an MLmodel file"))
    except yaml.YAMLError as e:
        raise InputError(f"{mlmodel}: not valid YAML ({str(e).splitlines()[0]})") from None
    except RecursionError:
        raise InputError(f"{mlmodel}: the MLmodel file nests too deeply to read") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("flavors"), dict):
        raise InputError(f"{mlmodel}: not an MLmodel file (no 'flavors' mapping)")
    rec.sources.append(str(mlmodel))
    tf = doc["flavors"].get("transformers") or {}
    if not isinstance(tf, dict):
        raise InputError(f"{mlmodel}: flavors.transformers must be a mapping")
    m = str(mlmodel)

    def flavor(key: str) -> tuple[str, Where]:
        return f"MLmodel flavors.transformers.{key}", Where(m, ("flavors", "transformers", key))

    rec.put("model_id", tf.get("source_model_name"), *flavor("source_model_name"))
    rec.put("revision", tf.get("source_model_revision"), *flavor("source_model_revision"))
    rec.put("dtype", _dtype(tf.get("torch_dtype")), *flavor("torch_dtype"))
    rec.put("task", tf.get("task"), *flavor("task"))
    rec.put("run_id", doc.get("run_id"), "MLmodel run_id", Where(m, ("run_id",)))
    version = tf.get("transformers_version")
    if isinstance(version, (int, float)) and not isinstance(version, bool):
        version = str(version)    # an unquoted 4.46 in YAML is a float
    key = "flavors.transformers.transformers_version"
    rec.library("transformers", _version({key: version}, key, mlmodel), *flavor("transformers_version"))
    req = path / "requirements.txt"
    if req.exists():
        for n, line in enumerate(_read_text(req, "a requirements file").splitlines(), 1):
            pin = _PIN.match(line)
            if pin:
                lib = pin.group(1).lower()
                rec.library(lib, pin.group(2), f"requirements.txt {lib}=={pin.group(2)}", Where(str(req), line=n))


def read(results: str | None = None, model_dir: str | None = None, mlflow_model: str | None = None) -> EvalRecord:
    rec = EvalRecord()
    if results:
        read_lm_eval(Path(results), rec)
    if model_dir:
        read_model_dir(Path(model_dir), rec)
    if mlflow_model:
        read_mlflow(Path(mlflow_model), rec)
    return rec


def template_sha(text: str) -> str:
    """lm-eval's chat_template_sha: SHA-256 of the template text."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _dtype(v: Any) -> str | None:
    if not isinstance(v, str) or not v:
        return None
    return v.removeprefix("torch.")


def _version(data: dict, key: str, path: Path) -> str | None:
    """A version string the record states (None when absent); anything else is an input error."""
    v = data.get(key)
    if v is None or (isinstance(v, str) and re.fullmatch(r"v?\d+(\.\d+)*([.+-]?[A-Za-z0-9.+_-]*)?", v.strip())):
        return v.strip() if isinstance(v, str) else None
    raise InputError(f"{path}: {key} must be a version string like 4.46.3, not {v!r}"[:300])


def _int(v: Any, where: str, path: Path) -> int | None:
    if v is None:
        return None
    if isinstance(v, bool) or not isinstance(v, int):
        raise InputError(f"{path}: {where} must be an integer, not {v!r}")
    return v
