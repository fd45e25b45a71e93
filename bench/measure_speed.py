"""How fast `confgen measure` reads access logs, and in how much memory, beside GoAccess.

Generates logs of the given sizes (default 1M lines; `--sizes 1M,10M` for the full table) in
nginx's combined format and in the format confgen renders, in a temp dir that is deleted
afterwards, then runs on each, in a fresh process: `confgen measure` (one file, one core), `confgen
measure` on the same lines split in two files (both cores), `goaccess` with the matching
log format, and the floor of any Python reader: the same compiled regex (the one measure reads
the format with) matched line by line in a plain loop, nothing aggregated. Prints lines/s per
CPU-second (the per-core speed, which other load on the machine does not change much), lines/s
of wall time, and peak memory (max RSS, children included).

    python bench/measure_speed.py                 # 1M lines, both formats
    python bench/measure_speed.py --sizes 1M,10M  # the README's table (10M takes a few minutes)
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RATE = 1000  # requests per second in the generated logs
GOACCESS_FORMATS = {
    "combined": ["--log-format=COMBINED"],
    "confgen": ['--log-format=%h %^ %e [%d:%t %^] "%r" %s %b "%R" "%u" %^ %T "%^" %^ "%^" %^ %^',
                "--date-format=%d/%b/%Y", "--time-format=%T"],
}


def parse_size(text: str) -> int:
    text = text.strip().upper()
    factor = {"K": 1_000, "M": 1_000_000}.get(text[-1:], 1)
    return int(float(text.rstrip("KM")) * factor)


def generate(path: Path, lines: int, fmt: str) -> None:
    """In a child process: this one must stay small, because Linux counts the RSS a process had
    when it forked into the peak RSS of the program that child then runs (goaccess, confgen)."""
    code = (f"import sys\nsys.path.insert(0, {str(REPO / 'tests')!r})\nimport synthetic_logs as synthetic\n"
            "with open(sys.argv[1], 'w', buffering=1 << 20) as handle:\n"
            f"    synthetic.generate(handle.write, rate={RATE}, seconds={lines} / {RATE}, fmt={fmt!r}, seed={lines})\n")
    subprocess.run([sys.executable, "-c", code, str(path)], check=True, cwd=REPO)


def split_in_two(path: Path) -> list[Path]:
    """The same lines as two files (two hosts' logs), cut at the line nearest the middle."""
    size = path.stat().st_size
    with open(path, "rb") as source:
        source.seek(size // 2)
        source.readline()
        middle = source.tell()
        source.seek(0)
        first, second = path.with_suffix(".part1"), path.with_suffix(".part2")
        with open(first, "wb") as out:
            remaining = middle
            while remaining:
                chunk = source.read(min(remaining, 1 << 24))
                out.write(chunk)
                remaining -= len(chunk)
        with open(second, "wb") as out:
            shutil.copyfileobj(source, out, 1 << 24)
    return [first, second]


def run_measured(argv: list[str]) -> dict:
    """Run a command; its wall time, CPU time (user + sys) and peak RSS. The peak comes from
    /usr/bin/time (GNU time's %M): wait4's ru_maxrss would count the RSS this Python process had
    when it forked."""
    gnu_time = shutil.which("time") or ("/usr/bin/time" if os.path.exists("/usr/bin/time") else None)
    peak_file = Path(tempfile.mkstemp(prefix="confgen-bench-peak-")[1])
    wrapped = [gnu_time, "-f", "%M", "-o", str(peak_file), *argv] if gnu_time else argv
    started = time.perf_counter()
    process = subprocess.Popen(wrapped, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - started
    stderr = process.stderr.read().decode(errors="replace")
    process.stderr.close()
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(argv[:3])}... failed: {stderr.strip()[-500:]}")
    try:
        peak_kb = int(peak_file.read_text().split()[-1]) if gnu_time else usage.ru_maxrss
    finally:
        peak_file.unlink()
    return {"wall": wall, "cpu": usage.ru_utime + usage.ru_stime, "rss_mb": peak_kb / 1024}


def confgen_measure(paths: list[Path]) -> dict:
    # A child that runs measure and reports its own and its workers' usage (the pool's workers are
    # its children, so wait4 on it alone would miss them).
    code = (
        "import json, resource, sys, time\n"
        "from confgen.measure.measuring import measure_logs\n"
        "t = time.perf_counter()\n"
        "r = measure_logs(sys.argv[1:])\n"
        "own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)\n"
        # VmHWM: this process's own peak (ru_maxrss would include the bench's RSS before exec).
        "peak = int(next(l for l in open('/proc/self/status') if l.startswith('VmHWM')).split()[1])\n"
        "print(json.dumps({'wall': time.perf_counter() - t, 'cpu': own.ru_utime + own.ru_stime + kids.ru_utime"
        " + kids.ru_stime, 'rss_mb': max(peak, kids.ru_maxrss) / 1024, 'lines': r.aggregate.lines,"
        " 'malformed': r.aggregate.malformed}))\n"
    )
    completed = subprocess.run([sys.executable, "-c", code, *map(str, paths)], capture_output=True, text=True,
                               cwd=REPO)
    if completed.returncode != 0:
        raise SystemExit(f"confgen measure failed: {completed.stderr.strip()[-800:]}")
    return json.loads(completed.stdout)


def plain_loop(path: Path, fmt: str) -> dict:
    """One compiled regex matched on each line of the file in a plain loop, in a fresh process."""
    code = (
        "import json, resource, sys, time\n"
        "from confgen.measure import logformat\n"
        "pattern = logformat.named_or_literal(sys.argv[2]).pattern\n"
        "t = time.perf_counter()\n"
        "lines = matched = 0\n"
        "with open(sys.argv[1], 'rb') as log:\n"
        "    for line in log:\n"
        "        lines += 1\n"
        "        if pattern.match(line):\n"
        "            matched += 1\n"
        "own = resource.getrusage(resource.RUSAGE_SELF)\n"
        "peak = int(next(l for l in open('/proc/self/status') if l.startswith('VmHWM')).split()[1])\n"
        "print(json.dumps({'wall': time.perf_counter() - t, 'cpu': own.ru_utime + own.ru_stime,"
        " 'rss_mb': peak / 1024, 'lines': lines, 'matched': matched}))\n"
    )
    completed = subprocess.run([sys.executable, "-c", code, str(path), fmt], capture_output=True, text=True, cwd=REPO)
    if completed.returncode != 0:
        raise SystemExit(f"plain loop failed: {completed.stderr.strip()[-800:]}")
    result = json.loads(completed.stdout)
    if result["matched"] != result["lines"]:
        raise SystemExit(f"plain loop: {result['lines'] - result['matched']} lines of {path.name} did not match")
    return result


def goaccess(path: Path, fmt: str, workdir: Path) -> dict | None:
    binary = shutil.which("goaccess")
    if binary is None:
        return None
    return run_measured([binary, str(path), *GOACCESS_FORMATS[fmt], "--no-global-config", "--no-progress",
                         "-o", str(workdir / "goaccess.json")])


def table(rows: list[dict]) -> str:
    header = ("format", "lines", "tool", "lines/s per CPU-s", "lines/s wall", "peak MB", "vs goaccess")
    out = [header]
    for row in rows:
        out.append((row["format"], f"{row['lines']:,}", row["tool"], f"{row['per_cpu']:,.0f}",
                    f"{row['per_wall']:,.0f}", f"{row['rss_mb']:.0f}", row.get("ratio", "")))
    widths = [max(len(str(r[i])) for r in out) for i in range(len(header))]
    lines = ["| " + " | ".join(str(c).ljust(w) for c, w in zip(r, widths)) + " |" for r in out]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1M", help="comma-separated line counts, e.g. 1M,10M (default 1M)")
    parser.add_argument("--formats", default="combined,confgen", help="combined,confgen (default both)")
    parser.add_argument("--workdir", help="where to generate the logs (default: a temp dir, deleted after)")
    parser.add_argument("--json", action="store_true", help="print the rows as JSON too")
    options = parser.parse_args(argv)
    sizes = [parse_size(s) for s in options.sizes.split(",") if s.strip()]
    formats = [f.strip() for f in options.formats.split(",") if f.strip()]
    workdir = Path(options.workdir) if options.workdir else Path(tempfile.mkdtemp(prefix="confgen-measure-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    rows = []
    try:
        for lines in sizes:
            for fmt in formats:
                path = workdir / f"{fmt}-{lines}.log"
                print(f"generating {path.name} ...", file=sys.stderr)
                generate(path, lines, fmt)
                results = [("confgen measure, 1 file", confgen_measure([path]))]
                parts = split_in_two(path)
                results.append(("confgen measure, 2 files (2 cores)", confgen_measure(parts)))
                for part in parts:
                    part.unlink()
                results.append(("one regex, plain loop (no aggregation)", plain_loop(path, fmt)))
                theirs = goaccess(path, fmt, workdir)
                if theirs is not None:
                    results.append(("goaccess " + ("COMBINED" if fmt == "combined" else "custom format"), theirs))
                count = results[0][1]["lines"]
                base = theirs["cpu"] if theirs else None
                for tool, result in results:
                    row = {"format": fmt, "lines": count, "tool": tool, "per_cpu": count / max(result["cpu"], 1e-9),
                           "per_wall": count / max(result["wall"], 1e-9), "rss_mb": result["rss_mb"]}
                    if base and tool.startswith("confgen"):
                        row["ratio"] = f"{base / max(result['cpu'], 1e-9):.1f}x faster"
                    rows.append(row)
                path.unlink()
                print(table(rows[-len(results):]), file=sys.stderr)
    finally:
        if not options.workdir:
            shutil.rmtree(workdir, ignore_errors=True)
    print(f"{os.cpu_count()} cores; load average {os.getloadavg()[0]:.1f} at the end; "
          f"generated at {RATE} requests/s")
    print(table(rows))
    if options.json:
        print(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
