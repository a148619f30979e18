"""The check registry, the playbook and the README check table stay in step."""

from __future__ import annotations

import re
from pathlib import Path

from clirun import skewaudit

from skewaudit.checks import all_checks
from skewaudit.playbook import load_playbook

README = Path(__file__).resolve().parent.parent / "README.md"


def test_every_check_has_a_playbook_entry_and_a_docstring():
    checks, book = all_checks(), load_playbook()
    # Data-skew checks are computed by skewaudit.dataskew, not registered per workload.
    assert set(checks) == {cid for cid, info in book.items() if not info.baseline_only and info.category != "data"}
    for cid, fn in checks.items():
        assert fn.__doc__ and fn.__doc__.strip(), f"{cid} has no docstring"
        info = book[cid]
        assert info.title and info.remediation and info.why, cid
        assert info.category == cid.split(".")[0]


def test_check_ids_are_stable_kebab_case():
    for cid in load_playbook():
        assert re.fullmatch(r"(model|runtime|hardware|serving|orchestration|collection|data)\.[a-z0-9]+(-[a-z0-9]+)*", cid)


def test_readme_check_table_is_generated_from_the_registry():
    r = skewaudit("checks", "--format", "markdown")
    assert r.code == 0
    text = README.read_text()
    block = text.split("<!-- checks:start -->\n", 1)[1].split("<!-- checks:end -->", 1)[0]
    assert block == r.out, "README check table is stale: run `make docs`"


def test_every_data_check_is_produced_by_the_data_comparison():
    from skewaudit.dataskew.compare import CHECKS

    assert set(CHECKS) == {cid for cid, info in load_playbook().items() if info.category == "data"}
