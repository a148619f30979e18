"""One side of a data comparison from what the user named: a profile file, or data to profile now."""

from __future__ import annotations

from pathlib import Path

from skewaudit.dataskew import readers
from skewaudit.dataskew.compare import Side

PROFILE_SUFFIXES = (".profile", ".profile.json")


def is_profile(path: str) -> bool:
    return path != "-" and path.lower().endswith(PROFILE_SUFFIXES)


def load_side(paths: list[str], *, columns: list[str] | None = None, kinds: dict[str, str] | None = None,
              sample: float | None = None, seed: int = 0, input_format: str | None = None,
              base_dir: Path | None = None, jobs: int = 1, tokenizer: str | None = None) -> Side:
    """A profile file is loaded; anything else is profiled now (several paths form one dataset)."""
    from skewaudit.dataskew import store
    from skewaudit.dataskew.profile import merge
    from skewaudit.dataskew.run import profile_sources

    resolved = [p if p == "-" or base_dir is None or Path(p).is_absolute() else str(base_dir / p) for p in paths]
    profiles = [p for p in resolved if is_profile(p)]
    data = [p for p in resolved if not is_profile(p)]
    parts = [store.load(p) for p in profiles]
    if data:
        parts.append(profile_sources([readers.resolve(p, input_format) for p in data], columns=columns,
                                     kinds=kinds, sample=sample, seed=seed, jobs=jobs, tokenizer=tokenizer))
    profile = parts[0] if len(parts) == 1 else merge(parts)
    return Side(profile=profile, label=", ".join(paths))
