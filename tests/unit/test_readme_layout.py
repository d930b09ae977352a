"""The README's layout section names what the repository holds: every top-level entry and every
module of the package, so that a new module or directory cannot land undescribed."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# Tool and packaging files every Python repository has; the layout describes the product.
UNDESCRIBED = {"Makefile", "README.md", "pytest.ini", "constraints.txt"}


def layout() -> str:
    text = (ROOT / "README.md").read_text()
    return text[text.index("## Layout\n") : text.index("\n## ", text.index("## Layout\n") + 1)]


def named(entry: str, section: str) -> bool:
    return re.search(rf"(?<![\w.]){re.escape(entry)}(?![\w])", section) is not None


def test_every_module_of_the_package_is_named_in_the_layout():
    section = layout()
    modules = sorted(p.stem for p in (ROOT / "include" / "campaigns").glob("*.py") if p.stem != "__init__")
    assert modules and [m for m in modules if not named(m, section)] == []


def test_every_top_level_entry_is_named_in_the_layout():
    section = layout()
    entries = sorted(p.name for p in ROOT.iterdir() if not p.name.startswith((".", "__")) and p.name not in UNDESCRIBED)
    missing = [
        e for e in entries if not (named(e, section) or (e.startswith("requirements") and "requirements*" in section))
    ]
    assert entries and missing == []


def test_the_layout_names_nothing_the_repository_does_not_hold():
    section = layout()
    paths = re.findall(r"^    ([\w./<>*-]+/?)\s", section, flags=re.M)
    assert paths
    for path in paths:
        if "<" in path or "*" in path:
            continue
        assert (ROOT / path).exists(), f"the layout names {path}, which is not in the repository"
