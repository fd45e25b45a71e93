"""One measurement: wrk against one endpoint of a running stack, with what the app counted (requests,
accepted connections), the servers' own CPU time, and the machine's other load meanwhile.
"""

from __future__ import annotations

import os
import re
import time
from dataclasses import dataclass
from pathlib import Path

from confgen.errors import ConfgenError

from .processes import ProcessRegistry, log_tail, sessions_alive
from .stack import RunningStack

WRK_REPORT_LUA = """\
-- Prints one parseable line when wrk finishes: totals, latency percentiles (microseconds) and
-- error counts (wrk's "status" errors are responses with a status of 400 or more).
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "WRK-RESULT requests=%.0f duration_us=%.0f p50_us=%.0f p99_us=%.0f connect=%.0f read=%.0f write=%.0f timeout=%.0f status=%.0f\\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    e.connect, e.read, e.write, e.timeout, e.status))
end
"""


@dataclass
class Measurement:
    requests: int
    requests_per_s: float
    p50_ms: float
    p99_ms: float
    non_2xx: int
    socket_errors: int
    app_requests: int
    app_connections: int
    # The machine's other load during the measurement: CPU used by processes the harness did not
    # start, in % of all CPUs, and the 1-minute load average before and after (which also counts
    # the benchmark's own processes).
    other_cpu_pct: float
    load_before: float
    load_after: float
    # CPU seconds the servers used during the measurement (wrk excluded): less sensitive to the
    # machine's other load than req/s, since it does not count time spent waiting for a CPU.
    app_cpu_s: float = 0.0
    nginx_cpu_s: float = 0.0

    @property
    def server_cpu_us_per_request(self) -> float | None:
        return (1e6 * (self.app_cpu_s + self.nginx_cpu_s) / self.requests
                if self.requests else None)


WRK_LINE = re.compile(r"WRK-RESULT (.*)")
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def machine_busy_s() -> float:
    """CPU seconds all CPUs have spent busy since boot (/proc/stat; idle and iowait excluded)."""
    with open("/proc/stat") as stat:
        fields = [int(value) for value in stat.readline().split()[1:9]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = fields
    return (user + nice + system + irq + softirq + steal) / CLOCK_TICKS


def cpu_s_by_session(session_ids: set[int]) -> dict[int, float]:
    """CPU seconds used so far by the live processes of each session, in nanoseconds' precision
    (/proc/PID/schedstat's time on CPU, where /proc/PID/stat counts 10 ms ticks)."""
    totals = dict.fromkeys(session_ids, 0.0)
    for pid, session, _ in sessions_alive(session_ids):
        try:
            on_cpu_ns = int(Path(f"/proc/{pid}/schedstat").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            continue
        totals[session] += on_cpu_ns / 1e9
    return totals


def own_cpu_s(registry: ProcessRegistry) -> float:
    """CPU seconds used by the harness and everything it started: live processes in its sessions
    (nginx's and gunicorn's workers) plus its reaped children (wrk, once waited for)."""
    total = sum(cpu_s_by_session(set(registry.sessions)).values())
    import resource

    used = 0.0
    for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN):
        usage = resource.getrusage(who)
        used += usage.ru_utime + usage.ru_stime
    return total + used


def run_wrk(registry: ProcessRegistry, stack: RunningStack, path: str, duration: int,
            lua_script: Path) -> dict:
    options = stack.options
    argv = ["wrk", "-t", str(options.threads), "-c", str(options.connections),
            "-d", f"{duration}s", "--timeout", "10s", "-s", str(lua_script),
            stack.url(path)]
    out_path = stack.layout.directory / "wrk.out"
    out_path.write_text("")
    process = registry.start(argv, log_path=out_path)
    try:
        process.wait(timeout=duration + 30)
    finally:
        registry.stop(process)
    match = WRK_LINE.search(out_path.read_text())
    if not match:
        raise ConfgenError(f"{stack.configuration.name}: wrk gave no result: {log_tail(out_path)}")
    return {key: int(value) for key, value in
            (pair.split("=") for pair in match.group(1).split())}


def measure(registry: ProcessRegistry, stack: RunningStack, path: str, lua_script: Path
            ) -> Measurement:
    options = stack.options
    load_before = os.getloadavg()[0]
    connections_before, requests_before = stack.app_counters()
    servers = set(stack.sessions.values())
    servers_before = cpu_s_by_session(servers)
    busy_before, own_before, started = machine_busy_s(), own_cpu_s(registry), time.monotonic()
    result = run_wrk(registry, stack, path, options.duration, lua_script)
    busy_after, own_after, elapsed = machine_busy_s(), own_cpu_s(registry), time.monotonic() - started
    servers_after = cpu_s_by_session(servers)
    server_cpu = {role: round(servers_after[session] - servers_before[session], 3)
                  for role, session in stack.sessions.items()}
    connections_after, requests_after = stack.app_counters()
    other_cpu_s = max(0.0, (busy_after - busy_before) - (own_after - own_before))
    socket_errors = sum(result[k] for k in ("connect", "read", "write", "timeout"))
    return Measurement(
        requests=result["requests"],
        requests_per_s=result["requests"] / (result["duration_us"] / 1e6),
        p50_ms=result["p50_us"] / 1000, p99_ms=result["p99_us"] / 1000,
        non_2xx=result["status"], socket_errors=socket_errors,
        app_requests=requests_after - requests_before,
        app_connections=connections_after - connections_before,
        other_cpu_pct=round(100 * other_cpu_s / (elapsed * (os.cpu_count() or 1)), 1),
        load_before=load_before, load_after=os.getloadavg()[0],
        app_cpu_s=server_cpu.get("app", 0.0), nginx_cpu_s=server_cpu.get("nginx", 0.0))
