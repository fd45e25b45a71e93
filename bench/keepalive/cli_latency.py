"""CLI latency: the wall time of the commands a pre-commit hook would run, beside Python's own
start-up (the report's last table; ``bench/cli_latency.py`` is a separate, standalone benchmark).
"""

from __future__ import annotations

import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

from .repo import CONFIGS_DIR, REPO_DIR, confgen_command, repo_env


def run_cli_latency(workdir: Path, runs: int) -> list[dict]:
    """Wall time of the commands a pre-commit hook would run, against Python's own start-up."""
    one_server = CONFIGS_DIR / "article.conf"
    commands: list[tuple[str, list[str] | None, str | None]] = [
        ("python -c pass", [sys.executable, "-c", "pass"], None),
        (f"confgen lint {one_server.name}", [*confgen_command(), "lint", str(one_server)], None),
    ]
    # --check needs files on disk to compare with: render a bundled profile first (the first
    # one that renders), then time the check against them.
    rendered = workdir / "cli-render"
    rendered.mkdir(parents=True, exist_ok=True)
    profile = next((candidate for candidate in sorted((REPO_DIR / "profiles").glob("*.y*ml"))
                    if subprocess.run([*confgen_command(), "render", str(candidate), "-o",
                                       str(rendered)], capture_output=True, cwd=REPO_DIR,
                                      env=repo_env()).returncode == 0), None)
    if profile:
        commands.append((f"confgen render --check profiles/{profile.name}",
                         [*confgen_command(), "render", "--check", str(profile), "-o",
                          str(rendered)], None))
    else:
        commands.append(("confgen render --check", None,
                         "no bundled profile under profiles/ renders"))
    gixy = shutil.which("gixy")
    commands.append((f"gixy {one_server.name}", [gixy, str(one_server)] if gixy else None,
                     None if gixy else "gixy not installed"))
    rows = []
    for label, argv, skipped in commands:
        if skipped or argv is None:
            rows.append({"command": label, "skipped": skipped})
            continue
        times = []
        for _ in range(runs):
            started = time.perf_counter()
            result = subprocess.run(argv, capture_output=True, text=True, cwd=REPO_DIR,
                                    env=repo_env())
            times.append(time.perf_counter() - started)
            # 0 = clean, 1 = findings or a diff; anything else, or a Python traceback (which
            # also exits 1), means the command itself failed and its time means nothing.
            if result.returncode not in (0, 1) or "Traceback (most recent call last)" in result.stderr:
                last = (result.stderr.strip() or result.stdout.strip() or "no output").splitlines()[-1]
                rows.append({"command": label,
                             "skipped": f"exit {result.returncode}: {last[:120]}"})
                break
        else:
            rows.append({"command": label, "runs": runs,
                         "median_ms": round(1000 * statistics.median(times), 1),
                         "min_ms": round(1000 * min(times), 1),
                         "max_ms": round(1000 * max(times), 1)})
    return rows
