"""The skew playbook: per-check title, severity, why, remediation and commands.

Hint texts live as data in ``skewaudit/data/playbook.yaml`` (one entry per
check ID) so they can be reviewed and translated without touching check code;
``tests/test_registry.py`` keeps the registry and the playbook in step.
"""

from __future__ import annotations

from functools import lru_cache
from importlib import resources

from skewaudit.model.finding import LEVELS, CheckInfo


@lru_cache(maxsize=1)
def load_playbook() -> dict[str, CheckInfo]:
    """Every playbook entry by check ID, sorted."""
    import yaml

    text = resources.files("skewaudit").joinpath("data/playbook.yaml").read_text(encoding="utf-8")
    raw = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    out: dict[str, CheckInfo] = {}
    for cid, e in sorted(raw.items()):
        if e.get("level") not in LEVELS:
            raise ValueError(f"playbook entry {cid}: level must be one of {LEVELS}")
        out[cid] = CheckInfo(id=cid, category=cid.split(".", 1)[0], title=e["title"], level=e["level"],
                             why=e.get("why", ""), remediation=e.get("remediation", ""),
                             next_steps=list(e.get("next_steps", [])), commands=list(e.get("commands", [])),
                             aliases=list(e.get("aliases", [])), baseline_only=bool(e.get("baseline_only")),
                             flag=str(e.get("flag", "")))
    return out
