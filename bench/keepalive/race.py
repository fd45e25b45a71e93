"""The idle race: bursts of POSTs separated by idle gaps swept around the app's keep-alive, counting
the 502s (and the upstream errors nginx logs) of the article's pairing against confgen's.
"""

from __future__ import annotations

import asyncio
import re

from .configurations import ARTICLE_GUNICORN_CONF, RENDERED, gunicorn_settings
from .report import log
from .stack import RunningStack

# gunicorn's keep-alive when its config sets none.
GUNICORN_DEFAULT_KEEPALIVE_S = 2


async def _post(port: int, body: bytes) -> str:
    """One POST on a fresh client connection: the race under test is on nginx's upstream side,
    so the client side must not add a keep-alive race of its own."""
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
    except OSError as error:
        return f"connect-error:{error.errno}"
    try:
        writer.write(b"POST /submit HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
                     b"Content-Type: application/json\r\n"
                     + f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
        await writer.drain()
        status_line = await asyncio.wait_for(reader.readline(), timeout=30)
        await asyncio.wait_for(reader.read(), timeout=30)
        match = re.match(rb"HTTP/1\.[01] (\d{3})", status_line)
        return match.group(1).decode() if match else "no-response"
    except (OSError, asyncio.TimeoutError) as error:
        return f"client-error:{type(error).__name__}"
    finally:
        writer.close()


async def _burst(port: int, clients: int) -> list[str]:
    body = b'{"order": 1, "note": "non-idempotent"}'
    return await asyncio.gather(*(_post(port, body) for _ in range(clients)))


def gap_sweep(keepalive_s: float, points: int) -> list[float]:
    """``points`` idle gaps evenly from -1 % to +1 % of ``keepalive_s``."""
    if points == 1:
        return [keepalive_s]
    return [keepalive_s * (0.99 + 0.02 * i / (points - 1)) for i in range(points)]


UPSTREAM_ERROR_PATTERNS = ("Broken pipe", "reset by peer", "prematurely closed")


def run_idle_race_for(registry, configuration, layout, options, conf_dir, gaps: list[float],
                      bursts_per_gap: int) -> dict:
    counts: dict[str, int] = {}
    per_gap = []
    with RunningStack(registry, configuration, layout, options, conf_dir) as stack:
        layout = stack.layout
        log_offset = layout.nginx_error_log.stat().st_size if layout.nginx_error_log.exists() else 0

        async def scenario():
            await _burst(layout.port, options.connections)  # fills the pool; not counted
            for gap in gaps:
                gap_502 = gap_total = 0
                for _ in range(bursts_per_gap):
                    await asyncio.sleep(gap)
                    statuses = await _burst(layout.port, options.connections)
                    for status in statuses:
                        counts[status] = counts.get(status, 0) + 1
                    gap_502 += statuses.count("502")
                    gap_total += len(statuses)
                per_gap.append({"gap_s": round(gap, 4), "requests": gap_total, "502": gap_502})

        asyncio.run(scenario())
        with open(layout.nginx_error_log, "rb") as error_log:
            error_log.seek(log_offset)
            error_lines = error_log.read().decode(errors="replace").splitlines()
    upstream_errors = {pattern: sum(pattern in line for line in error_lines)
                       for pattern in UPSTREAM_ERROR_PATTERNS}
    total = sum(counts.values())
    return {"requests": total, "502": counts.get("502", 0),
            "502_pct": round(100 * counts.get("502", 0) / total, 2) if total else None,
            "statuses": counts, "nginx_error_log": upstream_errors, "per_gap": per_gap}


def run_idle_race(registry, configurations, layouts, options, conf_dir) -> dict:
    """The article's pairing and confgen's, each swept around the article's 2 s app keep-alive
    (where the article's pairing races) and, for confgen, also around its own app keep-alive
    (too long for --quick)."""
    results = {}
    article_keepalive = gunicorn_settings(ARTICLE_GUNICORN_CONF).get(
        "keepalive", GUNICORN_DEFAULT_KEEPALIVE_S)
    for name in ("article", RENDERED):
        if name not in configurations:
            continue
        configuration = configurations[name]
        keepalive = gunicorn_settings(configuration.gunicorn_conf).get(
            "keepalive", GUNICORN_DEFAULT_KEEPALIVE_S)
        sweeps = {"around_article_keepalive": (article_keepalive, options.race_points,
                                               options.race_bursts)}
        if keepalive != article_keepalive:
            if options.quick:
                sweeps["around_own_keepalive"] = None
            else:
                sweeps["around_own_keepalive"] = (keepalive, options.race_long_points, 1)
        results[name] = {"app_keepalive_s": keepalive, "sweeps": {}}
        for sweep_name, sweep in sweeps.items():
            if sweep is None:
                results[name]["sweeps"][sweep_name] = {
                    "skipped": f"gaps of ~{keepalive}s do not fit in --quick"}
                continue
            center, points, bursts = sweep
            gaps = gap_sweep(center, points)
            log(f"idle race: {name}, gaps {gaps[0]:.3f}..{gaps[-1]:.3f}s x {bursts} bursts "
                f"of {options.connections} POSTs")
            results[name]["sweeps"][sweep_name] = run_idle_race_for(
                registry, configuration, layouts[name], options, conf_dir, gaps, bursts)
    return results
