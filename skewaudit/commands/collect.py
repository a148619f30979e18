"""`skewaudit collect`: print what is running (the observed facts), with provenance.

The evidence a user reads before trusting a diff: per workload and container
the engine, model, revision, dtype, quantization, max length, parallelism,
GPU class and count and image digest, each with where it came from, then the
collection issues. ``--format json|yaml`` prints the whole snapshot instead.
Targets come from the ModelSpecs given (their ``target`` sections), or from
``--kind/--name/--selector``, which also override the specs' targets; with
neither, every serving workload in scope is collected. Several ``--context``
show a section per context (``json``/``yaml``: a snapshot set); a context that
cannot be read is named there and the exit code is 3.
"""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from skewaudit.commands import completion as _c

from skewaudit.commands import _options as o

FORMATS = ("table", "json", "yaml")


def collect(
    specs: Annotated[Optional[list[str]], typer.Argument(
        help="ModelSpec files or directories ('-' for stdin); their target sections choose the workloads.",
        show_default=False)] = None,
    manifest: o.Manifest = None,
    snapshot: o.SnapshotIn = None,
    local: o.Local = False,
    pid: o.Pid = None,
    cmdline: o.Cmdline = None,
    kubeconfig: o.Kubeconfig = None,
    context: o.Contexts = None,
    namespace: o.Namespace = None,
    all_namespaces: o.AllNamespaces = False,
    exec_gpu: o.ExecGpu = False,
    probe: o.Probe = False,
    endpoint: o.Endpoint = None,
    record: Annotated[Optional[str], typer.Option(
        "--record", help="Write every probe reply (redacted) to FILE; replay it with SKEWAUDIT_RUNTIME_REPLAY=FILE. "
        "Implies --probe.")] = None,
    workers: o.Workers = 4,
    timeout: o.Timeout = 10.0,
    deadline: o.Deadline = 300.0,
    max_input_bytes: o.MaxInputBytes = "256Mi",
    kind: Annotated[Optional[str], typer.Option(
        "--kind", help="Workload kind: Deployment, StatefulSet, ReplicaSet, Job, Pod, InferenceService, "
                        "LeaderWorkerSet, Rollout, LLMInferenceService, RayService, NIMService.")] = None,
    name: Annotated[Optional[str], typer.Option("--name", help="Workload name.")] = None,
    selector: Annotated[Optional[str], typer.Option(
        "--selector", "-l", help="Workload or pod-template labels, 'k=v,k2=v2'.")] = None,
    fmt: Annotated[str, typer.Option("--format", autocompletion=_c.choices("table", "json", "yaml"), help="table, json or yaml (json/yaml: the whole snapshot).")] = "table",
    output: Annotated[Optional[str], typer.Option("--output", "-o", help="Write here (atomically) instead of stdout.")] = None,
) -> None:
    """Show what is running: engine, model, dtype, quantization, lengths, parallelism, GPUs, image, with provenance."""
    import sys

    from skewaudit.collect import gather
    from skewaudit.errors import InputError
    from skewaudit.fsutil import write_atomic
    from skewaudit.render.facts import render

    if fmt not in FORMATS:
        raise InputError(f"--format must be one of {', '.join(FORMATS)}, not {fmt!r}")
    targets = _targets(specs or [], kind, name, _selector(selector))
    if targets and len({t.namespace for t in targets if t.namespace}) > 1 and namespace is None:
        all_namespaces = True   # specs spread over namespaces: one cluster-wide list per kind
    from skewaudit import contexts as multi

    source = dict(manifest=manifest, snapshot=snapshot, local=local, pid=pid, cmdline=cmdline,
                  kubeconfig=kubeconfig, context=context, namespace=namespace,
                  all_namespaces=all_namespaces, exec_gpu=exec_gpu, workers=workers, timeout=timeout,
                  deadline=deadline, max_input_bytes=max_input_bytes,
                  targets=tuple(targets), probe=probe, endpoint=endpoint, record=record)
    sides = None
    if multi.several(source):
        sides = multi.collect_sides(multi.contexts_of(source), source,
                                    lambda src: gather(o.source_request(**src)))
        data = _render_sides(sides, fmt)
    else:
        data = render(gather(o.source_request(**multi.single(source))), fmt)
    if output:
        write_atomic(output, data)
    else:
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
    if sides is not None and any(s.snapshot is None for s in sides):
        raise typer.Exit(3)   # the readable contexts are shown; the run is not a pass


def _render_sides(sides: list, fmt: str) -> bytes:
    """Several contexts: a section per context (table), or the snapshot set (json, yaml)."""
    from skewaudit.collect.snapshot import encode_set
    from skewaudit.errors import printable
    from skewaudit.render.facts import render

    if fmt == "table":
        parts = []
        for side in sides:
            head = f"== context {side.name}" + ("" if side.snapshot is not None else
                                                 f": could not be read: {side.reason}") + "\n"
            parts.append(printable(head.rstrip("\n")).encode() + b"\n" +
                         (render(side.snapshot, fmt) if side.snapshot is not None else b""))
        return b"\n".join(parts)
    data = encode_set([s.snapshot for s in sides if s.snapshot is not None],
                      {s.name: s.reason for s in sides if s.snapshot is None})
    if fmt == "yaml":
        import msgspec

        from skewaudit.render.facts import dump_yaml

        return dump_yaml(msgspec.json.decode(data))
    return data


def _selector(text: str | None) -> dict[str, str]:
    from skewaudit.errors import InputError

    out: dict[str, str] = {}
    for part in (text or "").split(","):
        if not part.strip():
            continue
        key, eq, value = part.partition("=")
        if not eq or not key.strip() or value.startswith("="):
            raise InputError(f"--selector: {part!r} is not key=value (only equality selectors are supported)")
        out[key.strip()] = value.strip()
    return out


def _targets(spec_paths: list[str], kind: str | None, name: str | None, selector: dict[str, str]) -> list:
    """Targets from the specs with the flags applied on top, or from the flags alone."""
    from dataclasses import replace

    from skewaudit.collect.request import Target

    if spec_paths:
        from skewaudit.pipeline import load_specs

        targets = [s.spec.target_request() for s in load_specs(spec_paths)]
    elif kind or name or selector:
        targets = [Target()]
    else:
        return []
    over = {k: v for k, v in (("kind", kind), ("name", name), ("selector", selector or None)) if v}
    return [replace(t, **over) for t in targets]
