"""How fast and how lean `confgen lint` is on big configs, side by side with crossplane and gixy.

For each size (servers in one generated config plus a shared include), in interleaved rounds:

- ``crossplane``: ``crossplane.parse`` alone (includes followed, comments kept, no checks), the
  parser confgen builds on: the floor for any crossplane-based linter;
- ``confgen``: ``confgen.lint`` through the Python API (parse, model, every rule);
- ``confgen-cli``: the ``confgen lint`` command as a pre-commit hook runs it (wall time);
- ``gixy``: gixy-next's command on the same file, when installed.

Each measurement runs in a fresh process, so its peak memory is its own: ``ru_maxrss`` of that
process, and for the in-process ones also tracemalloc's peak of the work itself (from a second,
untimed run: tracing slows allocation), compared with the file size. Linearity compares each size's time with the smallest size's, scaled.

    python bench/lint_speed.py                 # 1k, 5k, 20k servers, 3 rounds
    python bench/lint_speed.py --quick         # 200 and 800 servers, 1 round
    python bench/lint_speed.py --json
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
REPO_DIR = BENCH_DIR.parent

# One measurement in a fresh interpreter: prints "seconds tracemalloc_peak_bytes".
_IN_PROCESS = textwrap.dedent(
    """
    import sys, time, tracemalloc
    sys.path.insert(0, {repo!r})
    kind, path = sys.argv[1], sys.argv[2]
    if kind == "crossplane":
        import crossplane
        work = lambda: crossplane.parse(path, comments=True, check_ctx=False, check_args=False)
    else:
        import confgen, confgen.engine, confgen.rules, confgen.nginx_parse
        work = lambda: confgen.lint([path], nginx_version="1.22")
    start = time.perf_counter()
    work()
    elapsed = time.perf_counter() - start
    # A second run under tracemalloc for the peak: tracing slows allocation, so not timed.
    tracemalloc.start()
    work()
    peak = tracemalloc.get_traced_memory()[1]
    print(elapsed, peak)
    """
)


def generate(directory: Path, servers: int, seed: int = 7) -> Path:
    """A config shaped like a real multi-site deployment: upstreams with keep-alive, servers
    with several locations, a shared include, TLS servers, maps and comments."""
    import random

    rng = random.Random(seed)
    (directory / "mime.types").write_text("types { text/html html; application/json json; }\n")
    snippet = directory / "proxy_common.conf"
    snippet.write_text(
        "# shared proxy settings\n"
        "proxy_http_version 1.1;\n"
        'proxy_set_header Connection "";\n'
        "proxy_set_header Host $host;\n"
        "proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;\n"
        "proxy_set_header X-Forwarded-Proto $scheme;\n"
        "proxy_read_timeout 35s;\n"
    )
    lines = [
        "user www-data;",
        "worker_processes 4;",
        "worker_rlimit_nofile 16384;",
        "events { worker_connections 8192; }",
        "http {",
        "    include mime.types;",
        "    server_tokens off;",
        "    map $http_upgrade $connection_upgrade { default upgrade; '' ''; }",
    ]
    upstreams = max(1, servers // 10)
    for index in range(upstreams):
        lines += [
            f"    upstream app{index} {{",
            f"        server 10.0.{index // 250}.{index % 250 + 1}:8000 max_fails=3 fail_timeout=10s;",
            f"        server 10.1.{index // 250}.{index % 250 + 1}:8000 max_fails=3 fail_timeout=10s;",
            "        keepalive 32;",
            "    }",
        ]
    for index in range(servers):
        upstream = rng.randrange(upstreams)
        tls = index % 3 == 0
        lines.append("    server {")
        lines.append(f"        listen {'443 ssl' if tls else '80'};")
        lines.append(f"        server_name site{index}.example.com;  # customer {index}")
        if tls:
            lines += [f"        ssl_certificate /etc/ssl/site{index}.pem;",
                      f"        ssl_certificate_key /etc/ssl/site{index}.key;"]
        lines += [
            "        location / {",
            f"            proxy_pass http://app{upstream};",
            f"            include {snippet.name};",
            "        }",
            "        location /static/ {",
            f"            alias /srv/site{index}/static/;",
            "            expires 7d;",
            "        }",
            "        location = /health { return 200; }",
            "    }",
        ]
    lines.append("}")
    main = directory / "nginx.conf"
    main.write_text("\n".join(lines) + "\n")
    return main


def _run_child(argv: list[str]) -> tuple[float, int, str]:
    """Run a command; (wall seconds, its own peak RSS in bytes, stdout)."""
    import time

    start = time.perf_counter()
    process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    out = process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    elapsed = time.perf_counter() - start
    return elapsed, usage.ru_maxrss * 1024, out


def measure(kind: str, path: Path) -> dict | None:
    if kind in ("crossplane", "confgen"):
        wall, rss, out = _run_child([sys.executable, "-c", _IN_PROCESS.format(repo=str(REPO_DIR)), kind, str(path)])
        try:
            seconds, peak = out.split()
        except ValueError:
            return None
        return {"seconds": float(seconds), "rss": rss, "traced_peak": int(peak)}
    if kind == "confgen-cli":
        wall, rss, _ = _run_child([sys.executable, "-m", "confgen", "lint", "--nginx-version", "1.22", "-q", str(path)])
        return {"seconds": wall, "rss": rss, "traced_peak": None}
    if kind == "gixy":
        gixy = shutil.which("gixy")
        if not gixy:
            return None
        wall, rss, _ = _run_child([gixy, str(path)])
        return {"seconds": wall, "rss": rss, "traced_peak": None}
    raise ValueError(kind)


def run(sizes: list[int], rounds: int) -> dict:
    kinds = ["crossplane", "confgen", "confgen-cli", "gixy"]
    results: dict[int, dict] = {}
    with tempfile.TemporaryDirectory(prefix="confgen-lint-speed-") as scratch:
        for servers in sizes:
            directory = Path(scratch) / f"s{servers}"
            directory.mkdir()
            main = generate(directory, servers)
            text = main.read_text()
            samples: dict[str, list[dict]] = {kind: [] for kind in kinds}
            for _ in range(rounds):
                for kind in kinds:  # interleaved: machine noise hits every tool alike
                    sample = measure(kind, main)
                    if sample:
                        samples[kind].append(sample)
            results[servers] = {
                "lines": text.count("\n"),
                "bytes": len(text.encode()),
                **{kind: _summary(values) for kind, values in samples.items()},
            }
    return {"rounds": rounds, "sizes": results}


def _summary(values: list[dict]) -> dict | None:
    if not values:
        return None
    traced = [v["traced_peak"] for v in values if v["traced_peak"] is not None]
    return {
        "seconds": statistics.median(v["seconds"] for v in values),
        "rss_mb": max(v["rss"] for v in values) / 2**20,
        "traced_peak_mb": max(traced) / 2**20 if traced else None,
    }


def table(report: dict) -> str:
    sizes = report["sizes"]
    smallest = min(sizes)
    out = [
        f"lint speed: median of {report['rounds']} interleaved rounds; seconds are work time "
        "(in-process) or wall time (CLI, gixy)",
        "",
        "| servers | lines | MB | crossplane s | confgen s | confgen / crossplane | CLI s | gixy s | gixy / confgen "
        "| confgen peak RSS MB | confgen traced peak / file size | linearity vs smallest |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    base = sizes[smallest]
    for servers, row in sizes.items():
        cp, cg, cli, gx = row["crossplane"], row["confgen"], row["confgen-cli"], row["gixy"]
        mb = row["bytes"] / 2**20
        linear = (cg["seconds"] / base["confgen"]["seconds"]) / (row["bytes"] / base["bytes"]) if cg and base["confgen"] else None
        gixy_cells = f"{gx['seconds']:.2f} | {gx['seconds'] / cg['seconds']:.2f}x" if gx else "n/a | n/a"
        out.append(
            f"| {servers} | {row['lines']} | {mb:.1f} | {cp['seconds']:.2f} | {cg['seconds']:.2f} "
            f"| {cg['seconds'] / cp['seconds']:.2f}x | {cli['seconds']:.2f} | {gixy_cells} "
            f"| {cg['rss_mb']:.0f} | {cg['traced_peak_mb'] * 2**20 / row['bytes']:.1f}x | {linear:.2f} |"
        )
    out += ["", "Targets: confgen / crossplane <= 1.5x; traced peak below 10x the file size; "
                "linearity (time per byte against the smallest size) within 1.2."]
    return "\n".join(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,5000,20000", help="servers per config (default 1000,5000,20000)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="200 and 800 servers, 1 round")
    parser.add_argument("--json", action="store_true")
    options = parser.parse_args()
    try:
        sizes = [int(s) for s in options.sizes.split(",") if s.strip()]
    except ValueError:
        parser.error(f"--sizes: {options.sizes!r} is not a list of numbers")
    if options.quick:
        sizes, options.rounds = [200, 800], 1
    if not sizes or min(sizes) < 1 or options.rounds < 1:
        parser.error("--sizes and --rounds must be positive")
    report = run(sorted(sizes), options.rounds)
    print(json.dumps(report, indent=2) if options.json else table(report))


if __name__ == "__main__":
    main()
