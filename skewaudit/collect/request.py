"""What to collect: the source (live, manifests, snapshot, local) and the targets.

Built by the CLI from flags and from the ModelSpecs' ``target`` sections, and
handed to :func:`skewaudit.collect.gather`. Plain dataclasses so that building
one costs nothing at start-up.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Target:
    """Where one workload runs. Any field may be None (then it does not filter).

    ``kind`` is the workload kind as Kubernetes spells it (Deployment,
    StatefulSet, InferenceService, …); ``selector`` matches the workload's own
    labels or its pod template labels.
    """

    namespace: str | None = None
    kind: str | None = None
    name: str | None = None
    selector: dict[str, str] = field(default_factory=dict)
    container: str | None = None
    context: str | None = None
    # a spec without target name or selector audits the workload named like the spec: the
    # collector uses this name only to say "found, but of a kind this version cannot read"
    fallback_name: str | None = None


@dataclass(frozen=True)
class SourceRequest:
    """One collection. Exactly one of snapshot / local / manifests / live applies,
    in that order of precedence; live is the default."""

    manifests: tuple[str, ...] = ()      # files, directories, or "-" for stdin
    snapshot: str | None = None
    local: bool = False
    pid: int | None = None               # local mode: read /proc/PID/{cmdline,environ}
    cmdline: str | None = None           # local mode: an engine command line given as text
    proc_root: str = "/proc"
    kubeconfig: str | None = None
    context: str | None = None
    namespace: str | None = None         # -n; None means the kubeconfig's namespace
    all_namespaces: bool = False         # -A
    targets: tuple[Target, ...] = ()     # empty: every serving workload in scope
    exec_gpu: bool = False               # --exec: nvidia-smi in each pod (needs pods/exec)
    probe: bool = False                  # --probe: ask each engine what it runs (pods/proxy, or 127.0.0.1)
    endpoint: str | None = None          # --endpoint URL: probe this engine (local mode)
    record: str | None = None            # --record FILE: write the probe round's replies there
    workers: int = 4                     # bounded concurrency for live list calls
    timeout: float = 10.0                # connect/read timeout, seconds
    progress: bool = False               # show progress on stderr (only on a terminal)
    env_names: tuple[str, ...] = ()      # local mode: env vars the specs declare (kept besides serving's own)

    @property
    def mode(self) -> str:
        if self.snapshot:
            return "snapshot"
        if self.local:
            return "local"
        if self.manifests:
            return "manifest"
        return "live"
