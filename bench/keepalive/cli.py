"""The command line: options, the run (a work dir, the configurations, then each experiment the
options ask for), and the exit: the report on stdout, one-line errors on stderr, every process
stopped whatever happens (also on Ctrl-C, SIGTERM and SIGHUP).
"""

from __future__ import annotations

import argparse
import atexit
import json
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path

from confgen.errors import ConfgenError

from .ablation import ABLATION_NAMES, ablation_configurations, run_ablation
from .adapt import RunLayout, nginx_conf_dir
from .cli_latency import run_cli_latency
from .configurations import CONFIGURATIONS, ENDPOINTS, RENDERED, load_configurations
from .processes import ProcessRegistry
from .race import run_idle_race
from .report import format_report, log, machine_info
from .throughput import run_throughput


def _exit_on_signal(signum, frame):
    # SystemExit unwinds through every ``finally``, which is where processes are stopped.
    raise SystemExit(128 + signum)


def run_layout(workdir: Path, name: str, options) -> RunLayout:
    """Each configuration's own directory and app socket, so that all can run at once. Sockets
    get short names in one directory: a unix socket path is limited to 107 bytes."""
    sockets = workdir / "sockets"
    sockets.mkdir(parents=True, exist_ok=True)
    index = (CONFIGURATIONS + ABLATION_NAMES).index(name)
    return RunLayout(workdir / name, 0, sockets / f"{index}.sock", options.nginx_workers)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="nginx + gunicorn + FastAPI keep-alive benchmark (see bench/README.md).")
    parser.add_argument("--quick", action="store_true",
                        help="a run under two minutes: 2 rounds of 2 s, a short idle race, 5 CLI runs")
    parser.add_argument("--json", action="store_true", help="print the report as JSON on stdout")
    parser.add_argument("--rounds", type=int, help="rounds over all configurations (default 3)")
    parser.add_argument("--duration", type=int, help="seconds of wrk per endpoint (default 6)")
    parser.add_argument("--warmup", type=int, help="seconds of wrk after each start, before the "
                        "measurements (default 1; 0: none)")
    parser.add_argument("--connections", type=int, default=32,
                        help="wrk connections (default 32, the load the profile is rendered for)")
    parser.add_argument("--threads", type=int, default=2, help="wrk threads (default 2)")
    parser.add_argument("--nginx-workers", type=int, default=1,
                        help="worker_processes for every configuration (default 1, the article's)")
    parser.add_argument("--app-workers", type=int, default=2,
                        help="gunicorn workers for every configuration (default 2)")
    parser.add_argument("--configs", default=",".join(CONFIGURATIONS),
                        help="comma-separated configurations (default: all six)")
    parser.add_argument("--endpoints", default=",".join(ENDPOINTS),
                        help="comma-separated endpoints: sync, async, sized (default: all)")
    parser.add_argument("--no-idle-race", action="store_true", help="skip the idle-race scenario")
    parser.add_argument("--no-cli-latency", action="store_true", help="skip the CLI latency table")
    parser.add_argument("--race-bursts", type=int, help="bursts per idle gap (default 3)")
    parser.add_argument("--race-points", type=int, help="gaps per sweep around 2 s (default 11)")
    parser.add_argument("--race-long-points", type=int, default=3,
                        help="gaps in the sweep around confgen's own app keep-alive (default 3)")
    parser.add_argument("--cli-runs", type=int, help="runs per CLI command (default 20)")
    parser.add_argument("--ablate", action="store_true",
                        help="instead of the comparison: the rendered config with one setting "
                        "changed at a time, each as a ratio to the unmodified one (default 3 "
                        "rounds of 3 s; no idle race, no CLI latency)")
    parser.add_argument("--ablations", default=",".join(ABLATION_NAMES),
                        help="comma-separated ablations for --ablate (default: all)")
    parser.add_argument("--workdir", help="directory for configs, logs and sockets (default: a "
                        "new temp dir, removed afterwards)")
    options = parser.parse_args(argv)
    quick = options.quick
    defaults = {"rounds": 2 if quick else 3, "duration": 2 if quick else (3 if options.ablate else 6),
                "warmup": 1, "race_bursts": 1 if quick else 3,
                "race_points": 5 if quick else 11, "cli_runs": 5 if quick else 20}
    for key, value in defaults.items():
        if getattr(options, key) is None:
            setattr(options, key, value)
    options.configs = _choices(options.configs, CONFIGURATIONS, "--configs")
    options.endpoints = _choices(options.endpoints, tuple(ENDPOINTS), "--endpoints")
    options.ablations = _choices(options.ablations, ABLATION_NAMES, "--ablations")
    if options.ablate:
        options.no_idle_race = options.no_cli_latency = True
    for key in ("rounds", "duration", "connections", "threads", "nginx_workers", "app_workers",
                "race_bursts", "race_points", "race_long_points", "cli_runs"):
        if getattr(options, key) < 1:
            raise ConfgenError(f"--{key.replace('_', '-')} must be at least 1")
    if options.warmup < 0:
        raise ConfgenError("--warmup must not be negative")
    if options.threads > options.connections:
        raise ConfgenError("--threads must not exceed --connections (wrk needs one per thread)")
    return options


def _choices(text: str, allowed: tuple[str, ...], flag: str) -> list[str]:
    chosen = [item.strip() for item in text.split(",") if item.strip()]
    unknown = [item for item in chosen if item not in allowed]
    if unknown or not chosen:
        raise ConfgenError(f"{flag}: unknown {', '.join(unknown) or 'empty list'}; "
                           f"choose from {', '.join(allowed)}")
    # Keep the canonical order: the baseline first, so every round starts the same way.
    return [item for item in allowed if item in chosen]


def check_tools() -> None:
    missing = [tool for tool in ("nginx", "wrk") if shutil.which(tool) is None]
    if missing:
        raise ConfgenError(f"{' and '.join(missing)} not found: apt-get install -y nginx wrk")


def run(options: argparse.Namespace) -> dict:
    check_tools()
    started = time.monotonic()
    registry = ProcessRegistry()
    atexit.register(registry.stop_all)
    if options.workdir:
        workdir = Path(options.workdir).resolve()
        workdir.mkdir(parents=True, exist_ok=True)
        remove_workdir = False
    else:
        workdir = Path(tempfile.mkdtemp(prefix="confgen-bench-"))
        remove_workdir = True
    options.response_bytes = 2048
    report: dict = {}
    try:
        names = [RENDERED, "hand-tuned"] if options.ablate else options.configs
        configurations = load_configurations(names, workdir, options,
                                             run_layout(workdir, RENDERED, options).app_socket)
        if options.ablate:
            # The rendered config and its variants (hand-tuned among them, for scale) run instead.
            configurations, skipped_ablations = ablation_configurations(
                configurations[RENDERED], configurations["hand-tuned"], options.ablations)
        conf_dir = nginx_conf_dir()
        layouts = {name: run_layout(workdir, name, options) for name in configurations}
        report["machine"] = machine_info()
        report["settings"] = {key: getattr(options, key) for key in (
            "quick", "rounds", "duration", "warmup", "connections", "threads", "nginx_workers",
            "app_workers", "configs", "endpoints", "response_bytes", "ablate")}
        report["command"] = " ".join(["python", "bench/keepalive.py", *sys.argv[1:]])
        if options.ablate:
            report["settings"]["ablations"] = options.ablations
            report["ablation"] = run_ablation(registry, configurations, skipped_ablations,
                                              layouts, options, conf_dir, workdir)
        else:
            report["throughput"], report["load"] = run_throughput(
                registry, configurations, layouts, options, conf_dir, workdir)
        if not options.no_idle_race:
            report["idle_race"] = run_idle_race(registry, configurations, layouts, options,
                                                conf_dir)
        if not options.no_cli_latency:
            log(f"CLI latency: {options.cli_runs} runs per command")
            report["cli_latency"] = run_cli_latency(workdir, options.cli_runs)
    finally:
        registry.stop_all()
        leftover = registry.leftovers()
        report["processes"] = {"sessions": registry.sessions,
                               "leftover": [list(item) for item in leftover]}
        report["elapsed_s"] = round(time.monotonic() - started, 1)
        if remove_workdir:
            shutil.rmtree(workdir, ignore_errors=True)
    if leftover:
        raise ConfgenError(f"processes left running: {leftover}")
    return report


def main(argv: list[str] | None = None) -> int:
    signal.signal(signal.SIGTERM, _exit_on_signal)
    signal.signal(signal.SIGHUP, _exit_on_signal)
    try:
        options = parse_args(argv)
        report = run(options)
    except ConfgenError as error:
        for line in error.lines:
            print(f"bench: {line}", file=sys.stderr)
        return error.exit_code
    except KeyboardInterrupt:
        print("bench: interrupted; everything started was stopped", file=sys.stderr)
        return 130
    except SystemExit as stop:
        if isinstance(stop.code, int) and stop.code > 128:
            print(f"bench: stopped by signal {stop.code - 128}; everything started was stopped",
                  file=sys.stderr)
        raise
    if options.json:
        json.dump(report, sys.stdout, indent=2)
        print()
    else:
        print(format_report(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
