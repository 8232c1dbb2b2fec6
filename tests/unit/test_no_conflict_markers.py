"""No file of the tree keeps the markers a half-resolved merge leaves behind.

Python would fail to import such a file, but a stylesheet or a page silently drops the
rules around a marker, so a broken merge could ship and pass every other test.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CHECKED = {".py", ".js", ".css", ".html", ".md", ".toml", ".json", ".sh", ".txt", ".yml"}
SKIPPED = {".git", ".venv", "node_modules", "test-output", "__pycache__"}
MARKER = re.compile(r"^(<{7} |>{7} |={7}$)", re.MULTILINE)


def test_no_file_holds_merge_conflict_markers() -> None:
    found = []
    for path in ROOT.rglob("*"):
        if not path.is_file() or path.suffix not in CHECKED:
            continue
        if any(
            part in SKIPPED or part.startswith(".venv") for part in path.relative_to(ROOT).parts
        ):
            continue
        text = path.read_text(errors="replace")
        found += [f"{path.relative_to(ROOT)}:{m.group(0)!r}" for m in MARKER.finditer(text)]
    assert found == []
