"""Runtime probes (``--probe``): what each engine reports about itself, per pod.

Read-only GETs on the engine's own HTTP endpoints (one module per engine:
:mod:`.vllm`, :mod:`.tgi`, :mod:`.sglang`, :mod:`.triton`, :mod:`.nim`),
reached through the API server's pod proxy when live, or plain HTTP for
``--local`` and ``--endpoint`` (:mod:`.transport`). Each current pod gets a
``RuntimeReport`` on ``PodObs.runtime``: the facts with ``runtime``
provenance, what every endpoint answered, and the symptom block from
``/metrics``. Nothing here raises for one pod's failure: a pod not Ready, an
endpoint an older engine lacks, a 401 behind ``--api-key``, a hang or a
malformed body make that pod's facts unverifiable with the reason. A refused
``get pods/proxy`` stops the round (every further pod would be refused too)
and becomes one ``forbidden`` collection issue.

``req.workers`` pods are probed at once; each GET has ``--timeout`` and the
round a budget (:data:`.transport.PROBE_BUDGET_S`).
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor
from types import ModuleType
from typing import Any, Callable

import msgspec

from skewaudit.collect.probe import nim, sglang, tgi, triton, vllm
from skewaudit.collect.probe.replay import REPLAY_ENV, Recorder, Replay
from skewaudit.collect.probe.session import Forbidden, Session
from skewaudit.collect.probe.transport import Budget, HttpTransport, ProxyTransport, Transport
from skewaudit.model.observed import CollectionIssue, ContainerObs, PodObs, RuntimeReport, WorkloadObs

ENGINES: dict[str, ModuleType] = {m.ENGINE: m for m in (vllm, tgi, sglang, triton, nim)}
RBAC_HINT = "grant get on pods/proxy (the optional probe tier in specs/rbac.yaml)"


def port_of(c: ContainerObs, mod: ModuleType) -> int:
    """The engine's HTTP port: from argv/env, else the container's port named http, else the first, else the default."""
    f = c.engine.fields.get("port") if c.engine else None
    if f is not None and isinstance(f.value, int) and not isinstance(f.value, bool):
        return f.value
    named = next((p.container_port for p in c.ports if (p.name or "").lower() in ("http", "http1", "h2c")), None)
    return named or (c.ports[0].container_port if c.ports else mod.PORT)


def hint_of(c: ContainerObs | None) -> dict:
    if c is None or c.engine is None:
        return {}
    f = c.engine.fields.get("served_model_name") or c.engine.fields.get("model")
    return {"model": f.value} if f is not None and f.value else {}


def probe_engine(transport: Transport, engine: str, obj: str, *, container: str = "", proxied: bool = False,
                 hint: dict | None = None) -> RuntimeReport:
    """Ask one engine what it runs; never raises for what the engine answers (Forbidden aside)."""
    s = Session(transport, engine, obj, container, proxied)
    ENGINES[engine].probe(s, hint or {})
    return s.report()


def _owned_by_vllm(doc: dict) -> bool:
    data = doc.get("data")
    return isinstance(data, list) and bool(data) and isinstance(data[0], dict) and data[0].get("owned_by") == "vllm"


# (engine, path, test of the JSON object it answers): each engine's own endpoint, in turn
_SIGNATURES: tuple[tuple[str, str, Callable[[dict], bool]], ...] = (
    ("tgi", "/info", lambda d: "model_id" in d),
    ("sglang", "/get_model_info", lambda d: "model_path" in d),
    ("nim", "/v1/metadata", lambda d: "modelInfo" in d),
    ("triton", "/v2", lambda d: "extensions" in d),
    ("vllm", "/version", lambda d: "version" in d),
    ("vllm", "/v1/models", _owned_by_vllm),      # vLLM before /version existed (0.2.x)
)


def detect(transport: Transport) -> str | None:
    """Which engine answers at an ``--endpoint`` no argv describes."""
    for engine, path, test in _SIGNATURES:
        reply = transport.get(path)
        if reply.status == 0:
            return None          # nothing answers there: asking on would only wait again
        if reply.status == 200:
            try:
                doc = msgspec.json.decode(reply.body)
            except msgspec.DecodeError:
                continue
            if isinstance(doc, dict) and test(doc):
                return engine
    return None


def unavailable(engine: str, obj: str, reason: str) -> RuntimeReport:
    return RuntimeReport(engine=engine, object=obj, status="unavailable", reason=reason)


class Round:
    """One probe round over many pods: transports, budget, replay/record, the forbidden stop."""

    def __init__(self, workers: int, timeout: float, make: Callable[[PodObs, int], Transport] | None = None,
                 record: Recorder | None = None, budget: Budget | None = None):
        self.workers, self.timeout, self.make, self.record = max(1, workers), timeout, make, record
        self.budget = budget or Budget()
        path = os.environ.get(REPLAY_ENV)
        self.replay: Replay | None = None
        if path:
            from skewaudit.collect.probe import replay

            self.replay = replay.load(path)
        self.forbidden: str | None = None
        self.lock = threading.Lock()

    def transport(self, key: str, live: Callable[[], Transport], where: str) -> Transport:
        t = self.replay.transport(key, where) if self.replay is not None else live()
        return self.record.wrap(t, key) if self.record is not None else t

    def pod(self, p: PodObs) -> RuntimeReport | None:
        c = next((c for c in p.containers if c.engine is not None), None)
        obj = f"Pod/{p.namespace}/{p.name}"
        if c is None:
            return None
        engine = c.engine.engine
        mod = ENGINES.get(engine)
        if mod is None:
            return unavailable(engine, obj, f"no runtime probe for engine {engine}")
        if self.forbidden is not None:
            return unavailable(engine, obj, self.forbidden)
        if self.replay is None and (p.phase not in (None, "Running") or c.ready is False):
            return unavailable(engine, obj, f"pod not Ready (phase {p.phase or 'unknown'}): "
                                            "the engine cannot answer yet")
        if self.budget.spent():
            return unavailable(engine, obj, f"probe budget of {self.budget.seconds:g} s used up before this pod")
        port = port_of(c, mod)
        t = self.transport(obj, lambda: self.make(p, port), f"pod proxy :{port}")
        try:
            return probe_engine(t, engine, obj, container=c.name, proxied=True, hint=hint_of(c))
        except Forbidden as e:
            with self.lock:
                self.forbidden = self.forbidden or f"forbidden: get pods/proxy: {RBAC_HINT} ({e.message})"
            return unavailable(engine, obj, self.forbidden)

    def pods(self, workloads: list[WorkloadObs], issues: list[CollectionIssue]) -> list[WorkloadObs]:
        """Every current pod of ``workloads`` probed; pods get their ``runtime`` report."""
        jobs = [p for w in workloads for p in w.pods if p.current]
        if not jobs:
            return workloads
        with ThreadPoolExecutor(max_workers=min(self.workers, len(jobs))) as pool:
            got = dict(zip((id(p) for p in jobs), pool.map(self.pod, jobs)))
        reports = [r for r in got.values() if r is not None]
        failed = [r for r in reports if r.status == "unavailable"]
        if self.forbidden is not None:
            issues.append(CollectionIssue(scope="Pod/*", kind="forbidden", area="runtime",
                                          message=f"runtime facts are unverifiable: {self.forbidden}"))
        elif failed:
            issues.append(CollectionIssue(scope=failed[0].object, kind="unreachable", area="runtime",
                                          message=f"runtime facts unverifiable in {len(failed)} of {len(reports)} "
                                                  f"probed pods, e.g. {failed[0].object}: {failed[0].reason}"))
        return [msgspec.structs.replace(w, pods=[msgspec.structs.replace(p, runtime=got.get(id(p)))
                                                 if got.get(id(p)) is not None else p for p in w.pods])
                for w in workloads]


def probe_url(url: str, engine: str | None, obj: str, timeout: float, *, container: str = "",
              hint: dict | None = None, record: Recorder | None = None) -> RuntimeReport:
    """``--local`` / ``--endpoint``: probe one engine over plain HTTP (or its recording)."""
    rnd = Round(1, timeout, record=record)
    t = rnd.transport(url, lambda: HttpTransport(url, timeout, rnd.budget), url)
    if engine is None or engine not in ENGINES:
        found = detect(t)
        if found is None:
            why = (f"no runtime probe for engine {engine}" if engine else
                   f"no known engine answers at {url} (asked TGI /info, SGLang /get_model_info, NIM /v1/metadata, "
                   "Triton /v2, vLLM /version)")
            return unavailable(engine or "unknown", obj, why)
        engine = found
    return probe_engine(t, engine, obj, container=container, hint=hint)


def recorder_for(req: Any) -> Recorder | None:
    return Recorder() if getattr(req, "record", None) else None


def save_recording(rec: Recorder | None, req: Any) -> None:
    if rec is not None and req.record:
        from skewaudit.fsutil import write_atomic

        write_atomic(req.record, rec.dump())


def live(api: Any, req: Any, workloads: list[WorkloadObs], issues: list[CollectionIssue]) -> list[WorkloadObs]:
    """``--probe`` on a live run: every current pod through the API server's pod proxy."""
    rec = recorder_for(req)
    rnd = Round(req.workers, req.timeout, record=rec)
    rnd.make = lambda p, port: ProxyTransport(api, p.namespace, p.name, port)
    out = rnd.pods(workloads, issues)
    save_recording(rec, req)
    return out
