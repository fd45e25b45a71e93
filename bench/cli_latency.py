"""What a person waits for: the whole `confgen` process, start-up included, as pre-commit and an
editor's save hook run it. Each command runs --runs times (interleaved, so noise hits all alike);
the table gives the median and the spread (min..max) in ms, beside `python -c pass` and
`python -c "import crossplane"` measured in the same run.

    python bench/cli_latency.py               # 11 runs each
    python bench/cli_latency.py --runs 21

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=11)
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
    print("| command | median ms | min..max ms |")
    print("|---|---|---|")
    for name, values in times.items():
        print(f"| {name} | {statistics.median(values):.0f} | {min(values):.0f}..{max(values):.0f} |")


if __name__ == "__main__":
    main()
