"""Live collection from a Kubernetes API server: the three rounds of list calls.

The ``kubernetes`` package is used for what it is good at, configuration
(kubeconfig, contexts, exec plugins, in-cluster service accounts) and its
REST layer (TLS, auth headers), and nothing else: list pages are requested
with ``_preload_content``-style raw responses and each page's bytes go
straight to ``msgspec.json.decode(data, type=PodList)``, so the client's model
objects are never built (25-31 s and 2.6 GB for 10,000 pods, against under
a second and a few hundred MB here; figures in issue 7 / benchmarks/). That
HTTP layer (client setup, retries, paging, error mapping) is
:mod:`skewaudit.collect.kubehttp`; this module decides what to list.

A run has three rounds of independent GET list calls, each round run on
``req.workers`` threads:

1. workloads of the kinds the targets need, HPAs, Services, ServingRuntimes;
2. pods and ReplicaSets, by the selected workloads' label selectors (few
   workloads) or by namespace / cluster-wide (fleet);
3. the nodes those pods run on and the ConfigMaps their env references
   (one GET each when few, one paged list otherwise).

Every list is paged (``limit=500`` + ``continue``) and each page is reduced
to what the join needs before the next one is read, so memory follows the
page size and the number of distinct templates, not the cluster. The join is
:mod:`skewaudit.collect.build`, shared with the offline collector.

Failure policy: a source the run cannot do without (the workloads a target
names, pods) raises ``EnvironmentUnavailable``; an optional one (nodes, HPAs,
Services, ConfigMaps, ServingRuntimes, ReplicaSets) forbidden or missing
becomes a ``CollectionIssue`` and the run goes on. 429/5xx are retried up to
3 times (Retry-After honoured, about 10 s of waiting at most); a 410 on a
continue token restarts that list once. skewaudit only ever sends GET.
"""

from __future__ import annotations

import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, Iterable

import msgspec

from skewaudit.collect import build as b
from skewaudit.collect import k8s_types as k
from skewaudit.collect import kinds, mounts, unread
from skewaudit.collect.containers import _obj, looks_serving
from skewaudit.collect.quantities import canonical_quantities, drop_invalid_quantities, quantity_issue
from skewaudit.collect.kserve import ISVC_LABEL
from skewaudit.collect.kubehttp import Api, HttpError, Res, connect, failure, pages
from skewaudit.collect.manifests import now, pod_targets, scoped_targets
from skewaudit.collect.pods import KnownQuantities, PodStore
from skewaudit.collect.request import SourceRequest, Target
from skewaudit.errors import EnvironmentUnavailable
from skewaudit.gcpause import gc_paused
from skewaudit.model.observed import CollectionIssue, Snapshot

FEW = 8        # up to this many workloads: pods by their selectors; more: one list per namespace
FEW_GETS = 20  # up to this many nodes / ConfigMaps: one GET each; more: one paged list


DEPLOY = Res("Deployment", "deployments", "/apis/apps/v1", k.DeploymentList)
STS = Res("StatefulSet", "statefulsets", "/apis/apps/v1", k.StatefulSetList)
RS = Res("ReplicaSet", "replicasets", "/apis/apps/v1", k.ReplicaSetMetaList, area="pods")
JOB = Res("Job", "jobs", "/apis/batch/v1", k.JobList)
POD = Res("Pod", "pods", "/api/v1", k.PodList, area="pods")
ISVC = Res("InferenceService", "inferenceservices", "/apis/serving.kserve.io/v1beta1", k.InferenceServiceList)
SR = Res("ServingRuntime", "servingruntimes", "/apis/serving.kserve.io/v1alpha1", k.ServingRuntimeList,
         area="engine")
CSR = Res("ClusterServingRuntime", "clusterservingruntimes", "/apis/serving.kserve.io/v1alpha1",
          k.ServingRuntimeList, namespaced=False, area="engine")
NODE = Res("Node", "nodes", "/api/v1", k.NodeList, namespaced=False, area="hardware")
HPA = Res("HorizontalPodAutoscaler", "horizontalpodautoscalers", "/apis/autoscaling/v2",
          k.HorizontalPodAutoscalerList, area="hpa")
SVC = Res("Service", "services", "/api/v1", k.ServiceList, area="services")
CM = Res("ConfigMap", "configmaps", "/api/v1", k.ConfigMapList, area="configmaps")
_ITEM = {k.DeploymentList: k.Deployment, k.StatefulSetList: k.StatefulSet, k.ReplicaSetMetaList: k.ReplicaSetMeta,
         k.ReplicaSetList: k.ReplicaSet, k.JobList: k.Job, k.PodList: k.Pod,
         k.InferenceServiceList: k.InferenceService, k.ServingRuntimeList: k.ServingRuntime, k.NodeList: k.Node,
         k.HorizontalPodAutoscalerList: k.HorizontalPodAutoscaler, k.ServiceList: k.Service,
         k.ConfigMapList: k.ConfigMap}


def _ext_res(e: kinds.ExtKind) -> Res:
    return Res(e.kind, e.plural, e.prefix, e.list_struct, area=e.area, crd=True)


def ext_resources() -> list[tuple[kinds.ExtKind, Res]]:
    """The optional list calls of the registered kinds (skewaudit.collect.kinds)."""
    out = [(e, _ext_res(e)) for e in kinds.registry()]
    for e, _ in out:
        _ITEM.setdefault(e.list_struct, e.struct)
    return out


# --- listing ---------------------------------------------------------------------


PROGRESS_AFTER = 1.0   # seconds before the progress line appears: short runs stay silent


class Progress:
    """A count on stderr for runs longer than about a second; silent off a terminal."""

    def __init__(self, on: bool):
        self.on, self.t0, self.n, self.shown = on, time.monotonic(), 0, False
        self.lock = threading.Lock()

    def add(self, n: int) -> None:
        with self.lock:
            self.n += n
            if self.on and time.monotonic() - self.t0 >= PROGRESS_AFTER:
                sys.stderr.write(f"\rskewaudit: {self.n} objects read…")
                sys.stderr.flush()
                self.shown = True

    def done(self) -> None:
        if self.shown:
            sys.stderr.write("\r\033[K")
            sys.stderr.flush()


class Collector:
    """One live run: issues the list calls and fills an Inventory."""

    def __init__(self, api: Api, req: SourceRequest, targets: list[Target]):
        self.api, self.req, self.targets = api, req, targets
        self.inv = b.Inventory(pods=PodStore(keep_full=pod_targets(targets)))
        self.lock = threading.Lock()
        self.progress = Progress(req.progress)
        self.explicit = {b.kind_of(t.kind) for t in targets if t.kind}
        self.open_kinds = any(not t.kind for t in targets)
        # targets by name: each listed object is checked against the few
        # targets that can name it, never against every spec of a fleet
        self.named: dict[str, list[Target]] = {}
        for t in targets:
            if t.name:
                self.named.setdefault(t.name, []).append(t)
        self.unnamed = [t for t in targets if not t.name]
        # selector targets by one of their label pairs (an object must carry it, on
        # itself or its pod template, to match); only targets with neither name nor
        # selector (every serving workload of a kind/namespace) are tried on everything
        self.by_pair: dict[tuple[str, str], list[Target]] = {}
        for t in self.unnamed:
            if t.selector:
                self.by_pair.setdefault(min(t.selector.items()), []).append(t)
        self.open_targets = [t for t in self.unnamed if not t.selector]
        # Built here, on the main thread, before any worker runs: each decoder
        # compiles its type once, and the engine parsers are imported once.
        self.ext = ext_resources()
        self.decoders = {lt: msgspec.json.Decoder(lt) for lt in _ITEM}
        self.known_quantities = KnownQuantities()
        from skewaudit import runtimes

        runtimes.engines()

    # -- the generic paged list ------------------------------------------------

    def list(self, res: Res, ns: str | None, consume: Callable[[Any], None], *, selector: str = "",
             field: str = "", list_type: type | None = None, required: bool = False) -> bool:
        """Page through one list, handing each decoded item to ``consume``.
        Returns False when the source was unavailable (issue recorded)."""
        lt = list_type or res.list_type
        seen: set[tuple[str, str]] = set()   # a list restarted after a 410 repeats what was read
        it = pages(self.api, res.path(ns), lambda data: self._decode(data, lt, res),
                   selector=selector, field=field)
        while True:
            try:
                page = next(it, None)
            except HttpError as e:
                return self._failed(res, ns, "list", e, required)
            if page is None:
                return True
            fresh = []
            for item in page.items:
                md = item.metadata
                key = (md.namespace, md.name)
                if key not in seen:
                    seen.add(key)
                    fresh.append(item)
            with self.lock:
                for item in fresh:
                    consume(item)
            self.progress.add(len(fresh))

    def get_one(self, res: Res, ns: str | None, name: str) -> Any | None:
        """GET one object; None when it does not exist (404). Raises HttpError otherwise."""
        try:
            data = self.api.get(res.path(ns, name))
        except HttpError as e:
            if e.status == 404:
                return None
            raise
        try:
            item = msgspec.json.decode(data, type=_ITEM[res.list_type])
        except msgspec.ValidationError as e:
            self._malformed(res, ns or "", name, e)
            return None
        except msgspec.DecodeError as e:   # HTML from an auth proxy, a truncated body
            raise EnvironmentUnavailable(f"the Kubernetes API at {self.api.conn.host} sent invalid JSON for "
                                         f"{res.kind} {name}: {e}") from None
        self._valid_quantities(res, [item])
        return item

    def _valid_quantities(self, res: Res, items: list) -> None:
        known = self.known_quantities if res.kind == "Pod" else None
        for o in items:
            if known is not None and known.known(o.spec):
                continue   # nothing to drop: the same dicts were checked valid on a sibling pod
            bad = drop_invalid_quantities(res.kind, o)
            if bad:
                self._issue(quantity_issue(_obj(res.kind, o.metadata.namespace, o.metadata.name), bad))
            elif known is not None:
                known.remember(o.spec)

    def _decode(self, data: bytes, lt: type, res: Res) -> Any:
        page = self._decode_page(data, lt, res)
        self._valid_quantities(res, page.items)
        return page

    def _decode_page(self, data: bytes, lt: type, res: Res) -> Any:
        try:
            return self.decoders[lt].decode(data)
        except msgspec.ValidationError:
            pass   # one bad object must not hide the rest of the page: convert item by item
        except msgspec.DecodeError as e:
            raise EnvironmentUnavailable(f"the Kubernetes API at {self.api.conn.host} sent invalid JSON for "
                                         f"{res.plural}: {e}") from None
        raw = msgspec.json.decode(data)
        if not isinstance(raw, dict) or not isinstance(raw.get("items") or [], list):
            what = f"a JSON {type(raw).__name__}" if not isinstance(raw, dict) else "an object whose items are no list"
            raise EnvironmentUnavailable(f"the Kubernetes API at {self.api.conn.host} sent {what} for "
                                         f"{res.plural}, not a {lt.__name__}")
        items = []
        for it in raw.get("items") or []:
            try:
                items.append(msgspec.convert(it, _ITEM[lt], strict=False))
            except msgspec.ValidationError as e:
                md = it.get("metadata") if isinstance(it, dict) else None
                md = md if isinstance(md, dict) else {}
                ns, name = md.get("namespace"), md.get("name")
                self._malformed(res, ns if isinstance(ns, str) else "", name if isinstance(name, str) else "?", e)
        try:
            meta = msgspec.convert(raw.get("metadata") or {}, k.ListMeta, strict=False)
        except msgspec.ValidationError:
            meta = k.ListMeta()   # no continue token to follow: this page is the last
        return lt(metadata=meta, items=items)

    def _malformed(self, res: Res, ns: str, name: str, e: Exception) -> None:
        obj = _obj(res.kind, ns, name)
        with self.lock:
            self.inv.issues.append(CollectionIssue(scope=obj, kind="malformed", area=res.area,
                                                   message=f"{obj}: {e}; skipped"))

    def _failed(self, res: Res, ns: str | None, verb: str, e: HttpError, required: bool) -> bool:
        """Record (or raise, see :func:`kubehttp.failure`) a failed call; False: the source is unavailable."""
        issue = failure(self.api.conn, res, ns, verb, e, required)
        if issue is not None:
            self._issue(issue)
        return False

    def _issue(self, issue: CollectionIssue) -> None:
        with self.lock:
            self.inv.issues.append(issue)

    def run(self, tasks: Iterable[Callable[[], Any]]) -> None:
        tasks = list(tasks)
        if len(tasks) <= 1 or self.req.workers <= 1:
            for t in tasks:
                t()
            return
        with ThreadPoolExecutor(max_workers=min(self.req.workers, len(tasks))) as pool:
            futures = [pool.submit(t) for t in tasks]
            try:
                for f in futures:
                    f.result()   # re-raises EnvironmentUnavailable from a worker
            except BaseException:
                # the run is over: queued lists must not start, running ones stop at their next request
                self.api.stopped.set()
                for f in futures:
                    f.cancel()
                raise

    # -- round 1: workloads, HPAs, Services, runtimes ----------------------------

    def scopes(self) -> list[str | None]:
        """Namespaces to list: one cluster-wide list with -A, else each target's namespace."""
        if self.req.all_namespaces:
            return [None]
        nss = {t.namespace for t in self.targets}
        return [None] if None in nss else sorted(nss)  # type: ignore[type-var]

    def wanted(self, kind: str, o: Any) -> bool:
        """Could some target select this object?"""
        ts = self.named.get(o.metadata.name, [])
        if not ts and not self.unnamed:
            return False
        c = b.candidate(kind, o)
        if self.by_pair:
            pairs = self.by_pair
            ts = [*ts, *(t for kv in (*c.labels.items(), *c.template_labels.items()) for t in pairs.get(kv, ()))]
        return any(b.matches(t, c) for t in (*ts, *self.open_targets))

    def wants(self, kind: str) -> bool:
        return self.open_kinds or kind in self.explicit

    def _keep(self, kind: str, items: list) -> Callable[[Any], None]:
        def consume(o: Any) -> None:
            md = o.metadata
            self.inv.saw(kind, md.namespace, md.name)
            ctrl = b._controller(md)
            # an InferenceService's generated Deployment tells which of its pods are current
            isvc_owned = (kind == "Deployment" and ctrl is not None and ctrl.kind == "InferenceService"
                          and self.wants("InferenceService"))
            if isvc_owned or self.wanted(kind, o):
                wk = kinds.get(kind)
                if wk is not None and wk.pod_specs is not None:
                    for _, spec in wk.pod_specs(o):
                        canonical_quantities(spec)
                elif kind != "InferenceService":
                    canonical_quantities(o.spec.template.spec)
                items.append(o)
        return consume

    def round1(self) -> None:
        inv, tasks = self.inv, []
        for ns in self.scopes():
            for res, items in ((DEPLOY, inv.deployments), (STS, inv.statefulsets), (JOB, inv.jobs),
                               (ISVC, inv.isvcs)):
                if self.wants(res.kind) or (res is DEPLOY and self.wants("InferenceService")):
                    tasks.append(lambda r=res, n=ns, it=items: self.list(
                        r, n, self._keep(r.kind, it), required=r.kind in self.explicit))
            tasks.append(lambda n=ns: self._optional(HPA, n, inv.hpas.append, "hpas"))
            tasks.append(lambda n=ns: self._optional(SVC, n, inv.services.append, "services"))
            if self.wants("InferenceService"):
                tasks.append(lambda n=ns: self._optional(SR, n, self._runtime("ServingRuntime"), "servingruntimes"))
            for e, res in self.ext:
                if kinds.get(e.kind) is not None:
                    if self.wants(e.kind):
                        tasks.append(lambda r=res, n=ns: self._custom(r, n))
                elif e.role == "around" or self.wants(e.kind):
                    tasks.append(lambda n=ns, e=e, r=res: self._optional(
                        r, n, self._ext_keep(e), e.plural))
        if self.wants("InferenceService"):
            tasks.append(lambda: self._optional(CSR, None, self._runtime("ClusterServingRuntime"), "servingruntimes"))
        self.run(tasks)

    def _custom(self, res: Res, ns: str | None) -> None:
        """List a workload row's kind (LeaderWorkerSet). A cluster without its CRD answers
        404: quiet unless a target names the kind, then a note (see :func:`kubehttp.failure`)."""
        if not self.list(res, ns, self._keep(res.kind, self.inv.crds.setdefault(res.kind, [])),
                         required=res.kind in self.explicit):
            self.inv.unavailable[res.plural] = "forbidden or not served"

    def _optional(self, res: Res, ns: str | None, consume: Callable[[Any], None], name: str) -> None:
        if not self.list(res, ns, consume):
            self.inv.unavailable[name] = "forbidden or not served"

    def _ext_keep(self, e: kinds.ExtKind) -> Callable[[Any], None]:
        items = self.inv.crds.setdefault(e.kind, [])

        def consume(o: Any) -> None:
            if e.role == "workload":
                self.inv.saw(e.kind, o.metadata.namespace, o.metadata.name)
                if not self.wanted(e.kind, o):
                    return
            items.append(o)
        return consume

    def _runtime(self, kind: str) -> Callable[[Any], None]:
        def consume(rt: k.ServingRuntime) -> None:
            rt.kind = kind
            self.inv.runtimes.append(rt)
        return consume

    # -- round 2: pods and ReplicaSets --------------------------------------------

    def round2(self) -> None:
        inv = self.inv
        self._kept = {(kd, o.metadata.namespace, o.metadata.name)
                      for kd, objs in (("Deployment", inv.deployments), ("StatefulSet", inv.statefulsets),
                                       ("Job", inv.jobs), ("InferenceService", inv.isvcs), *inv.crds.items())
                      for o in objs}
        self._kept |= {(kd, o.metadata.namespace, v) for kd, wk in kinds.workloads().items() if wk.pod_label_values
                       for o in inv.crds.get(kd, ()) for v in wk.label_values(o)}
        self._pod_labels = kinds.pod_labels()
        self._pod_owners = [(kd, wk.pod_owner) for kd, wk in kinds.workloads().items() if wk.pod_owner is not None]
        self._pod_seen: set[tuple[str, str]] = set()
        self._standalone_rs: list[tuple[str, str]] = []
        selectors = self._selectors()
        tasks: list[Callable[[], Any]] = []
        need_rs = self.wants("Deployment") or self.wants("InferenceService") or self.wants("ReplicaSet")
        if selectors is None:
            for ns in self.scopes():
                tasks.append(lambda n=ns: self.list(POD, n, self._keep_pod, required=True))
                if need_rs:
                    tasks.append(lambda n=ns: self._rs_list(n, ""))
        else:
            for ns, sel, fld, with_rs in selectors:
                tasks.append(lambda n=ns, s=sel, f=fld: self.list(POD, n, self._keep_pod, selector=s, field=f,
                                                                  required=True))
                if with_rs and need_rs:
                    tasks.append(lambda n=ns, s=sel: self._rs_list(n, s))
        self.run(tasks)
        inv.pods_listed = True

    def _selectors(self) -> list[tuple[str, str, str, bool]] | None:
        """(namespace, labelSelector, fieldSelector, list ReplicaSets too) per kept
        workload when few and all named by kind; None means list by namespace."""
        if self.open_kinds or not self.explicit <= {"Deployment", "StatefulSet", "Job", "InferenceService", "Pod",
                                                     *(kd for kd, wk in kinds.workloads().items() if wk.pod_label)}:
            return None
        inv = self.inv
        if len(self._kept) > FEW or any(not t.name and not t.selector for t in self.targets):
            return None
        out = []
        for kind, objs in (("Deployment", inv.deployments), ("StatefulSet", inv.statefulsets), ("Job", inv.jobs)):
            for o in objs:
                if kind == "Deployment" and (b._controller(o.metadata) or k.OwnerReference()).kind == "InferenceService":
                    continue
                sel = b.selector_str(o.spec.selector) or b.selector_str(
                    k.LabelSelector(match_labels=o.spec.template.metadata.labels))
                if not sel:
                    return None
                out.append((o.metadata.namespace, sel, "", kind == "Deployment"))
        for isvc in inv.isvcs:
            out.append((isvc.metadata.namespace, f"{ISVC_LABEL}={isvc.metadata.name}", "", True))
        for kd, wk in kinds.workloads().items():
            out += [(o.metadata.namespace, f"{wk.pod_label}={v}", "", False)
                    for o in inv.crds.get(kd, ()) for v in wk.label_values(o)]
        for t in self.targets:
            if b.kind_of(t.kind) == "Pod" and t.name:
                out.append((t.namespace or "", "", f"metadata.name={t.name}", False))
        return out

    def _keep_pod(self, p: k.Pod) -> None:
        md = p.metadata
        key = (md.namespace, md.name)
        if key in self._pod_seen:
            return
        self._pod_seen.add(key)
        ctrl = b._controller(md)
        if ctrl is None or self.inv.pods._keep_full is not None and self.inv.pods._keep_full(p):
            if ctrl is None:
                self.inv.saw("Pod", md.namespace, md.name)
            if self.wanted("Pod", p):
                self.inv.pods.add(p)
            return
        ns, kept = md.namespace, self._kept
        for key, kd in self._pod_labels:
            owner = md.labels.get(key)
            if owner and (kd, ns, owner) in kept:
                self.inv.pods.add(p)
                return
        for kd, pod_owner in self._pod_owners:
            owner = pod_owner(md, (ctrl.kind, ctrl.name))
            if owner and (kd, ns, owner) in kept:
                self.inv.pods.add(p)
                return
        isvc = md.labels.get(ISVC_LABEL)
        if isvc and ("InferenceService", ns, isvc) in kept:
            self.inv.pods.add(p)
        elif ctrl.kind in ("StatefulSet", "Job"):
            if (ctrl.kind, ns, ctrl.name) in kept:
                self.inv.pods.add(p)
        elif ctrl.kind == "ReplicaSet":
            h = md.labels.get("pod-template-hash", "")
            deploy = ctrl.name[:-len(h) - 1] if h and ctrl.name.endswith("-" + h) else None
            if deploy is not None and ("Deployment", ns, deploy) in kept:
                self.inv.pods.add(p)
            elif (deploy is None or deploy not in self.inv.names.get(("Deployment", ns), ())) \
                    and self.wants("ReplicaSet") and looks_serving(p.spec):
                self.inv.pods.add(p)   # maybe a standalone ReplicaSet's pod: decided in round 3

    def _rs_list(self, ns: str | None, selector: str) -> None:
        def consume(rs: k.ReplicaSetMeta) -> None:
            md = rs.metadata
            ctrl = b._controller(md)
            if ctrl is None:
                self.inv.saw("ReplicaSet", md.namespace, md.name)
                if self.wants("ReplicaSet"):
                    self._standalone_rs.append((md.namespace, md.name))
            elif ctrl.kind == "Deployment" and (("Deployment", md.namespace, ctrl.name) in self._kept or (
                    ctrl.name.endswith("-predictor")
                    and ("InferenceService", md.namespace, ctrl.name[:-10]) in self._kept)):
                self.inv.replicasets.append(rs)
        if not self.list(RS, ns, consume, selector=selector, required="ReplicaSet" in self.explicit):
            self.inv.unavailable["replicasets"] = "forbidden"

    # -- round 3: standalone ReplicaSets, nodes, ConfigMaps -----------------------------

    def round3(self) -> None:
        if self._standalone_rs:
            self.run([lambda n=ns, m=name: self._get_rs(n, m) for ns, name in self._standalone_rs])
        nodes = sorted({r.node for r in self.inv.pods.recs if r.node})
        refs = sorted(self._cm_refs())
        tasks: list[Callable[[], Any]] = []
        if nodes:
            tasks += self._fetch(NODE, [(None, n) for n in nodes], self._add_node, "hardware")
        if refs:
            tasks += self._fetch(CM, refs, self.inv.configmaps.add, "configmaps")
        self.run(tasks)
        self._missing_nodes(nodes)

    def _missing_nodes(self, nodes: list[str]) -> None:
        """A pod bound to a node the API does not return (404: deleted, or a cluster view that hides it)
        and a pod not scheduled yet each get their own issue: never a silent gap. Forbidden nodes
        already have theirs. Their area is ``node``: they concern the named pods only, not every
        pod of the namespace as a ``hardware`` issue would."""
        for r in self.inv.pods.recs:
            if r.observed and not r.node:
                self._issue(CollectionIssue(
                    scope=f"Pod/{r.ns}/{r.name}", kind="not-scheduled", area="node",
                    message=f"pod {r.ns}/{r.name} is not scheduled to a node yet (phase {r.phase or 'unknown'}): "
                            "its GPU facts are unverifiable until it is"))
        if any(i.kind == "forbidden" and i.scope.startswith("Node/") for i in self.inv.issues):
            return
        pods: dict[str, list[str]] = {}
        for r in self.inv.pods.recs:
            if r.node:
                pods.setdefault(r.node, []).append(f"{r.ns}/{r.name}")
        for n in nodes:
            if n not in self.inv.nodes:
                on = sorted(pods.get(n, []))
                shown = ", ".join(on[:3]) + (f" and {len(on) - 3} more" if len(on) > 3 else "")
                self._issue(CollectionIssue(
                    scope=f"Node/{n}", kind="not-found", area="node",
                    message=f"node {n} (running pod {shown}) was not found (404): deleted or replaced since the pod "
                            "was scheduled; the GPU facts of its pods are unverifiable"))

    def _get_rs(self, ns: str, name: str) -> None:
        try:
            data = self.api.get(RS.path(ns, name))
            rs = msgspec.json.decode(data, type=k.ReplicaSet)
        except HttpError as e:
            if e.status != 404:
                self._failed(RS, ns, "get", e, False)
            return
        except msgspec.ValidationError as e:
            self._malformed(RS, ns, name, e)
            return
        if self.wanted("ReplicaSet", rs):
            with self.lock:
                self.inv.replicasets.append(rs)

    def _add_node(self, node: k.Node) -> None:
        self.inv.nodes[node.metadata.name] = b.node_obs(node)

    def _fetch(self, res: Res, keys: list[tuple[str | None, str]], add: Callable[[Any], None], area: str
               ) -> list[Callable[[], Any]]:
        """One GET per object when few, else one paged list per namespace."""
        wanted = {(ns or "", name) for ns, name in keys}
        cms = self.inv.configmaps

        def unavailable(why: str) -> None:
            if res is CM:
                cms.available, cms.why = False, why

        def consume(o: Any) -> None:
            if (o.metadata.namespace, o.metadata.name) in wanted:
                add(o)

        if len(keys) > FEW_GETS:
            nss = sorted({ns for ns, _ in keys}, key=lambda x: x or "") if res.namespaced else [None]
            return [lambda n=n: self.list(res, n, consume) or unavailable("forbidden") for n in nss]
        denied = threading.Event()

        def get(ns: str | None, name: str) -> None:
            if denied.is_set():
                return
            try:
                o = self.get_one(res, ns, name)
            except HttpError as e:
                if e.status == 403 and not denied.is_set():
                    denied.set()
                    unavailable("forbidden")
                    self._failed(res, ns, "get", e, False)
                elif e.status != 403:
                    self._failed(res, ns, "get", e, False)
                return
            if o is not None:
                with self.lock:
                    add(o)
        return [lambda n=ns, m=name: get(n, m) for ns, name in keys]

    def _cm_refs(self) -> set[tuple[str, str]]:
        """(namespace, name) of every ConfigMap the kept workloads' env reads or mounts."""
        inv, out = self.inv, set()

        def scan(ns: str, containers: Iterable[k.Container]) -> None:
            for c in containers:
                for e in c.env:
                    ref = e.value_from.config_map_key_ref if e.value_from else None
                    if ref is not None and ref.name:
                        out.add((ns, ref.name))
                for ef in c.env_from:
                    if ef.config_map_ref is not None and ef.config_map_ref.name:
                        out.add((ns, ef.config_map_ref.name))
                out.update((ns, name) for name in mounts.configmap_names(c))   # --config FILE
        for objs in (inv.deployments, inv.statefulsets, inv.jobs,
                     [r for r in inv.replicasets if isinstance(r, k.ReplicaSet)]):
            for o in objs:
                scan(o.metadata.namespace, [*o.spec.template.spec.containers, *o.spec.template.spec.init_containers])
        for kd, wk in kinds.workloads().items():
            for o in inv.crds.get(kd, ()):
                for _, spec in wk.pod_specs(o):   # type: ignore[misc]
                    scan(o.metadata.namespace, [*spec.containers, *spec.init_containers])
        for isvc in inv.isvcs:
            ns, pred = isvc.metadata.namespace, isvc.spec.predictor
            scan(ns, [*([pred.model] if pred.model else []), *pred.containers])
            for rt in inv.runtimes:
                scan(ns, rt.spec.containers)
        for ns, c in inv.pods.specs:
            scan(ns, [c])
        return out


def collect(req: SourceRequest) -> Snapshot:
    """Collect from the live cluster ``req`` points at."""
    from skewaudit import __version__

    conn = connect(req)
    targets, skipped = [], []
    for t in scoped_targets(req, conn.namespace):
        if t.context and conn.context and t.context != conn.context:
            skipped.append(CollectionIssue(scope=f"{t.kind or 'Workload'}/{t.namespace or '*'}/{t.name or '*'}",
                                           kind="not-collected", area="workload",
                                           message=f"target is for context {t.context}; this run reads "
                                                   f"context {conn.context}"))
        else:
            targets.append(t)
    api = Api(conn, req.timeout)
    col = Collector(api, req, targets)
    # Decoded pages and the facts built from them are acyclic: see skewaudit.gcpause.
    with gc_paused():
        try:
            if targets:
                col.round1()
                col.round2()
                col.round3()
            col.progress.done()
            inv = col.inv
            selected, issues = b.select(inv, targets) if targets else ([], [])
            missing = unread.missing_names(targets, selected)
            if missing and unread.probe(api, col.run, missing, inv.others):
                selected, issues = b.select(inv, targets)   # a kind it does not read: named, not "not found"
            workloads, nodes, more = b.build(inv, selected)
            if req.exec_gpu and workloads:
                workloads = exec_gpus(api, req, workloads, more)
            if req.probe and workloads:
                from skewaudit.collect import probe

                workloads = probe.live(api, req, workloads, more)
        finally:
            col.progress.done()
            api.close()
    return Snapshot(source="live", collected_at=now(), skewaudit_version=__version__, context=conn.context,
                    inputs=[conn.host], workloads=workloads, nodes=nodes, issues=skipped + inv.issues + issues + more)


def exec_gpus(api: Api, req: SourceRequest, workloads: list, issues: list[CollectionIssue]) -> list:
    """``--exec``: nvidia-smi in each current pod (``req.workers`` at a time); a
    failed exec is that pod's ``GpuReport(status="unavailable")``, reported
    once as an issue, and node labels still give the GPU facts."""
    from skewaudit.collect import exec_gpu

    jobs = []
    for w in workloads:
        for p in w.pods:
            if p.current and p.phase in (None, "Running"):
                c = next((c for c in p.containers if c.engine is not None), p.containers[0] if p.containers else None)
                jobs.append((p.namespace, p.name, c.name if c else None))
    with ThreadPoolExecutor(max_workers=max(1, req.workers)) as pool:
        reports = dict(zip(((ns, n) for ns, n, _ in jobs),
                           pool.map(lambda j: exec_gpu.exec_gpu_report(api.client, *j, timeout=req.timeout), jobs)))
    failed = [r for r in reports.values() if r.status != "ok"]
    if failed:
        issues.append(CollectionIssue(scope=failed[0].object, kind="unreachable", area="gpu",
                                      message=f"--exec failed in {len(failed)} of {len(reports)} pods, e.g. "
                                              f"{failed[0].reason}"))
    return [msgspec.structs.replace(w, pods=[msgspec.structs.replace(p, gpu=reports.get((p.namespace, p.name)))
                                             for p in w.pods]) for w in workloads]
