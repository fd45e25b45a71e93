"""What the benchmark tells its user: progress lines on stderr while it runs, and at the end the
report: the machine it ran on, then one table per experiment (from the report's own data only).
"""

from __future__ import annotations

import datetime
import os
import platform
import re
import subprocess
import sys
import time

from .configurations import BASELINE, ENDPOINTS, REFERENCES, RENDERED


def log(message: str) -> None:
    """One timestamped progress line on stderr (stdout is the report's)."""
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def machine_info() -> dict:
    """The date, the machine and the servers' versions: the report's first line."""
    def version(argv: list[str], pattern: str) -> str | None:
        try:
            result = subprocess.run(argv, capture_output=True, text=True)
        except OSError:
            return None
        match = re.search(pattern, result.stdout + result.stderr)
        return match.group(1) if match else None

    import importlib.metadata as metadata

    def package(name: str) -> str | None:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            return None

    return {"date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
            "cpus": os.cpu_count(), "platform": platform.platform(),
            "python": platform.python_version(),
            "nginx": version(["nginx", "-v"], r"nginx/(\S+)"),
            "wrk": version(["wrk", "-v"], r"wrk (\S+)"),
            "gunicorn": package("gunicorn"), "uvicorn": package("uvicorn"),
            "uvicorn_worker": package("uvicorn-worker"), "fastapi": package("fastapi")}


def fmt(value, spec: str = "", none: str = "-") -> str:
    """``value`` formatted with ``spec``; ``none`` when it is missing."""
    return none if value is None else format(value, spec)


def _ratio_text(spread: dict | None) -> str:
    if spread is None:
        return "-"
    return f"{spread['median']:.3f}x ({spread['min']:.2f}-{spread['max']:.2f})"


def format_report(report: dict) -> str:
    lines = []
    machine, settings = report["machine"], report["settings"]
    lines.append(f"{machine['date']}  {machine['cpus']} CPUs, nginx {machine['nginx']}, "
                 f"gunicorn {machine['gunicorn']}, uvicorn {machine['uvicorn']}, "
                 f"uvicorn-worker {machine['uvicorn_worker']}, wrk {machine['wrk']}")
    lines.append(f"wrk -t{settings['threads']} -c{settings['connections']} "
                 f"-d{settings['duration']}s, {settings['rounds']} rounds, "
                 f"nginx workers {settings['nginx_workers']}, app workers "
                 f"{settings['app_workers']}")
    for endpoint, per_config in report.get("throughput", {}).items():
        references = [r for r in REFERENCES[1:] if r in per_config]
        lines += ["", f"### {endpoint} (GET {ENDPOINTS[endpoint]})", "",
                  "| configuration | req/s | spread | vs baseline | "
                  + "".join(f"vs {r} (range) | " for r in references)
                  + "server CPU us/req | "
                  + "".join(f"CPU/req vs {r} | " for r in references)
                  + "p50 ms | p99 ms | non-2xx | socket errors | app req/conn | reused | other CPU |",
                  "|---|---|---|---|" + "---|" * (2 * len(references) + 1)
                  + "---|---|---|---|---|---|---|"]
        for name, s in per_config.items():
            ratio = s["ratio_to_baseline"]
            ratio_text = "-" if ratio is None else f"{100 * (ratio - 1):+.1f} %"
            if name == BASELINE:
                ratio_text = "baseline"
            reference_texts = ["reference" if name == reference else
                               _ratio_text(s["ratios"].get(reference))
                               for reference in references]
            reference_texts.append(fmt(s["server_cpu_us_per_request"], ".0f"))
            reference_texts += ["reference" if name == reference else
                                _ratio_text(s["cpu_ratios"].get(reference))
                                for reference in references]
            reuse = ("all pooled" if s["requests_per_connection"] is None and s["app_requests"]
                     else fmt(s["requests_per_connection"], ".2f"))
            lines.append(
                f"| {name} | {s['requests_per_s']:.0f} | {fmt(s['spread_pct'], '.1f')} % | "
                f"{ratio_text} | " + "".join(f"{text} | " for text in reference_texts)
                + f"{s['p50_ms']:.2f} | {s['p99_ms']:.2f} | {s['non_2xx']} | "
                f"{s['socket_errors']} | {reuse} | {fmt(s['reused_pct'], '.1f')} % | "
                f"{s['other_cpu_pct']:.0f} % |")
    ablation = report.get("ablation")
    if ablation:
        endpoints = list(ablation["endpoints"])
        header = ["| variant | change | " + " | ".join(endpoints) + " |",
                  "|---|---|" + "---|" * len(endpoints)]
        lines += ["", "### ablation: req/s of the rendered config with one change, over the "
                  "unmodified rendered config measured just before and after it (median, range "
                  "over rounds; > 1: the change is faster)", "", *header]
        reference = {e: ablation["endpoints"][e][RENDERED] for e in endpoints}
        lines.append(f"| {RENDERED} | unmodified rendered config | " + " | ".join(
            f"{reference[e]['requests_per_s']:.0f} req/s (spread {reference[e]['spread_pct']:.0f} %)"
            for e in endpoints) + " |")
        for name, change in ablation["changes"].items():
            cells = " | ".join(_ratio_text(ablation["endpoints"][e][name].get("ratio_to_rendered"))
                               for e in endpoints)
            lines.append(f"| {name} | {change} | {cells} |")
        for name, reason in ablation["skipped"].items():
            lines.append(f"| {name} | skipped: {reason} |" + " |" * len(endpoints))
        lines += ["", "### ablation by server CPU per request (nginx + app, wrk excluded): the "
                  "unmodified config's over the variant's (> 1: the change is cheaper)", "",
                  *header]
        lines.append(f"| {RENDERED} | unmodified rendered config | " + " | ".join(
            f"{fmt(reference[e]['server_cpu_us_per_request'], '.0f')} us/req" for e in endpoints)
            + " |")
        for name, change in ablation["changes"].items():
            cells = " | ".join(
                _ratio_text(ablation["endpoints"][e][name].get("cpu_ratio_to_rendered"))
                for e in endpoints)
            lines.append(f"| {name} | {change} | {cells} |")
    load = report.get("load") or (ablation or {}).get("load")
    if load:
        lines += ["", "### machine load per round (other CPU: processes the harness did not "
                  "start, % of all CPUs)", "",
                  "| round | load avg start | load avg end | other CPU median | other CPU max |",
                  "|---|---|---|---|---|"]
        for row in load:
            lines.append(f"| {row['round']} | {row['load_start']:.2f} | {row['load_end']:.2f} | "
                         f"{row['other_cpu_pct_median']:.0f} % | {row['other_cpu_pct_max']:.0f} % |")
    race = report.get("idle_race")
    if race:
        lines += ["", "### idle race (POST bursts, idle gaps around the app keep-alive)", "",
                  "| pairing | app keepalive | sweep | gaps s | requests | 502 | nginx upstream "
                  "errors logged |", "|---|---|---|---|---|---|---|"]
        for name, entry in race.items():
            for sweep_name, sweep in entry["sweeps"].items():
                if "skipped" in sweep:
                    lines.append(f"| {name} | {entry['app_keepalive_s']} s | {sweep_name} | - | "
                                 f"- | - | skipped: {sweep['skipped']} |")
                    continue
                gaps = [g["gap_s"] for g in sweep["per_gap"]]
                logged = ", ".join(f"{k}: {v}" for k, v in sweep["nginx_error_log"].items() if v)
                lines.append(f"| {name} | {entry['app_keepalive_s']} s | {sweep_name} | "
                             f"{min(gaps):.3f}..{max(gaps):.3f} | {sweep['requests']} | "
                             f"{sweep['502']} ({fmt(sweep['502_pct'], '.2f')} %) | "
                             f"{logged or 'none'} |")
    cli = report.get("cli_latency")
    if cli:
        lines += ["", "### CLI latency (wall time)", "", "| command | median ms | min | max | runs |",
                  "|---|---|---|---|---|"]
        for row in cli:
            if "skipped" in row:
                lines.append(f"| {row['command']} | skipped: {row['skipped']} | | | |")
            else:
                lines.append(f"| {row['command']} | {row['median_ms']} | {row['min_ms']} | "
                             f"{row['max_ms']} | {row['runs']} |")
    processes = report["processes"]
    lines += ["", f"processes: {len(processes['sessions'])} sessions started, "
                  f"{len(processes['leftover'])} left over; {report['elapsed_s']:.0f} s"]
    return "\n".join(lines)
