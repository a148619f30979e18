"""The incident evidence bundle: what a ticket needs, as one Markdown and one JSON file.

Follows the skew playbook's minimal evidence list: workload identity
(namespace, workload, pods), image tag and digest, container args and env
(already redacted at collection), GPU type and driver, HPA and Service
settings, and the findings (intent and/or baseline) when there are any.
"""

from __future__ import annotations

from typing import Any

import msgspec

from skewaudit.model.finding import PROBLEM_STATUSES, Report, Status
from skewaudit.model.observed import Snapshot, WorkloadObs

BUNDLE_SCHEMA = "skewaudit.io/bundle/v1"


def _gpu(w: WorkloadObs, snap: Snapshot) -> dict[str, Any]:
    from skewaudit import gpus

    per_node: dict[str, dict[str, Any]] = {}
    for p in w.pods:
        if p.node and p.node in snap.nodes and p.node not in per_node:
            per_node[p.node] = {k: f.value for k, f in gpus.node_gpu_facts(snap.nodes[p.node]).items()}
        if p.gpu is not None:
            key = p.gpu.object or p.name
            per_node[key] = ({k: f.value for k, f in gpus.report_gpu_facts(p.gpu).items()} if p.gpu.status == "ok"
                             else {"unavailable": p.gpu.reason})
    return per_node


def _container(c) -> dict[str, Any]:
    engine = None
    if c.engine is not None:
        engine = {"engine": c.engine.engine, "detected_by": c.engine.detected_by,
                  "settings": {k: {"value": f.value, "source": f.prov.where()} for k, f in sorted(c.engine.fields.items())},
                  "unknown_args": list(c.engine.unknown_args), "notes": list(c.engine.notes)}
    return {
        "name": c.name, "image": c.image.ref, "tag": c.image.tag, "digest": c.image.digest,
        "resolved_digest": c.image.resolved_digest, "argv": c.argv, "argv_note": c.argv_note,
        "env": {e.name: e.value if e.value is not None else f"from {e.ref or e.source}" for e in c.env},
        "requests": dict(c.requests), "limits": dict(c.limits), "engine": engine,
    }


def build(snap: Snapshot, report: Report | None) -> dict[str, Any]:
    """The bundle as plain data (the JSON file)."""
    workloads = []
    for w in snap.workloads:
        current = [p for p in w.pods if p.current]
        containers = (current[0].containers if current else w.template.containers)
        workloads.append({
            "kind": w.kind, "namespace": w.namespace, "name": w.name,
            "pods": [{"name": p.name, "node": p.node, "revision": p.revision, "current": p.current, "phase": p.phase}
                     for p in w.pods],
            "old_revisions": list(w.old_revisions),
            "containers": [_container(c) for c in containers],
            "gpu": _gpu(w, snap),
            "hpa": msgspec.to_builtins(w.hpa) if w.hpa else None,
            "services": msgspec.to_builtins(w.services),
            "replicas": w.replicas.value if w.replicas else None,
        })
    findings = []
    if report is not None:
        findings = [msgspec.to_builtins(r) for r in report.results
                    if r.status in (*PROBLEM_STATUSES, Status.UNVERIFIABLE)]
    return {"schema": BUNDLE_SCHEMA, "collected_at": snap.collected_at, "source": snap.source,
            "context": snap.context, "skewaudit_version": snap.skewaudit_version,
            "baseline": report.baseline if report else None, "workloads": workloads, "findings": findings,
            "collection_issues": msgspec.to_builtins(snap.issues)}


def _md_cell(v: Any) -> str:
    return str(v).replace("|", "\\|").replace("\n", " ") if v is not None else "—"


def markdown(data: dict[str, Any]) -> str:
    """The bundle as a Markdown document for an incident ticket."""
    out = [f"# skewaudit evidence bundle", "",
           f"- collected: {data['collected_at']} from {data['source']}"
           + (f" (context {data['context']})" if data.get("context") else ""),
           f"- skewaudit {data['skewaudit_version']}" + (f"; baseline {data['baseline']}" if data.get("baseline") else ""),
           ""]
    for w in data["workloads"]:
        out += [f"## {w['kind']} {w['namespace'] + '/' if w['namespace'] else ''}{w['name']}", ""]
        if w["pods"]:
            out += [f"Pods ({len(w['pods'])}):", ""] + [
                f"- {p['name']} on {p['node'] or '?'} (revision {p['revision'] or '?'}"
                f"{'' if p['current'] else ', OLD'})" for p in w["pods"]] + [""]
        if w["old_revisions"]:
            out += [f"Rollout in progress: old revisions {', '.join(w['old_revisions'])}", ""]
        for c in w["containers"]:
            out += [f"### Container {c['name']}", "", f"- image: `{c['image']}`",
                    f"- digest: `{c['resolved_digest'] or c['digest'] or 'not resolved'}`"]
            if c["argv"] is not None:
                out += ["- args:", "", "```", " ".join(c["argv"]), "```", ""]
            elif c["argv_note"]:
                out += [f"- args: {c['argv_note']}"]
            if c["engine"]:
                e = c["engine"]
                out += ["", f"Engine **{e['engine']}** ({e['detected_by']}):", "", "| setting | value | source |",
                        "|---|---|---|"]
                out += [f"| {k} | {_md_cell(v['value'])} | {_md_cell(v['source'])} |" for k, v in e["settings"].items()]
                out += [""] + [f"- note: {n}" for n in e["notes"]]
            if c["env"]:
                out += ["", "| env | value |", "|---|---|"] + [f"| {k} | {_md_cell(v)} |" for k, v in sorted(c["env"].items())]
            out += ["", f"- requests: {c['requests'] or '—'}", f"- limits: {c['limits'] or '—'}", ""]
        if w["gpu"]:
            out += ["### GPU", "", "| where | class | product | driver | CUDA | memory MiB |", "|---|---|---|---|---|---|"]
            for where, g in sorted(w["gpu"].items()):
                out.append(f"| {where} | {_md_cell(g.get('class'))} | {_md_cell(g.get('product'))} | "
                           f"{_md_cell(g.get('driver_version'))} | {_md_cell(g.get('cuda_driver_version'))} | "
                           f"{_md_cell(g.get('memory_mib'))} |" if "unavailable" not in g else
                           f"| {where} | unavailable: {_md_cell(g['unavailable'])} | | | | |")
            out.append("")
        hpa = w["hpa"]
        out += ["### Scaling and serving", "",
                f"- replicas: {w['replicas'] if w['replicas'] is not None else '—'}",
                f"- HPA: {hpa['name']} min {hpa.get('min_replicas')} max {hpa.get('max_replicas')} on "
                f"{', '.join(hpa.get('metrics') or ['CPU (default)'])}" if hpa else "- HPA: none found"]
        out += [f"- Service {s['name']}: " + ", ".join(f"{p['port']}->{p.get('target_port')}" for p in s.get("ports", []))
                for s in w["services"]] + [""]
    if data["findings"]:
        out += ["## Findings", "", "| check | status | level | target | intended | running | message |",
                "|---|---|---|---|---|---|---|"]
        for r in data["findings"]:
            running = ", ".join(_md_cell(e.get("value")) for e in r.get("observed", []))
            t = r["target"]
            out.append(f"| {r['check']} | {r['status']} | {r['level']} | {t.get('kind')}/{t.get('name')} | "
                       f"{_md_cell(r.get('expected'))} | {running or '—'} | {_md_cell(r['message'])} |")
        out.append("")
    if data["collection_issues"]:
        out += ["## Could not collect", ""] + [f"- {i['scope']}: {i['message']}" for i in data["collection_issues"]] + [""]
    return "\n".join(out)
