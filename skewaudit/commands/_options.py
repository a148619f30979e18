"""Option declarations shared by several commands.

``collect``, ``diff``, ``snapshot``, ``bundle`` and ``init`` all accept the same
source flags; they are declared once here and turned into a
:class:`~skewaudit.collect.request.SourceRequest` by :func:`source_request`.
The report flags (``--format``, ``--output``, ``--fail-on``) of ``diff`` and
``data-diff`` are declared here too, so both commands stay alike.
"""

from __future__ import annotations

import sys
from typing import Annotated, Optional, TypedDict

import typer

from skewaudit.commands import completion as _c

Manifest = Annotated[Optional[list[str]], typer.Option(
    "--manifest", "-f", help="Read rendered manifests instead of a cluster: file, directory or '-' for stdin "
    "(multi-document YAML, kind: List, kubectl get -o yaml|json, helm template output). Repeatable.")]
SnapshotIn = Annotated[Optional[str], typer.Option("--snapshot", help="Audit a snapshot saved by 'skewaudit snapshot'.")]
Local = Annotated[bool, typer.Option("--local", help="Audit the machine/container skewaudit runs in (NVML, env, engine argv).")]
Pid = Annotated[Optional[int], typer.Option("--pid", help="Local mode: read the engine's argv and env from /proc/PID.")]
Cmdline = Annotated[Optional[str], typer.Option("--cmdline", help="Local mode: the engine command line, as text.")]
Kubeconfig = Annotated[Optional[str], typer.Option("--kubeconfig", envvar="KUBECONFIG", help="Path to a kubeconfig file.")]
Context = Annotated[Optional[str], typer.Option("--context", autocompletion=_c.kube_contexts, help="Kubeconfig context to use (overrides the spec's target.context).")]
Contexts = Annotated[Optional[list[str]], typer.Option(
    "--context", autocompletion=_c.kube_contexts, help="Kubeconfig context to use (overrides the spec's "
    "target.context). Repeat for several clusters in one run: one report grouped by context, the same specs "
    "audited in each, replicas compared across them.")]
Namespace = Annotated[Optional[str], typer.Option("--namespace", "-n", help="Namespace: overrides the spec's target.namespace (default: the spec's, else the context's).")]
AllNamespaces = Annotated[bool, typer.Option("--all-namespaces", "-A", help="Look in every namespace.")]
ExecGpu = Annotated[bool, typer.Option("--exec", help="Run nvidia-smi in each target pod for GPU facts (needs get, and create on clusters 1.30+, on pods/exec).")]
Probe = Annotated[bool, typer.Option(
    "--probe", help="Also ask each engine what it runs (read-only GETs on its HTTP endpoints through the pod proxy; "
    "needs get on pods/proxy; --local: 127.0.0.1).")]
Endpoint = Annotated[Optional[str], typer.Option(
    "--endpoint", help="Probe the engine at this URL (a server outside Kubernetes); implies --local and --probe.")]
Workers = Annotated[int, typer.Option("--workers", min=1, max=32, help="Concurrent API list calls.")]
Timeout = Annotated[float, typer.Option("--timeout", min=0.1, help="Seconds to wait for the cluster to connect "
                                        "and to send each whole answer (and for an exec credential plugin).")]
Deadline = Annotated[float, typer.Option("--deadline", min=0, envvar="SKEWAUDIT_DEADLINE", help="Seconds the whole "
                                         "run may take; then exit 3 naming what it waited for. 0: no deadline.")]
MaxInputBytes = Annotated[str, typer.Option("--max-input-bytes", envvar="SKEWAUDIT_MAX_INPUT_BYTES", help="Largest "
                                            "manifest file, stdin, snapshot, data profile or single API answer read (e.g. 512Mi).")]


# --- report flags (diff, data-diff) -------------------------------------------------------
Formats = Annotated[Optional[list[str]], typer.Option(
    "--format", "-F", autocompletion=_c.REPORT_FORMATS, help="table, json, sarif, junit or markdown. Repeat with "
    "--output to write several.")]
Outputs = Annotated[Optional[list[str]], typer.Option(
    "--output", "-o", help="Write the matching --format here (atomically). Repeatable, paired in order.")]
FailOn = Annotated[str, typer.Option(
    "--fail-on", envvar="SKEWAUDIT_FAIL_ON",
    help="Which drift exits 1: drift (any level, the default) | error | warning | info (that level or above) "
    "| never (report only).")]


def apply_input_limit(max_input_bytes: str | int | None) -> None:
    """Set the run's one byte limit from ``--max-input-bytes`` (commands without a source of running facts)."""
    from skewaudit import limits

    # Always set: the limit is process state, and a run without the flag must not inherit an earlier
    # run's (an embedding caller or the in-process test runner calls the CLI more than once).
    limits.set_max_input_bytes(limits.parse_size(max_input_bytes) if max_input_bytes is not None
                               else limits.DEFAULT_MAX_INPUT_BYTES)


SOURCE_KEYS = ("manifest", "snapshot", "local", "pid", "cmdline", "kubeconfig", "context", "namespace",
               "all_namespaces", "exec_gpu", "workers", "timeout", "deadline", "max_input_bytes", "probe",
               "endpoint")


class SourceArgs(TypedDict, total=False):
    """The source flags, by name and type, as ``source_request`` takes them."""

    manifest: Optional[list[str]]
    snapshot: Optional[str]
    local: bool
    pid: Optional[int]
    cmdline: Optional[str]
    kubeconfig: Optional[str]
    context: Optional[str]
    namespace: Optional[str]
    all_namespaces: bool
    exec_gpu: bool
    workers: int
    timeout: float
    deadline: Optional[float]
    max_input_bytes: Optional[str]
    probe: bool
    endpoint: Optional[str]


def source_args(values: dict) -> dict:
    """The source flags out of a command's parameters (``source_args(locals())``)."""
    return {k: values[k] for k in SOURCE_KEYS if k in values}


def source_request(*, manifest: Optional[list[str]] = None, snapshot: Optional[str] = None, local: bool = False,
                   pid: Optional[int] = None, cmdline: Optional[str] = None, kubeconfig: Optional[str] = None,
                   context: Optional[str] = None, namespace: Optional[str] = None, all_namespaces: bool = False,
                   exec_gpu: bool = False, workers: int = 4, timeout: float = 10.0, deadline: float | None = None,
                   max_input_bytes: str | int | None = None, targets: tuple = (),
                   probe: bool = False, endpoint: Optional[str] = None, record: Optional[str] = None,
                   env_names: tuple = ()):
    """Build the SourceRequest for these flags; rejects contradictory ones. Also
    applies the run-wide bounds: the byte limit and (re-armed from the flag) the deadline."""
    from skewaudit import deadline as run_deadline
    from skewaudit.collect.request import SourceRequest
    from skewaudit.errors import InputError

    apply_input_limit(max_input_bytes)
    if deadline is not None:
        run_deadline.arm(deadline)

    chosen = [n for n, on in (("--manifest", bool(manifest)), ("--snapshot", bool(snapshot)), ("--local", local)) if on]
    if len(chosen) > 1:
        raise InputError(f"{' and '.join(chosen)} cannot be combined: choose one source of running facts")
    if (pid is not None or cmdline or endpoint) and not local:
        local = True
    if endpoint and not endpoint.startswith(("http://", "https://")):
        raise InputError(f"--endpoint must be an http:// or https:// URL, not {endpoint!r}")
    if endpoint or record:
        probe = True
    if probe and (manifest or snapshot):
        raise InputError(f"--probe asks running engines: it needs a live cluster or --local, not "
                         f"{'--manifest' if manifest else '--snapshot'}")
    return SourceRequest(
        manifests=tuple(manifest or ()), snapshot=snapshot, local=local, pid=pid, cmdline=cmdline,
        kubeconfig=kubeconfig, context=context, namespace=namespace, all_namespaces=all_namespaces,
        targets=tuple(targets), exec_gpu=exec_gpu, workers=workers, timeout=timeout,
        probe=probe, endpoint=endpoint, record=record,
        progress=sys.stderr.isatty(), env_names=tuple(env_names),
    )
