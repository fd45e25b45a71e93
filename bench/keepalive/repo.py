"""The checkout the harness runs from: its directories, and confgen run from it as a user runs it.

This checkout's confgen comes first on ``sys.path`` (the package's ``__init__`` imports this module
before any other, so every ``import confgen`` below finds it) and on the ``PYTHONPATH`` of every
``confgen`` command the harness runs.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent.parent
REPO_DIR = BENCH_DIR.parent
CONFIGS_DIR = BENCH_DIR / "configs"
if str(REPO_DIR) not in sys.path:
    sys.path.insert(0, str(REPO_DIR))


def confgen_command() -> list[str]:
    return [sys.executable, "-m", "confgen"]


def repo_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_DIR), env.get("PYTHONPATH")]))
    return env
