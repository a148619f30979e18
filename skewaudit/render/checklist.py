"""Render the check registry: ``skewaudit checks`` (table/markdown/json) and ``skewaudit explain``.

The markdown form is the README's check table; a test keeps them in sync.
Not a report renderer: it has no ``NAME`` and takes ``CheckInfo`` entries.
"""

from __future__ import annotations

import msgspec

from skewaudit.model.finding import CheckInfo


def _md(s: str) -> str:
    return s.replace("|", "\\|").replace("\n", " ")


def render_checklist(infos: list[CheckInfo], fmt: str) -> str:
    infos = sorted(infos, key=lambda i: i.id)
    if fmt == "json":
        return msgspec.json.format(msgspec.json.encode(infos), indent=2).decode() + "\n"
    if fmt == "markdown":
        lines = ["| Check | Default level | What it catches |", "|---|---|---|"]
        lines += [f"| `{i.id}` | {i.level} | {_md(i.title)} |" for i in infos]
        return "\n".join(lines) + "\n"
    width = max(len(i.id) for i in infos)
    return "".join(f"{i.id:<{width}}  {i.level:<7}  {i.title}\n" for i in infos)


def _placeholders(text: str, info: CheckInfo) -> str:
    """Show template variables as <namespace>, <name>…; the flag is known per check."""
    import re

    text = text.replace("{flag}", info.flag or "<engine flag>").replace("{ctx}", "")
    return re.sub(r"\{(namespace|name|kind|kind_lower|pod|container|expected|observed|field|env|image|selector)\}",
                  lambda m: f"<{m.group(1)}>", text)


def render_explain(info: CheckInfo) -> str:
    out = [f"{info.id}  ({info.category}, default level {info.level})", "", info.title, ""]
    if info.why:
        out += ["Why it matters:", f"  {info.why}", ""]
    if info.remediation:
        out += ["What to change:", f"  {_placeholders(info.remediation, info)}", ""]
    if info.next_steps:
        out += ["Next steps:"] + [f"  - {s}" for s in info.next_steps] + [""]
    if info.commands:
        out += ["Commands (names are filled in when a finding is reported):"] + [f"  {_placeholders(c, info)}" for c in info.commands] + [""]
    return "\n".join(out)
