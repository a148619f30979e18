"""`skewaudit init`: write a ModelSpec that captures what is running now."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from skewaudit.commands import _options as o

_KINDS = {"deployment": "Deployment", "deploy": "Deployment", "statefulset": "StatefulSet", "sts": "StatefulSet",
          "replicaset": "ReplicaSet", "rs": "ReplicaSet", "pod": "Pod", "job": "Job",
          "inferenceservice": "InferenceService", "isvc": "InferenceService",
          "leaderworkerset": "LeaderWorkerSet", "lws": "LeaderWorkerSet",
          "llminferenceservice": "LLMInferenceService", "llmisvc": "LLMInferenceService",
          "rayservice": "RayService", "nimservice": "NIMService"}


def init(
    from_: Annotated[Optional[str], typer.Option("--from", help="The workload to capture, as KIND/NAME "
                                                  "(deployment/llama, sts/x, isvc/y, lws/z). Default: every serving workload.")] = None,
    output: Annotated[str, typer.Option("--output", "-o", help="Spec file to write (atomically); '-' for stdout.")] = "-",
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing --output file.")] = False,
    manifest: o.Manifest = None,
    snapshot: o.SnapshotIn = None,
    local: o.Local = False,
    pid: o.Pid = None,
    cmdline: o.Cmdline = None,
    kubeconfig: o.Kubeconfig = None,
    context: o.Context = None,
    namespace: o.Namespace = None,
    all_namespaces: o.AllNamespaces = False,
    workers: o.Workers = 4,
    timeout: o.Timeout = 10.0,
    deadline: o.Deadline = 300.0,
    max_input_bytes: o.MaxInputBytes = "256Mi",
    from_eval: Annotated[Optional[str], typer.Option(
        "--from-eval", help="Write the spec from a validation record instead: an lm-evaluation-harness results "
        "JSON file.")] = None,
    model_dir: Annotated[Optional[str], typer.Option(
        "--model-dir", help="With --from-eval: the evaluated model's snapshot directory (config.json, "
        "generation_config.json, tokenizer_config.json; the HF cache path gives the revision).")] = None,
    mlflow_model: Annotated[Optional[str], typer.Option(
        "--mlflow-model", help="With --from-eval (or alone): an MLflow model directory (MLmodel).")] = None,
    name: Annotated[Optional[str], typer.Option("--name", help="With --from-eval: metadata.name of the spec.")] = None,
    from_target: Annotated[Optional[str], typer.Option(
        "--target", help="With --from-eval: the workload that serves the model, NAME or KIND/NAME.")] = None,
) -> None:
    """Capture the running configuration as a ModelSpec: the starting point for making intent explicit.

    With --from-eval/--model-dir/--mlflow-model the spec comes from the validation run instead, each value
    commented with the record field it was read from."""
    import os

    from skewaudit import specgen
    from skewaudit.collect import gather
    from skewaudit.collect.request import Target
    from skewaudit.commands._options import source_request
    from skewaudit.errors import InputError
    from skewaudit.fsutil import write_atomic

    if from_eval or model_dir or mlflow_model:
        if output != "-" and os.path.exists(output) and not force:
            raise InputError(f"{output}: already exists; use --force to overwrite")
        if from_ or manifest or snapshot or local:
            raise InputError("--from-eval writes intent from the validation record; it cannot be combined with "
                             "--from, --manifest, --snapshot or --local")
        from skewaudit.evalintent import record as eval_record
        from skewaudit.evalintent.spec import render as render_eval

        target = from_target
        text = render_eval(eval_record.read(from_eval, model_dir, mlflow_model), name=name, target=target)
        write_atomic(output, text)
        todos = [line.strip() for line in text.splitlines() if line.strip().startswith("# TODO")]
        for t in todos:
            typer.echo(f"init: {t[2:]}", err=True)
        if output != "-":
            typer.echo(f"wrote {output} from the validation record; fill in the TODO lines, then: "
                       f"skewaudit validate {output} --against-eval {from_eval or ''}".rstrip(), err=True)
        return
    targets: tuple = ()
    if from_:
        kind, sep, name = from_.partition("/")
        if not sep or not name or kind.lower() not in _KINDS:
            raise InputError(f"--from {from_!r}: expected KIND/NAME with KIND one of {', '.join(sorted(set(_KINDS)))}")
        targets = (Target(namespace=namespace, kind=_KINDS[kind.lower()], name=name),)
    if output != "-" and os.path.exists(output) and not force:
        raise InputError(f"{output}: already exists; use --force to overwrite")
    snap = gather(source_request(manifest=manifest, snapshot=snapshot, local=local, pid=pid, cmdline=cmdline,
                                 kubeconfig=kubeconfig, context=context, namespace=namespace,
                                 all_namespaces=all_namespaces, workers=workers, timeout=timeout, deadline=deadline,
                                 max_input_bytes=max_input_bytes, targets=targets))
    workloads = list(snap.workloads)
    if targets:
        t = targets[0]
        workloads = [w for w in workloads if w.name == t.name and w.kind in (t.kind, "Process")]
        if not workloads:
            missing = [i.message for i in snap.issues if i.kind == "not-found"]
            raise InputError(missing[0] if missing else f"{from_}: not found in the input")
    if not workloads:
        # An object skipped as malformed may be the one the user meant: say why it was skipped.
        malformed = [i.message for i in snap.issues if i.kind == "malformed"]
        raise InputError("no serving workload found in the input to capture" +
                         (f" ({malformed[0]})" if malformed else ""))
    notes: list[str] = []
    write_atomic(output, specgen.render(workloads, snap, notes))
    for note in notes:
        typer.echo(f"init: {note}", err=True)
    if output != "-":
        typer.echo(f"wrote {output} ({len(workloads)} spec{'s' if len(workloads) != 1 else ''}); review the TODO lines, "
                   f"then: skewaudit validate {output}", err=True)
