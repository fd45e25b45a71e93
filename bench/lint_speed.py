"""How fast and how lean `confgen lint` is on big configs, side by side with crossplane and gixy.

Each size is one config from ``gen_configs.generate`` (a multi-tenant reverse proxy: upstreams
with keep-alive, TLS and plain servers with several locations, shared includes, maps,
comments). On the same files, in interleaved rounds (A B C D A B C D ...), so that noise from
other work on the machine hits every tool alike:

- ``crossplane``: ``crossplane.parse`` alone, as confgen reads (includes followed, comments kept,
  no context or argument checks: confgen checks neither against crossplane's table): the floor
  for any crossplane-based linter. confgen uses crossplane's lexer and builds its own tree;
- ``confgen``: ``confgen.lint`` through the Python API: parse, model, every rule;
- ``confgen-cli``: the ``confgen lint`` command as a pre-commit hook runs it (wall time);
- ``gixy``: gixy-next's command on the same file, when installed (skipped with a note when it
  is not, fails, or runs past ``--gixy-timeout``; not started at a size where its time at the
  previous size, scaled linearly, already passes the timeout: its growth is worse than linear).

Every measurement runs in a fresh process. For crossplane and the API, that child imports
everything and warms up on a tiny config first, then times the work alone; for the commands the
wall time is the whole command, interpreter start included. Memory is ``ru_maxrss`` (peak
resident set) in every case: the child's own for the commands (from ``wait4``); for the
in-process ones also what the work added to the peak above the warmed-up interpreter, which is
what is compared with the size of the files read ("peak / file": issue 8 wants < 10x).

Linearity: each size's median time against the smallest size's, divided by the ratio of their
line counts (1.00 = perfectly linear; issue 8 wants 1x/4x/16x within 20 %).

A size gets up to ``--repeat`` rounds; after the first, another round runs only while the
size's rounds stay within ``--budget`` seconds, so that the default run (1k, 5k, 20k servers)
ends in a few minutes; the table says how many rounds each size got.

    python bench/lint_speed.py                       # 1k, 5k, 20k servers
    python bench/lint_speed.py --quick               # 60, 240, 960 servers (1x 4x 16x), 1 round
    python bench/lint_speed.py --lines 12500,50000,200000   # issue 8's 200k-line case, 1x 4x 16x
    python bench/lint_speed.py --profile             # also: where confgen's time goes (cProfile)
    python bench/lint_speed.py --json
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.metadata
import importlib.util
import json
import os
import platform
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
REPO_DIR = BENCH_DIR.parent
sys.path.insert(0, str(BENCH_DIR))

from gen_configs import generate, servers_for_lines  # noqa: E402

TOOLS = ("crossplane", "confgen", "confgen-cli", "gixy")
IN_PROCESS = ("crossplane", "confgen")
DEFAULT_SIZES = "1000,5000,20000"
QUICK_SIZES = "60,240,960"
# Parse problems: a benchmark of a config that did not parse would time an early exit.
PARSE_FAILURE_RULES = {"syntax-error", "include-not-found"}
TARGET_RATIO = 1.2  # issue 24: on 5k and 20k servers
TARGET_PEAK_PER_FILE = 10
TARGET_LINEARITY = 0.2


# ---------------------------------------------------------------------------------------------
# The child side: one in-process measurement in a fresh interpreter


def _child(kind: str, path: str, nginx_version: str) -> None:
    """Print one JSON line: the work's seconds, the peak RSS before and after it, findings."""
    sys.path.insert(0, str(REPO_DIR))
    with tempfile.TemporaryDirectory(prefix="confgen-warmup-") as scratch:
        tiny = Path(scratch, "nginx.conf")
        tiny.write_text("events {}\nhttp { server { listen 80; location / { return 200; } } }\n")
        work = _work(kind, nginx_version)
        work(str(tiny))   # loads what is imported lazily and compiles regexes: not part of the work
    before = _own_peak_rss()
    start = time.perf_counter()
    outcome = work(path)
    seconds = time.perf_counter() - start
    print(json.dumps({"seconds": seconds, "rss_before": before, "rss_peak": _own_peak_rss(), **outcome}))


def _work(kind: str, nginx_version: str):
    if kind == "crossplane":
        import crossplane

        def parse(path):
            payload = crossplane.parse(path, comments=True, check_ctx=False, check_args=False)
            return {"findings": None, "parse_errors": [e["error"] for e in payload["errors"]]}
        return parse
    if kind == "confgen":
        import confgen

        def lint(path):
            findings = confgen.lint_files([path], nginx_version=nginx_version)
            return {"findings": len(findings),
                    "parse_errors": [f"{f.rule}: {f.message}" for f in findings if f.rule in PARSE_FAILURE_RULES]}
        return lint
    raise ValueError(f"no in-process measurement named {kind!r}")


def _own_peak_rss() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024   # Linux reports KiB


def _child_profile(path: str, nginx_version: str, top: int) -> None:
    """cProfile of one ``confgen.lint`` run: the functions and the files the time goes to."""
    import cProfile
    import pstats

    sys.path.insert(0, str(REPO_DIR))
    lint = _work("confgen", nginx_version)
    with tempfile.TemporaryDirectory(prefix="confgen-warmup-") as scratch:
        Path(scratch, "nginx.conf").write_text("events {}\nhttp { server { listen 80; } }\n")
        lint(str(Path(scratch, "nginx.conf")))
    profiler = cProfile.Profile()
    profiler.runcall(lint, path)
    stats = pstats.Stats(profiler)
    total = stats.total_tt
    by_file: dict[str, float] = {}
    rows = []
    for (file, line, function), (_, calls, own, cumulative, _) in stats.stats.items():
        short = _short_path(file)
        by_file[short] = by_file.get(short, 0.0) + own
        rows.append((own, cumulative, calls, f"{short}:{line}:{function}"))
    print(f"cProfile of confgen.lint on {path}: {total:.2f} s under the profiler (slower than unprofiled)")
    print("\nown time by file:")
    for file, own in sorted(by_file.items(), key=lambda item: -item[1])[:top]:
        print(f"  {own:7.2f} s {100 * own / total:5.1f} %  {file}")
    print("\nfunctions by own time (own s, cumulative s, calls):")
    for own, cumulative, calls, name in sorted(rows, reverse=True)[:top]:
        print(f"  {own:7.2f} {cumulative:7.2f} {calls:9d}  {name}")
    print("\nfunctions by cumulative time:")
    for own, cumulative, calls, name in sorted(rows, key=lambda row: -row[1])[:top]:
        print(f"  {own:7.2f} {cumulative:7.2f} {calls:9d}  {name}")


def _short_path(file: str) -> str:
    for prefix in (str(REPO_DIR) + os.sep, os.path.dirname(os.__file__) + os.sep):
        if file.startswith(prefix):
            return file[len(prefix):]
    return file


# ---------------------------------------------------------------------------------------------
# The parent side


def _run_command(argv: list[str], timeout: float | None = None) -> dict:
    """Run a command to its end: wall seconds, its own peak RSS (``wait4``), exit code, output."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        process = subprocess.Popen(argv, stdout=out, stderr=err, env=_child_env(), start_new_session=True)
        # Popen.wait would reap the child and lose its rusage: a timer stops it, wait4 reaps it.
        timed_out = threading.Event()

        def stop():
            timed_out.set()
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)

        timer = threading.Timer(timeout, stop) if timeout else None
        if timer:
            timer.start()
        try:
            _, status, usage = os.wait4(process.pid, 0)
        finally:
            if timer:
                timer.cancel()
        seconds = time.perf_counter() - start
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return {"seconds": seconds, "rss_peak": usage.ru_maxrss * 1024, "exit": process.returncode,
                "timed_out": timed_out.is_set(),
                "stdout": out.read().decode(errors="replace"), "stderr": err.read().decode(errors="replace")}


def _child_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_DIR), env.get("PYTHONPATH")]))
    env.pop("PYTHONTRACEMALLOC", None)
    return env


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1][:200] if lines else "no output"


def gixy_command() -> list[str] | None:
    """gixy-next's command: the module under this Python when importable, else one on PATH."""
    if importlib.util.find_spec("gixy") is not None:
        return [sys.executable, "-m", "gixy"]
    found = shutil.which("gixy")
    return [found] if found else None


def measure(kind: str, path: Path, options) -> dict:
    """One sample: {"seconds", "rss_peak", ...} or {"note": why there is none}."""
    if kind in IN_PROCESS:
        run = _run_command([sys.executable, str(Path(__file__).resolve()), "--child", kind, str(path),
                            "--nginx-version", options.nginx_version])
        if run["exit"] != 0:
            return {"note": f"exit {run['exit']}: {_last_line(run['stderr'])}"}
        if not run["stdout"].strip():
            return {"note": f"no result: {_last_line(run['stderr'])}"}
        sample = json.loads(run["stdout"].strip().splitlines()[-1])
        if sample["parse_errors"]:
            return {"note": f"did not parse: {sample['parse_errors'][0][:160]}"}
        return {"seconds": sample["seconds"], "rss_peak": sample["rss_peak"],
                "rss_work": sample["rss_peak"] - sample["rss_before"], "findings": sample["findings"]}
    if kind == "confgen-cli":
        run = _run_command([sys.executable, "-m", "confgen", "lint", "--nginx-version", options.nginx_version,
                            "--format", "json", str(path)])
        if run["exit"] not in (0, 1) or "Traceback" in run["stderr"]:
            return {"note": f"exit {run['exit']}: {_last_line(run['stderr'])}"}
        return {"seconds": run["seconds"], "rss_peak": run["rss_peak"], "findings": len(json.loads(run["stdout"]))}
    if kind == "gixy":
        command = gixy_command()
        if command is None:
            return {"note": "gixy-next is not installed (pip install -e '.[bench]')"}
        run = _run_command(command + [str(path)], timeout=options.gixy_timeout)
        if run["timed_out"]:
            return {"note": f"stopped after {options.gixy_timeout:.0f} s (--gixy-timeout)"}
        if run["exit"] not in (0, 1):   # gixy: 0 clean, 1 issues found, 2+ failures
            return {"note": f"exit {run['exit']}: {_last_line(run['stderr'] or run['stdout'])}"}
        return {"seconds": run["seconds"], "rss_peak": run["rss_peak"]}
    raise ValueError(kind)


def run(sizes: list[tuple[str, int]], options, log=lambda message: None) -> dict:
    """``sizes``: (how it was asked for, servers). The report the table and ``--json`` show."""
    tools = [tool for tool in TOOLS if tool not in options.skip]
    rows = []
    with tempfile.TemporaryDirectory(prefix="confgen-lint-speed-") as scratch:
        for label, servers in sizes:
            config = generate(Path(scratch) / f"s{servers}", servers, seed=options.seed)
            if options.keep:
                generate(Path(options.keep) / f"s{servers}", servers, seed=options.seed)
            samples: dict[str, list[dict]] = {tool: [] for tool in tools}
            notes: dict[str, str] = {}
            if "gixy" in tools and rows:
                hopeless = _gixy_hopeless(rows[-1], config.lines, options.gixy_timeout)
                if hopeless:
                    notes["gixy"] = hopeless
            started, rounds = time.perf_counter(), 0
            while rounds < options.repeat:
                round_start = time.perf_counter()
                for tool in tools:
                    if tool in notes:
                        continue   # failed once: it would fail again, and only cost time
                    sample = measure(tool, config.main, options)
                    if "note" in sample:
                        notes[tool] = sample["note"]
                    else:
                        samples[tool].append(sample)
                rounds += 1
                spent, last = time.perf_counter() - started, time.perf_counter() - round_start
                log(f"{servers} servers: round {rounds} took {last:.1f} s")
                if spent + last > options.budget:
                    break
            api, cli = (samples.get(tool) for tool in ("confgen", "confgen-cli"))
            if api and cli and api[0]["findings"] != cli[0]["findings"]:
                notes["confgen-cli"] = (f"reported {cli[0]['findings']} findings, the API "
                                        f"{api[0]['findings']}: not the same work")
            rows.append({
                "asked": label, "servers": config.servers, "lines": config.lines, "bytes": config.bytes,
                "rounds": rounds,
                "tools": {tool: _summary(samples[tool], notes.get(tool)) for tool in tools},
            })
    report = {
        "machine": _machine(),
        "nginx_version": options.nginx_version,
        "repeat": options.repeat,
        "budget_seconds": options.budget,
        "sizes": rows,
    }
    report["ratios"] = [_ratios(row) for row in rows]
    report["linearity"] = _linearity(rows)
    return report


def _gixy_hopeless(previous: dict, lines: int, timeout: float) -> str | None:
    """Why gixy is not worth running at this size, judging by the previous (smaller) one: it
    failed there, or its time there scaled linearly (its growth is worse) passes the timeout."""
    seen = previous["tools"]["gixy"]
    if "seconds" not in seen:
        return f"not run: at {previous['servers']} servers already {seen['note']}"
    estimate = seen["seconds"] * lines / previous["lines"]
    if estimate > timeout:
        return (f"not run: {seen['seconds']:.0f} s at {previous['servers']} servers, so at least "
                f"{estimate:.0f} s here (--gixy-timeout {timeout:.0f})")
    return None


def _summary(samples: list[dict], note: str | None) -> dict:
    if not samples:
        return {"note": note or "no sample"}
    summary = {
        "seconds": statistics.median(s["seconds"] for s in samples),
        "samples": [round(s["seconds"], 4) for s in samples],
        "rss_peak_mb": max(s["rss_peak"] for s in samples) / 2**20,
    }
    if "rss_work" in samples[0]:
        summary["rss_work_mb"] = max(s["rss_work"] for s in samples) / 2**20
    if samples[0].get("findings") is not None:
        summary["findings"] = samples[0]["findings"]
    if note:
        summary["note"] = note
    return summary


def _seconds(row: dict, tool: str) -> float | None:
    return row["tools"].get(tool, {}).get("seconds")


def _ratios(row: dict) -> dict:
    def ratio(a, b):
        top, bottom = _seconds(row, a), _seconds(row, b)
        return top / bottom if top and bottom else None

    work = row["tools"].get("confgen", {}).get("rss_work_mb")
    return {
        "servers": row["servers"],
        "confgen_over_crossplane": ratio("confgen", "crossplane"),
        "cli_over_crossplane": ratio("confgen-cli", "crossplane"),
        "gixy_over_confgen": ratio("gixy", "confgen"),
        "gixy_over_cli": ratio("gixy", "confgen-cli"),
        "confgen_peak_over_file": work * 2**20 / row["bytes"] if work is not None else None,
    }


def _linearity(rows: list[dict]) -> list[dict]:
    """Per size and tool: (time / smallest's time) / (lines / smallest's lines)."""
    if len(rows) < 2:
        return []
    base = rows[0]
    out = []
    for row in rows[1:]:
        scale = row["lines"] / base["lines"]
        entry = {"servers": row["servers"], "lines_ratio": scale}
        for tool in IN_PROCESS:   # the commands' times are dominated by start-up at small sizes
            now, then = _seconds(row, tool), _seconds(base, tool)
            entry[tool] = (now / then) / scale if now and then else None
        out.append(entry)
    return out


def _machine() -> dict:
    def version(name):
        try:
            return importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            return None

    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    return {"cpus": os.cpu_count(), "load_average": [round(x, 2) for x in load] if load else None,
            "python": platform.python_version(), "crossplane": version("crossplane"),
            "gixy": version("gixy-next"), "when": time.strftime("%Y-%m-%dT%H:%M:%S%z")}


def table(report: dict) -> str:
    machine = report["machine"]
    out = [
        f"lint speed: {machine['when']}, {machine['cpus']} CPUs (load {machine['load_average']}), "
        f"Python {machine['python']}, crossplane {machine['crossplane']}, gixy-next {machine['gixy']}, "
        f"--nginx-version {report['nginx_version']}",
        "median of the rounds (interleaved); crossplane and confgen: the work alone in a warm process; "
        "CLI and gixy: wall time of the whole command. MB: peak RSS (ru_maxrss) of each process; "
        "peak/file: what confgen's work added to its peak, over the bytes of the files read.",
        "",
        "| servers | lines | MB | rounds | crossplane s | confgen s | confgen / crossplane | CLI s | gixy s "
        "| gixy / confgen | crossplane MB | confgen MB | CLI MB | gixy MB | confgen peak / file | findings |",
        "|" + "---|" * 16,
    ]
    notes = []
    for row, ratios in zip(report["sizes"], report["ratios"]):
        tools = row["tools"]

        def cell(tool, key, fmt):
            value = tools.get(tool, {}).get(key)
            return "n/a" if value is None else format(value, fmt)

        def ratio(key):
            return "n/a" if ratios[key] is None else f"{ratios[key]:.2f}x"

        out.append(" | ".join([
            f"| {row['servers']}", str(row["lines"]), f"{row['bytes'] / 2**20:.1f}", str(row["rounds"]),
            cell("crossplane", "seconds", ".2f"), cell("confgen", "seconds", ".2f"), ratio("confgen_over_crossplane"),
            cell("confgen-cli", "seconds", ".2f"), cell("gixy", "seconds", ".2f"), ratio("gixy_over_confgen"),
            cell("crossplane", "rss_peak_mb", ".0f"), cell("confgen", "rss_peak_mb", ".0f"),
            cell("confgen-cli", "rss_peak_mb", ".0f"), cell("gixy", "rss_peak_mb", ".0f"),
            ratio("confgen_peak_over_file"), cell("confgen", "findings", "d"),
        ]) + " |")
        notes += [f"- {row['servers']} servers, {tool}: {summary['note']}"
                  for tool, summary in tools.items() if summary.get("note")]
    if report["linearity"]:
        out += ["", "linearity (time ratio / lines ratio against the smallest size; 1.00 = linear):"]
        for entry in report["linearity"]:
            cells = ", ".join(f"{tool} {entry[tool]:.2f}" if entry[tool] is not None else f"{tool} n/a"
                              for tool in IN_PROCESS)
            out.append(f"- {entry['servers']} servers ({entry['lines_ratio']:.1f}x the lines): {cells}")
    if notes:
        out += ["", "skipped:"] + notes
    out += ["", f"Targets: confgen / crossplane <= {TARGET_RATIO}x; confgen peak / file < {TARGET_PEAK_PER_FILE}x "
                f"at 200k lines; linearity within {TARGET_LINEARITY:.0%} of 1.00 at 4x and 16x."]
    return "\n".join(out)


def parse_sizes(options, parser) -> list[tuple[str, int]]:
    def numbers(text, option):
        try:
            values = [int(part) for part in text.split(",") if part.strip()]
        except ValueError:
            parser.error(f"{option}: {text!r} is not a comma-separated list of numbers")
        if not values or min(values) < 1:
            parser.error(f"{option}: give positive numbers")
        return values

    if options.lines:
        return sorted(((f"{n} lines", servers_for_lines(n, seed=options.seed))
                       for n in numbers(options.lines, "--lines")), key=lambda size: size[1])
    sizes = options.sizes or (QUICK_SIZES if options.quick else DEFAULT_SIZES)
    return [(f"{n} servers", n) for n in sorted(numbers(sizes, "--sizes"))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", help=f"servers per config, comma-separated (default {DEFAULT_SIZES})")
    parser.add_argument("--lines", help="instead of --sizes: configs of about these many lines, e.g. 12500,50000,200000")
    parser.add_argument("--repeat", "--rounds", type=int, default=3, help="rounds per size, at most (default 3)")
    parser.add_argument("--budget", type=float, default=60.0,
                        help="seconds per size after which no further round starts (default 60; the first always runs)")
    parser.add_argument("--quick", action="store_true", help=f"sizes {QUICK_SIZES}, 1 round: under ~30 s")
    parser.add_argument("--skip", action="append", default=[], choices=TOOLS, help="leave a tool out (repeatable)")
    parser.add_argument("--gixy-timeout", type=float, default=120.0,
                        help="seconds per gixy run (default 120); a size where it would surely take longer is skipped")
    parser.add_argument("--nginx-version", default="1.22.1", help="target for confgen's rules (default 1.22.1)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--keep", metavar="DIR", help="also write the generated configs into DIR")
    parser.add_argument("--profile", action="store_true",
                        help="after the table, cProfile confgen.lint on the largest size")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--child", nargs=2, metavar=("KIND", "PATH"), help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.child:
        kind, path = options.child
        if kind == "profile":
            _child_profile(path, options.nginx_version, top=25)
        else:
            _child(kind, path, options.nginx_version)
        return
    if options.quick:
        options.repeat = 1
    if options.repeat < 1 or options.budget <= 0 or options.gixy_timeout <= 0:
        parser.error("--repeat, --budget and --gixy-timeout must be positive")
    sizes = parse_sizes(options, parser)
    report = run(sizes, options, log=lambda message: print(message, file=sys.stderr, flush=True))
    print(json.dumps(report, indent=2) if options.json else table(report))
    if options.profile:
        with tempfile.TemporaryDirectory(prefix="confgen-lint-profile-") as scratch:
            config = generate(Path(scratch), sizes[-1][1], seed=options.seed)
            sys.stdout.flush()
            subprocess.run([sys.executable, str(Path(__file__).resolve()), "--child", "profile", str(config.main),
                            "--nginx-version", options.nginx_version], env=_child_env(), check=False,
                           stdout=sys.stderr if options.json else None)


if __name__ == "__main__":
    main()
