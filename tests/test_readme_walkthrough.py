"""The README's --fix walkthrough runs as printed: on a copy of examples/walkthrough/, --diff and
--fix print what the README shows (the lines it shows, not their cut tails)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys

from conftest import REPO


def _shown(readme: str) -> list[str]:
    block = readme.split("$ cp -r examples/walkthrough deploy\n", 1)[1].split("```", 1)[0]
    return [line for line in block.splitlines() if not line.startswith("$ ")]


def test_the_fix_walkthrough_prints_what_the_readme_shows(tmp_path):
    shutil.copytree(REPO / "examples" / "walkthrough", tmp_path / "deploy")
    output = []
    for flag in ("--diff", "--fix"):
        run = subprocess.run([sys.executable, "-m", "confgen", "lint", "deploy/nginx.conf", flag,
                              "--nginx-version", "1.22.1"], cwd=tmp_path, capture_output=True, text=True, timeout=120)
        output += (run.stdout + run.stderr).splitlines()
    for line in _shown((REPO / "README.md").read_text()):
        # The README cuts long lines with "...": what it shows must be there, in order.
        pieces = [piece.strip() for piece in line.split("...") if piece.strip()]
        assert any(_in_order(pieces, printed) for printed in output), line
    assert re.search(r"fixed 4 finding\(s\) in 2 file\(s\)", "\n".join(output))


def _in_order(pieces: list[str], line: str) -> bool:
    position = 0
    for piece in pieces:
        position = line.find(piece, position)
        if position < 0:
            return False
        position += len(piece)
    return True
