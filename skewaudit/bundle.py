"""The incident evidence bundle: what a ticket needs, as one Markdown and one JSON file.

Follows the skew playbook's minimal evidence list: workload identity
(namespace, workload, pods), image tag and digest, container args and env
(redacted), GPU type and driver, HPA and Service settings, and the findings
(intent and/or the diff against a last-good snapshot) when there are any.

Values were redacted when they were collected; every argv and env value is
passed through :mod:`skewaudit.redact` once more here (both functions leave
existing markers alone), because a bundle is pasted into tickets that many
people read. In the Markdown, values sit in code spans so a marker such as
``<redacted:1a2b3c4d>`` is not swallowed as an HTML tag.
"""

from __future__ import annotations

from typing import Any

import msgspec

from skewaudit import redact
from skewaudit.model.finding import PROBLEM_STATUSES, Report, Status
from skewaudit.model.observed import ContainerObs, Snapshot, WorkloadObs

BUNDLE_SCHEMA = "skewaudit.io/bundle/v1"


def _gpu(w: WorkloadObs, snap: Snapshot) -> dict[str, Any]:
    """GPU facts per node the pods run on (and per device report); offline, the class the template pins."""
    from skewaudit import gpus
    from skewaudit.model.observed import NodeObs

    keys = ("class", "product", "driver_version", "cuda_driver_version", "memory_mib", "count", "mig_profile")
    per_node: dict[str, dict[str, Any]] = {}
    for p in w.pods:
        if p.node and p.node in snap.nodes and p.node not in per_node:
            per_node[p.node] = {k: f.value for k, f in gpus.node_gpu_facts(snap.nodes[p.node]).items() if k in keys}
        if p.gpu is not None:
            key = p.gpu.object if p.gpu.object and p.gpu.object != "local" else p.name
            per_node[key] = ({k: f.value for k, f in gpus.report_gpu_facts(p.gpu).items() if k in keys}
                             if p.gpu.status == "ok" else {"unavailable": p.gpu.reason})
    if not per_node:
        sel = dict(w.template.node_selector)
        for k, vals in w.template.node_affinity.items():
            if len(vals) == 1:
                sel.setdefault(k, vals[0])
        facts = gpus.node_gpu_facts(NodeObs(name="template", labels=sel)) if sel else {}
        if facts.get("class") is not None:
            per_node["(pod template nodeSelector)"] = {k: f.value for k, f in facts.items() if k in keys}
    return per_node


def _env_value(e) -> str | None:
    if e.value is None:
        return f"from {e.ref or e.source}"
    return redact.value(e.name, e.value)


def _container(c: ContainerObs) -> dict[str, Any]:
    engine = None
    if c.engine is not None:
        engine = {"engine": c.engine.engine, "detected_by": c.engine.detected_by,
                  "settings": {k: {"value": f.value, "source": f.prov.where()}
                               for k, f in sorted(c.engine.fields.items())},
                  "unknown_args": redact.argv(list(c.engine.unknown_args)), "notes": list(c.engine.notes)}
    return {
        "name": c.name, "image": c.image.ref, "tag": c.image.tag, "digest": c.image.digest,
        "resolved_digest": c.image.resolved_digest,
        "argv": redact.argv(list(c.argv)) if c.argv is not None else None,
        "argv_note": redact.text(c.argv_note) if c.argv_note else None,
        "env": {e.name: _env_value(e) for e in c.env},
        "requests": dict(c.requests), "limits": dict(c.limits),
        "ports": [p.container_port for p in c.ports], "engine": engine,
    }


def build(snap: Snapshot, report: Report | None, data_skew: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """The bundle as plain data (the JSON file); ``data_skew``: per spec, the top drifting features with
    their baseline-versus-serving histograms (``skewaudit.dataskew.histogram``)."""
    workloads = []
    for w in snap.workloads:
        current = [p for p in w.pods if p.current]
        containers = (current[0].containers if current else w.template.containers)
        # Mid-rollout, pods of the older revision(s) serve too: their configuration is evidence as well.
        old: dict[str, list[dict[str, Any]]] = {}
        for p in w.pods:
            if not p.current and (p.revision or p.name) not in old:
                old[p.revision or p.name] = [_container(c) for c in p.containers]
        workloads.append({
            "kind": w.kind, "namespace": w.namespace, "name": w.name, "object": w.object,
            "pods": [{"name": p.name, "node": p.node, "revision": p.revision, "current": p.current, "phase": p.phase,
                      "restarts": sum(c.restart_count or 0 for c in p.containers)}
                     for p in w.pods],
            "pods_collected": w.pods_collected,
            "current_revision": w.current_revision,
            "old_revisions": list(w.old_revisions),
            "containers": [_container(c) for c in containers],
            "old_revision_containers": old,
            "gpu": _gpu(w, snap),
            "node_selector": dict(w.template.node_selector),
            "hpa": msgspec.to_builtins(w.hpa) if w.hpa else None,
            "services": msgspec.to_builtins(w.services),
            "replicas": w.replicas.value if w.replicas else None,
            "extra": {k: f.value for k, f in w.extra.items()},
        })
    findings = []
    summary = None
    if report is not None:
        findings = [msgspec.to_builtins(r) for r in report.results
                    if r.status in (*PROBLEM_STATUSES, Status.UNVERIFIABLE)]
        summary = msgspec.to_builtins(report.summary)
    return {"schema": BUNDLE_SCHEMA, "collected_at": snap.collected_at, "source": snap.source,
            "context": snap.context, "inputs": list(snap.inputs), "skewaudit_version": snap.skewaudit_version,
            "baseline": report.baseline if report else None, "summary": summary,
            "workloads": workloads, "findings": findings, "data_skew": list(data_skew or []),
            "collection_issues": msgspec.to_builtins(snap.issues)}


def _c(v: Any) -> str:
    """A table cell: a code span (redaction markers survive), ``—`` for nothing."""
    from skewaudit.render.markdown import _cell, _code

    if v is None or v == "" or v == {} or v == []:
        return "—"
    return _cell(_code(_flat(v).replace("\n", " ")))


def _flat(v: Any) -> str:
    if isinstance(v, dict):
        return ", ".join(f"{k}={_flat(x)}" for k, x in v.items())
    if isinstance(v, list):
        return ", ".join(_flat(x) for x in v)
    return str(v)


def _t(text: str) -> str:
    from skewaudit.render.markdown import _esc

    return _esc(text)


def markdown(data: dict[str, Any]) -> str:
    """The bundle as a Markdown document for an incident ticket."""
    from skewaudit.render.markdown import _code

    out = ["# skewaudit evidence bundle", "",
           f"- collected: {_t(data['collected_at'] or '?')} from {_t(data['source'])}"
           + (f" (context {_code(data['context'])})" if data.get("context") else "")
           + (f", inputs {', '.join(_code(i) for i in data['inputs'])}" if data.get("inputs") else ""),
           f"- skewaudit {_t(data['skewaudit_version'] or '?')}"
           + (f"; compared with baseline {_code(data['baseline'])}" if data.get("baseline") else ""),
           ""]
    if data.get("summary"):
        s = data["summary"]
        out += [f"- findings: {s['drift']} drifted, {s['unverifiable']} unverifiable, {s['unpinned']} unpinned", ""]
    for w in data["workloads"]:
        out += [f"## {w['kind']} {_code((w['namespace'] + '/' if w['namespace'] else '') + w['name'])}", ""]
        if w["pods"]:
            out += [f"Pods ({len(w['pods'])}):", ""] + [
                f"- {_code(p['name'])} on {_code(p['node'] or '?')}, revision {_code(p['revision'] or '?')}"
                f"{'' if p['current'] else ' (OLD revision)'}, {p['phase'] or '?'}, {p['restarts']} restarts"
                for p in w["pods"]] + [""]
        elif not w["pods_collected"]:
            out += ["Pods: not collected (offline input: the pod template is shown).", ""]
        if w["old_revisions"]:
            out += [f"Rollout in progress: revision {_code(w['current_revision'] or '?')} replacing "
                    f"{', '.join(_code(r) for r in w['old_revisions'])}", ""]
        shown = [(c, "") for c in w["containers"]]
        shown += [(c, f" (old revision {_code(rev)})") for rev, cs in w.get("old_revision_containers", {}).items()
                  for c in cs]
        for c, label in shown:
            digest = c["resolved_digest"] or c["digest"]
            out += [f"### Container {_code(c['name'])}{label}", "", f"- image: {_code(c['image'] or '?')}",
                    f"- tag: {_code(c['tag']) if c['tag'] else '—'}",
                    f"- digest: {_code(digest) if digest else 'not resolved'}"
                    + (" (running, from pod status)" if c["resolved_digest"] else "")]
            if c["argv"] is not None:
                out += ["- args:", "", "```", " ".join(c["argv"]).replace("```", "'''"), "```", ""]
            elif c["argv_note"]:
                out += [f"- args: {_t(c['argv_note'])}", ""]
            if c["engine"]:
                e = c["engine"]
                out += ["", f"Engine **{_t(e['engine'])}** ({_t(e['detected_by'])}):", "",
                        "| setting | value | source |", "|---|---|---|"]
                out += [f"| {k} | {_c(v['value'])} | {_c(v['source'])} |" for k, v in e["settings"].items()]
                if e["unknown_args"]:
                    out += ["", f"- other flags: {_code(' '.join(e['unknown_args']))}"]
                out += [""] + [f"- note: {_t(n)}" for n in e["notes"]]
            if c["env"]:
                out += ["", "| env | value |", "|---|---|"]
                out += [f"| {_c(k)} | {_c(v)} |" for k, v in sorted(c["env"].items())]
            out += ["", f"- requests: {_c(c['requests'])}", f"- limits: {_c(c['limits'])}", ""]
        out += ["### GPU", ""]
        if w["gpu"]:
            out += ["| where | class | product | driver | CUDA | memory MiB |", "|---|---|---|---|---|---|"]
            for where, g in sorted(w["gpu"].items()):
                out.append(f"| {_c(where)} | unavailable: {_c(g['unavailable'])} | | | | |" if "unavailable" in g else
                           f"| {_c(where)} | {_c(g.get('class'))} | {_c(g.get('product'))} | "
                           f"{_c(g.get('driver_version'))} | {_c(g.get('cuda_driver_version'))} | "
                           f"{_c(g.get('memory_mib'))} |")
        else:
            out.append("No GPU facts: no node labels, device report or GPU nodeSelector.")
        out.append("")
        hpa = w["hpa"]
        out += ["### Scaling and serving", "",
                f"- replicas: {w['replicas'] if w['replicas'] is not None else '—'}",
                (f"- HPA {_code(hpa['name'])}: min {hpa.get('min_replicas', '?')} max {hpa.get('max_replicas', '?')} "
                 f"on {', '.join(_code(m) for m in hpa.get('metrics') or []) or 'CPU (default)'}") if hpa
                else "- HPA: none found"]
        for s in w["services"]:
            ports = ", ".join(f"{p['port']}->{p.get('target_port', p['port'])}" for p in s.get("ports", []))
            ann = "; ".join(f"{k}={v}" for k, v in (s.get("annotations") or {}).items())
            out.append(f"- Service {_code(s['name'])} ({s.get('type', 'ClusterIP')}): {_code(ports or '—')}"
                       + (f", annotations {_code(ann)}" if ann else ""))
        if w["extra"]:
            out += [f"- {k}: {_c(v)}" for k, v in w["extra"].items()]
        out.append("")
    if data["findings"]:
        out += ["## Findings" + (" (including the diff against the baseline)" if data.get("baseline") else ""), "",
                "| check | status | level | target | field | intended / baseline | running | message |",
                "|---|---|---|---|---|---|---|---|"]
        for r in data["findings"]:
            running = "<br>".join(_c(e.get("value")) for e in r.get("observed", [])) or "—"
            t = r["target"]
            target = _c(t.get("kind", "") + "/" + t.get("name", ""))
            message = _t(r["message"]).replace("|", "&#124;")
            out.append(f"| {r['check']} | {r['status']} | {r['level']} | {target} | {_c(r.get('field'))} | "
                       f"{_c(r.get('expected'))} | {running} | {message} |")
        out.append("")
    elif data.get("summary") is not None:
        out += ["## Findings", "", "None: " + ("nothing changed since the baseline." if data.get("baseline")
                                             else "the running configuration matches the spec."), ""]
    out += _data_skew_markdown(data.get("data_skew") or [])
    if data["collection_issues"]:
        out += ["## Could not collect", ""]
        out += [f"- {_t(i['scope'])}: {_t(i['message'])}" for i in data["collection_issues"]] + [""]
    return "\n".join(out)


BAR_WIDTH = 20


def _bar(share: float) -> str:
    return "█" * max(0, round(share * BAR_WIDTH)) or "·"


def _data_skew_markdown(blocks: list[dict[str, Any]]) -> list[str]:
    """Top drifting features with small text histograms: baseline against serving, bin by bin."""
    from skewaudit.render.markdown import _code

    out: list[str] = []
    for block in blocks:
        out += [f"## Data skew: {_code(block['spec'])}", "",
                f"Baseline {_code(block['baseline'])} against serving {_code(block['serving'])}; the features that "
                "drifted most (by PSI):", ""]
        if not block["features"]:
            out += ["No feature drifted.", ""]
        for f in block["features"]:
            scores = ", ".join(f"{k.removeprefix('data.')} {v:g}" for k, v in sorted(f["scores"].items()))
            out += [f"### {_code(f['feature'])} ({f['kind']})", "", f"Scores: {_t(scores)}", ""]
            if f["bins"]:
                out += ["| bin | baseline | serving |", "|---|---|---|"]
                out += [f"| {_c(x['label'])} | `{_bar(x['baseline'])}` {x['baseline']:.1%} | "
                        f"`{_bar(x['serving'])}` {x['serving']:.1%} |" for x in f["bins"]]
                out.append("")
    return out
