"""One probe of one engine: the GETs asked, what each answered, the facts read.

Engine modules call :meth:`Session.json` / :meth:`Session.text` for the paths
they know and :meth:`Session.fact` for each value; the session records, per
path, ``ok`` or the one-line reason it gave nothing (404 on an older engine,
401 behind ``--api-key``, a malformed body, a timeout), redacts every string
value before it is stored, and turns the lot into a ``RuntimeReport``.
"""

from __future__ import annotations

from typing import Any

import msgspec

from skewaudit import redact
from skewaudit.collect.probe.transport import MAX_BODY, Reply, Transport
from skewaudit.model.observed import Fact, Prov, RuntimeReport, SourceKind, Symptoms, TokenHistogram

UNAUTHORIZED = "endpoint requires the API key (401); skewaudit never sends one"


class Forbidden(Exception):
    """The API server refused ``get pods/proxy``: the whole probe round stops."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def _k8s_status(body: bytes) -> dict | None:
    """The API server's own ``Status`` answer (not the engine's body), if it is one."""
    try:
        doc = msgspec.json.decode(body)
    except msgspec.DecodeError:
        return None
    return doc if isinstance(doc, dict) and doc.get("kind") == "Status" else None


def reason_of(reply: Reply, path: str, proxied: bool) -> str:
    """Why ``reply`` gave nothing to read, in one line."""
    if reply.status == 0:
        return reply.error or "no answer"
    status = _k8s_status(reply.body) if proxied else None
    if reply.status == 401:
        return UNAUTHORIZED
    if status is not None and reply.status == 403:
        raise Forbidden(str(status.get("message") or "forbidden"))
    if status is not None and reply.status in (502, 503):
        return f"pod unreachable through the proxy: {str(status.get('message') or reply.status)[:160]}"
    if status is not None and reply.status == 404 and (status.get("details") or {}).get("kind") == "pods":
        return "pod no longer exists"
    if reply.status == 404:
        return f"GET {path} is not served (404): an older engine, or the endpoint is switched off"
    return f"GET {path} answered {reply.status}"


def redact_json(doc: Any, key: str = "") -> Any:
    """A JSON document with every secret-looking string value replaced by its marker."""
    if isinstance(doc, dict):
        return {k: redact_json(v, str(k)) for k, v in doc.items()}
    if isinstance(doc, list):
        return [redact_json(v, key) for v in doc]
    if isinstance(doc, str):
        return redact.value(key or "value", doc)
    return doc


class Session:
    """The GETs of one probe and the facts read from them."""

    def __init__(self, transport: Transport, engine: str, obj: str, container: str = "", proxied: bool = False):
        self.t, self.engine, self.obj, self.container, self.proxied = transport, engine, obj, container, proxied
        self.endpoints: dict[str, str] = {}
        self.fields: dict[str, Fact] = {}
        self.symptoms: Symptoms | None = None
        self.prompt_tokens: TokenHistogram | None = None
        self.notes: list[str] = []
        self.dead: str | None = None

    def _get(self, path: str) -> bytes | None:
        if self.dead is not None:
            # one GET got no answer at all: the others would wait their timeout too
            self.endpoints[path] = f"not asked: {self.dead}"
            return None
        reply = self.t.get(path)
        if reply.status == 0:
            self.dead = f"GET {path} got no answer"
        if reply.status == 200 and reply.truncated:
            self.endpoints[path] = f"GET {path}: body larger than {MAX_BODY // 2**20} MiB, not read"
            return None
        if reply.status == 200:
            self.endpoints[path] = "ok"
            return reply.body
        self.endpoints[path] = reason_of(reply, path, self.proxied)
        return None

    def json(self, path: str) -> Any:
        body = self._get(path)
        if body is None:
            return None
        try:
            return redact_json(msgspec.json.decode(body))
        except msgspec.DecodeError as e:
            self.endpoints[path] = f"GET {path}: malformed JSON ({str(e)[:100]})"
            return None

    def obj_json(self, path: str) -> dict | None:
        """A JSON object body; anything else is recorded as malformed."""
        doc = self.json(path)
        if doc is not None and not isinstance(doc, dict):
            self.endpoints[path] = f"GET {path}: expected a JSON object, got {type(doc).__name__}"
            return None
        return doc

    def text(self, path: str) -> str | None:
        body = self._get(path)
        return None if body is None else body.decode("utf-8", "replace")

    def malformed(self, path: str, why: str) -> None:
        self.endpoints[path] = f"GET {path}: {why}"

    def fact(self, name: str, value: Any, path: str, note: str | None = None) -> None:
        """Record ``name`` = ``value`` read from ``path``; None and "" are not facts."""
        if value is None or value == "" or name in self.fields:
            return
        if isinstance(value, str):
            value = redact.value(name, value)
        self.fields[name] = Fact(value=value, prov=Prov(SourceKind.RUNTIME, self.obj, f"GET {path}", self.container),
                                 note=note)

    def facts(self, doc: dict, path: str, table: tuple[tuple[str, str, Any], ...]) -> None:
        """Record each (fact, key in ``doc``, converter or None) of ``table`` read from ``path``."""
        for name, key, conv in table:
            v = doc.get(key)
            self.fact(name, conv(v) if conv is not None and v is not None else v, path)

    def openai_models(self, path: str = "/v1/models") -> None:
        """The served name, model and max length from an OpenAI-style model list (vLLM, SGLang, NIM)."""
        card = first_model(self.obj_json(path))
        if card is not None:
            self.facts(card, path, (("served_model_name", "id", None), ("model", "root", None),
                                    ("max_model_len", "max_model_len", as_int)))

    def report(self) -> RuntimeReport:
        ok = [p for p, r in self.endpoints.items() if r == "ok"]
        bad = [r for r in self.endpoints.values() if r != "ok"]
        if not ok:
            status = "unavailable"
            reason = next((r for r in bad if r == UNAUTHORIZED), bad[0] if bad else "nothing asked")
        else:
            status, reason = ("partial", bad[0]) if bad else ("ok", None)
        return RuntimeReport(engine=self.engine, object=self.obj, status=status, reason=reason, via=self.t.where,
                             endpoints=dict(self.endpoints), fields=dict(self.fields), symptoms=self.symptoms,
                             prompt_tokens=self.prompt_tokens)


def as_int(v: Any) -> int | None:
    if isinstance(v, bool):
        return None
    if isinstance(v, int):
        return v
    if isinstance(v, float) and v.is_integer():
        return int(v)
    if isinstance(v, str) and v.strip().lstrip("-").isdigit():
        return int(v.strip())
    return None


def as_float(v: Any) -> float | None:
    if isinstance(v, bool):
        return None
    try:
        return float(v) if v is not None else None
    except (TypeError, ValueError):
        return None


def as_bool(v: Any) -> bool | None:
    if isinstance(v, bool):
        return v
    if isinstance(v, str) and v.lower() in ("true", "false"):
        return v.lower() == "true"
    return None


def first_model(doc: dict | None) -> dict | None:
    """The first entry of an OpenAI-style ``/v1/models`` list."""
    data = (doc or {}).get("data")
    if isinstance(data, list) and data and isinstance(data[0], dict):
        return data[0]
    return None
