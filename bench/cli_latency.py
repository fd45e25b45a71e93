"""What a person waits for: the whole `confgen` process, start-up included, as pre-commit and an
editor's save hook run it. Each command runs --runs times (interleaved, so noise hits all alike);
the table gives the median and the spread (min..max) in ms, beside `python -c pass` and
`python -c "import crossplane"` measured in the same run. Then, in the same run, `confgen lint`
(the API, its work alone) against `crossplane.parse` on generated configs of 5k and 20k servers
(bench/lint_speed.py's configs and measurement), and each row against issue 24's goal.

    python bench/cli_latency.py               # 11 runs each, big configs 1 round each
    python bench/cli_latency.py --runs 21 --big-rounds 3
    python bench/cli_latency.py --no-big      # start-up only (~10 s)

Python's bytecode cache matters here: with PYTHONDONTWRITEBYTECODE set (as in some sandboxes),
every run compiles confgen's modules again. The script says which is in force.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
ONE_SERVER = """events {}
http {
    upstream app { server 127.0.0.1:8000; keepalive 16; }
    server {
        listen 80;
        location / { proxy_pass http://app; proxy_http_version 1.1; proxy_set_header Connection ""; }
    }
}
"""
# The pair a pre-commit hook usually lints: the nginx file with the gunicorn.conf.py beside it.
GUNICORN = "bind = '127.0.0.1:8000'\nworker_class = 'gthread'\nthreads = 4\nkeepalive = 75\n"


def commands(work: Path) -> list[tuple[str, list[str]]]:
    confgen = [sys.executable, "-m", "confgen"]
    return [
        ("python -c pass", [sys.executable, "-c", "pass"]),
        ("python -c 'import crossplane'", [sys.executable, "-c", "import crossplane"]),
        ("confgen lint (one server, text)", [*confgen, "lint", str(work / "nginx.conf")]),
        ("confgen lint --format json", [*confgen, "lint", str(work / "nginx.conf"), "--format", "json"]),
        ("confgen lint (with gunicorn.conf.py beside it)", [*confgen, "lint", str(work / "pair" / "nginx.conf")]),
        ("confgen render --stdout (with its self-check)", [*confgen, "render", str(REPO / "profiles" / "fastapi-vps.yaml"),
                                                          "--stdout"]),
    ]


# Issue 24's goals: whole-process milliseconds, and confgen over crossplane.parse on big configs.
GOALS_MS = {"confgen lint (one server, text)": 100, "confgen lint --format json": 100,
            "confgen render --stdout (with its self-check)": 200}
GOAL_RATIO = 1.2
BIG_SIZES = (5000, 20000)


def big_configs(rounds: int) -> list[tuple[str, float, float, float]]:
    """(size, crossplane s, confgen s, ratio) on the generated 5k and 20k server configs."""
    sys.path.insert(0, str(Path(__file__).parent))
    import lint_speed

    options = argparse.Namespace(skip=["confgen-cli", "gixy"], keep=None, seed=7, repeat=rounds, budget=1e9,
                                 nginx_version="1.22.1", gixy_timeout=0)
    report = lint_speed.run([(f"{n} servers", n) for n in BIG_SIZES], options)
    return [(f"{row['servers']} servers ({row['lines']} lines)", row["tools"]["crossplane"]["seconds"],
             row["tools"]["confgen"]["seconds"], ratios["confgen_over_crossplane"])
            for row, ratios in zip(report["sizes"], report["ratios"])]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=11)
    parser.add_argument("--big-rounds", type=int, default=1, help="rounds per big config (default 1)")
    parser.add_argument("--no-big", action="store_true", help="leave out the 5k/20k server configs")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        (work / "nginx.conf").write_text(ONE_SERVER)
        (work / "pair").mkdir()
        (work / "pair" / "nginx.conf").write_text(ONE_SERVER)
        (work / "pair" / "gunicorn.conf.py").write_text(GUNICORN)
        table = commands(work)
        times: dict[str, list[float]] = {name: [] for name, _ in table}
        for name, command in table:  # warm the bytecode cache and the page cache once
            subprocess.run(command, capture_output=True, cwd=work)
        for _ in range(options.runs):
            for name, command in table:
                started = time.perf_counter()
                subprocess.run(command, capture_output=True, cwd=work)
                times[name].append((time.perf_counter() - started) * 1000)
    cache = "off (PYTHONDONTWRITEBYTECODE)" if os.environ.get("PYTHONDONTWRITEBYTECODE") else "on"
    print(f"cli latency: {time.strftime('%Y-%m-%dT%H:%M:%S%z')}, {os.cpu_count()} CPUs, load "
          f"{[round(x, 2) for x in os.getloadavg()]}, Python {sys.version.split()[0]}, bytecode cache {cache}, "
          f"{options.runs} runs each\n")
    print("| command | median ms | min..max ms | goal |")
    print("|---|---|---|---|")
    for name, values in times.items():
        goal = GOALS_MS.get(name)
        met = "" if goal is None else f"<= {goal} ms {'met' if statistics.median(values) <= goal else 'NOT met'}"
        print(f"| {name} | {statistics.median(values):.0f} | {min(values):.0f}..{max(values):.0f} | {met} |")
    if options.no_big:
        return
    print(f"\nconfgen lint (API, the work alone) against crossplane.parse, median of {options.big_rounds} round(s):\n")
    print("| config | crossplane.parse s | confgen lint s | ratio | goal |")
    print("|---|---|---|---|---|")
    for size, crossplane, confgen, ratio in big_configs(options.big_rounds):
        print(f"| {size} | {crossplane:.2f} | {confgen:.2f} | {ratio:.2f}x | <= {GOAL_RATIO}x "
              f"{'met' if ratio <= GOAL_RATIO else 'NOT met'} |")


if __name__ == "__main__":
    main()
