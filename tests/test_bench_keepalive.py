"""The keep-alive benchmark harness (bench/keepalive.py, the package bench/keepalive/): a test of the
harness, not of timings.

The end-to-end tests start real nginx, gunicorn and wrk for a few seconds. They are skipped when
nginx or wrk is missing, unless CONFGEN_REQUIRE_NGINX=1 (CI installs both), where that is a failure.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
HARNESS = REPO / "bench" / "keepalive.py"
CONFIGS = REPO / "bench" / "configs"
sys.path.insert(0, str(REPO / "bench"))

from keepalive.ablation import (ABLATION_NAMES, ABLATIONS, EXTRAS,  # noqa: E402
                                ablation_configurations, ablation_schedule, summarize_ablation)
from keepalive.adapt import RunLayout, _proxy_target, _walk, adapt_nginx_config  # noqa: E402
from keepalive.cli import parse_args  # noqa: E402
from keepalive.configurations import Configuration, render_confgen, write_bench_profile  # noqa: E402
from keepalive.measure import Measurement  # noqa: E402
from keepalive.race import gap_sweep  # noqa: E402
from keepalive.rounds import Slot, alternating_schedule  # noqa: E402
from keepalive.throughput import summarize  # noqa: E402

from confgen.errors import ConfgenError  # noqa: E402


def _require_stack() -> None:
    missing = [tool for tool in ("nginx", "wrk") if shutil.which(tool) is None]
    missing += [module for module in ("fastapi", "gunicorn", "uvicorn_worker")
                if importlib.util.find_spec(module) is None]
    if missing:
        message = f"the benchmark needs {', '.join(missing)}"
        if os.environ.get("CONFGEN_REQUIRE_NGINX") == "1":
            pytest.fail(message + " (CONFGEN_REQUIRE_NGINX=1)")
        pytest.skip(message)


def _processes_left(sessions: set[int], marker: str) -> list[str]:
    """Live processes in one of ``sessions`` or with ``marker`` on their command line, found
    independently of the harness's own bookkeeping."""
    left = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        if fields[0] == "Z":
            continue
        if int(fields[3]) in sessions or marker in cmdline:
            left.append(f"{entry}: {cmdline.strip()}")
    return left


# ---------------------------------------------------------------------------------------------
# The adaptation: only machine-bound lines change, the same way for every configuration.


def _layout(tmp_path: Path):
    return RunLayout(tmp_path, 43210, tmp_path / "app.sock", 3)


def _directives(text: str, tmp_path: Path) -> list[tuple[str, tuple[str, ...]]]:
    import crossplane

    path = tmp_path / "parsed.conf"
    path.write_text(text)
    parsed = crossplane.parse(str(path), single=True)["config"][0]["parsed"]
    return [(d["directive"], tuple(d["args"])) for d in _walk(parsed)]


def test_adaptation_changes_only_addresses_paths_and_worker_count(tmp_path):
    adapted = adapt_nginx_config((CONFIGS / "article.conf").read_text(), name="article",
                                 layout=_layout(tmp_path), conf_dir=Path("/etc/nginx"))
    directives = _directives(adapted, tmp_path)
    original = _directives((CONFIGS / "article.conf").read_text(), tmp_path)

    assert ("listen", ("127.0.0.1:43210",)) in directives
    assert ("server", (f"unix:{tmp_path}/app.sock", "fail_timeout=0")) in directives
    assert ("worker_processes", ("3",)) in directives
    assert ("pid", (f"{tmp_path}/nginx.pid",)) in directives
    assert ("error_log", (f"{tmp_path}/nginx-error.log",)) in directives
    assert ("include", ("/etc/nginx/mime.types",)) in directives
    assert ("daemon", ("off",)) in directives
    assert ("proxy_temp_path", (f"{tmp_path}/temp/proxy",)) in directives
    # What is measured stays as published.
    machine_bound = {"listen", "server", "worker_processes", "pid", "error_log", "include", "user"}
    kept = [d for d in original if d[0] not in machine_bound]
    for item in kept:
        assert item in directives, item
    assert ("keepalive", ("8",)) in directives
    assert ("user", ("nobody", "nogroup")) not in directives


def test_adaptation_keeps_one_listen_per_server_and_points_direct_proxy_pass_at_the_app(tmp_path):
    adapted = adapt_nginx_config(
        (CONFIGS / "generator-style.conf").read_text(), name="generator-style",
        layout=_layout(tmp_path), conf_dir=Path("/etc/nginx"))
    directives = _directives(adapted, tmp_path)
    assert [d for d in directives if d[0] == "listen"] == [("listen", ("127.0.0.1:43210",))]
    assert ("proxy_pass", (f"http://unix:{tmp_path}/app.sock",)) in directives
    assert ("proxy_set_header", ("Connection", "$connection_upgrade")) in directives
    assert ("access_log", (f"{tmp_path}/access.log", "combined", "buffer=512k", "flush=1m")) in directives


@pytest.mark.parametrize(("target", "expected"), [
    ("http://gunicorn", "http://gunicorn"),
    ("http://gunicorn/api/", "http://gunicorn/api/"),
    ("http://127.0.0.1:8000", "http://unix:/s.sock"),
    ("http://127.0.0.1:8000/api/", "http://unix:/s.sock:/api/"),
    ("http://unix:/tmp/gunicorn.sock", "http://unix:/s.sock"),
    ("http://unix:/tmp/gunicorn.sock:/api/", "http://unix:/s.sock:/api/"),
    ("http://$backend", "http://$backend"),
])
def test_proxy_pass_targets(target, expected):
    assert _proxy_target(target, {"gunicorn"}, Path("/s.sock")) == expected


def test_gap_sweep_spans_one_percent_either_side():
    gaps = gap_sweep(2.0, 5)
    assert gaps[0] == pytest.approx(1.98) and gaps[-1] == pytest.approx(2.02)
    assert gaps[2] == pytest.approx(2.0)


def test_bad_options_are_one_line_errors():
    with pytest.raises(ConfgenError, match="--configs: unknown nope"):
        parse_args(["--configs", "article,nope"])
    with pytest.raises(ConfgenError, match="--rounds must be at least 1"):
        parse_args(["--rounds", "0"])


# ---------------------------------------------------------------------------------------------
# Ablation: variants of the rendered text, the schedule, the bracketed ratios

RENDERED_SAMPLE = """\
http {
    access_log off;
    keepalive_requests 1000;
    gzip on;
    upstream bench {
        server unix:/tmp/app.sock fail_timeout=0;
        keepalive 32;  # pool
        keepalive_requests 1000;
    }
    server {
        add_header X-Content-Type-Options nosniff always;
        add_header X-Frame-Options DENY always;
        location / {
            proxy_pass http://bench;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $host;
            proxy_set_header X-Real-IP $remote_addr;
            proxy_set_header X-Forwarded-For $remote_addr;  # edge
            proxy_set_header X-Forwarded-Proto $scheme;
            proxy_set_header X-Forwarded-Host $host;
            proxy_buffer_size 8k;
            proxy_buffers 8 8k;
        }
    }
}
"""


def _ablated(name: str, text: str = RENDERED_SAMPLE) -> str | None:
    ablation = next(a for a in ABLATIONS if a.name == name)
    return ablation.apply(text)


def _changed_lines(before: str, after: str) -> tuple[list[str], list[str]]:
    old, new = before.splitlines(), after.splitlines()
    return ([line.strip() for line in old if line not in new],
            [line.strip() for line in new if line not in old])


@pytest.mark.parametrize(("name", "removed", "added"), [
    ("no-x-real-ip", ["proxy_set_header X-Real-IP $remote_addr;"], []),
    ("no-x-forwarded-host", ["proxy_set_header X-Forwarded-Host $host;"], []),
    ("no-x-forwarded-for-proto", ["proxy_set_header X-Forwarded-For $remote_addr;  # edge",
                                  "proxy_set_header X-Forwarded-Proto $scheme;"], []),
    ("host-only", ["proxy_set_header X-Real-IP $remote_addr;",
                   "proxy_set_header X-Forwarded-For $remote_addr;  # edge",
                   "proxy_set_header X-Forwarded-Proto $scheme;",
                   "proxy_set_header X-Forwarded-Host $host;"], []),
    ("forwarded-for-proto-only", ["proxy_set_header X-Real-IP $remote_addr;",
                                  "proxy_set_header X-Forwarded-Host $host;"], []),
    ("no-add-header", ["add_header X-Content-Type-Options nosniff always;",
                       "add_header X-Frame-Options DENY always;"], []),
    ("keepalive-requests-10000", ["keepalive_requests 1000;"] * 2, ["keepalive_requests 10000;"] * 2),
    ("gzip-off", ["gzip on;"], ["gzip off;"]),
    ("proxy-buffering-off", [], ["proxy_buffering off;"]),
    ("default-proxy-buffers", ["proxy_buffer_size 8k;", "proxy_buffers 8 8k;"], []),
    ("access-log-on", ["access_log off;"], ["access_log /var/log/nginx/access.log;"]),
    ("pool-half", ["keepalive 32;  # pool"], ["keepalive 16;  # pool"]),
    ("pool-double", ["keepalive 32;  # pool"], ["keepalive 64;  # pool"]),
])
def test_each_ablation_changes_only_its_setting(name, removed, added):
    variant = _ablated(name)
    assert variant is not None
    assert _changed_lines(RENDERED_SAMPLE, variant) == (removed, added)


def test_extras_off_applies_every_extra_at_once_and_keeps_the_forwarded_headers():
    variant = _ablated("extras-off")
    for name in EXTRAS:
        # Each extra, applied alone to the combined variant, has nothing left to change.
        assert _ablated(name, variant) is None, name
    assert "proxy_set_header X-Forwarded-For $remote_addr;" in variant
    assert "proxy_set_header X-Real-IP" in variant  # not an extra: dropping it is its own ablation


def test_keepalive_requests_ablation_changes_client_and_upstream_side():
    variant = _ablated("keepalive-requests-10000")
    assert variant.count("keepalive_requests 10000;") == 2
    assert "keepalive_requests 1000;" not in variant


def test_an_ablation_with_nothing_to_change_is_skipped_not_run_unchanged():
    without_real_ip = _ablated("no-x-real-ip")
    assert _ablated("no-x-real-ip", without_real_ip) is None
    # Both headers must be there to drop both.
    assert _ablated("no-x-forwarded-for-proto", _ablated("no-x-forwarded-host", without_real_ip)) is not None
    assert _ablated("access-log-on", RENDERED_SAMPLE.replace("access_log off;", "access_log x;")) is None
    rendered = Configuration("confgen", without_real_ip, Path("g.conf.py"))
    configurations, skipped = ablation_configurations(
        rendered, None, ["no-x-real-ip", "gzip-off"])
    assert list(configurations) == ["confgen", "gzip-off"]
    assert list(skipped) == ["no-x-real-ip"]


def test_ablation_variants_of_the_rendered_bench_config_pass_nginx_t(tmp_path, nginx_check):
    options = parse_args(["--ablate"])
    profile = write_bench_profile(tmp_path / "profile.yaml", app_socket=tmp_path / "a.sock",
                                  options=options, layout_dir=tmp_path / "confgen")
    files = render_confgen(profile, tmp_path / "rendered")
    rendered = Configuration("confgen", files["nginx.conf"], tmp_path / "g.py")
    configurations, _ = ablation_configurations(
        rendered, None, [n for n in ABLATION_NAMES if n != "hand-tuned"])
    # At least the settings that do not depend on a template choice apply.
    assert {"gzip-off", "pool-half", "pool-double", "keepalive-requests-10000"} <= set(configurations)
    for name, configuration in configurations.items():
        directory = tmp_path / name
        (directory / "temp").mkdir(parents=True)
        layout = RunLayout(directory, 43210, tmp_path / "a.sock", 1)
        adapted = adapt_nginx_config(configuration.nginx_conf_text, name=name,
                                     layout=layout, conf_dir=Path("/etc/nginx"))
        ok, output = nginx_check(adapted)
        assert ok, f"{name}: {output}"


def test_ablation_schedule_measures_every_variant_next_to_the_reference():
    variants = ["a", "b", "c", "d", "e"]
    schedule = ablation_schedule(variants, 2)
    assert schedule[0] == ["confgen", "a", "b", "confgen", "c", "d", "confgen", "e", "confgen"]
    assert schedule[1] == ["confgen", "e", "d", "confgen", "c", "b", "confgen", "a", "confgen"]
    for names in schedule:
        assert sorted(n for n in names if n != "confgen") == variants
        for position, name in enumerate(names):
            if name != "confgen":
                assert "confgen" in (names[position - 1], names[position + 1])


def _measurement(rate: float):
    return Measurement(requests=int(rate), requests_per_s=rate, p50_ms=1, p99_ms=2,
                       non_2xx=0, socket_errors=0, app_requests=int(rate),
                       app_connections=1, other_cpu_pct=0, load_before=0, load_after=0)


def test_ablation_ratio_is_against_the_reference_measured_around_it():
    slots = []
    for round_number, rates in ((1, [("confgen", 1000), ("x", 990), ("y", 1200), ("confgen", 1200)]),
                                (2, [("confgen", 500), ("y", 600), ("x", 495), ("confgen", 500)])):
        for position, (name, rate) in enumerate(rates):
            slots.append(Slot(round_number, position, name, {"sync": _measurement(rate)}))
    summary = summarize_ablation(slots, "sync")
    # x: 990 / mean(1000, 1200) = 0.9 in round 1, 495 / 500 = 0.99 in round 2.
    assert summary["x"]["ratio_to_rendered"] == {"median": pytest.approx(0.945, abs=1e-3),
                                                 "min": 0.9, "max": 0.99}
    assert summary["y"]["ratio_to_rendered"]["min"] == pytest.approx(1.091, abs=1e-3)
    assert summary["confgen"]["requests_per_s"] == 750.0
    assert "ratio_to_rendered" not in summary["confgen"]


def test_ratios_to_hand_tuned_and_no_proxy_are_medians_of_per_round_ratios():
    per_round = {"hand-tuned": [_measurement(r) for r in (1000, 2000, 1500)],
                 "no-proxy": [_measurement(r) for r in (2000, 2000, 3000)],
                 "confgen": [_measurement(r) for r in (990, 1800, 1530)]}
    summary = summarize(per_round)
    assert summary["confgen"]["ratios"]["hand-tuned"] == {"median": 0.99, "min": 0.9, "max": 1.02}
    assert summary["confgen"]["ratios"]["no-proxy"]["median"] == pytest.approx(0.51)
    assert summary["confgen"]["ratio_to_baseline"] is None
    assert alternating_schedule(["a", "b", "c"], 3) == [["a", "b", "c"], ["c", "b", "a"],
                                                       ["a", "b", "c"]]


# ---------------------------------------------------------------------------------------------
# End to end


def test_short_run_measures_reuse_on_the_app_side_and_stops_everything(tmp_path):
    _require_stack()
    workdir = tmp_path / "run"
    result = subprocess.run(
        [sys.executable, str(HARNESS), "--json", "--rounds", "1", "--duration", "1",
         "--warmup", "1", "--endpoints", "async", "--configs",
         "generator-style,hand-tuned,no-proxy,confgen",
         "--no-idle-race", "--no-cli-latency", "--workdir", str(workdir)],
        capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    report = json.loads(result.stdout)

    sessions = set(report["processes"]["sessions"])
    # gunicorn and nginx per configuration, and wrk (warm-up + measurement) per endpoint.
    assert len(sessions) >= 8
    assert report["processes"]["leftover"] == []
    assert _processes_left(sessions, str(workdir)) == []

    results = report["throughput"]["async"]
    confgen, generator = results["confgen"], results["generator-style"]
    for entry in (confgen, generator):
        assert entry["requests_per_s"] > 0
        assert entry["app_requests"] > 0
    # confgen pools upstream connections: far fewer accepted connections than requests.
    assert confgen["app_connections"] < confgen["app_requests"] / 2
    # generator-style sends Connection: close upstream: one request per accepted connection.
    # (Connections cut when wrk stops mid-request count without a request: a few percent below 1.)
    assert generator["requests_per_connection"] == pytest.approx(1.0, abs=0.1)

    # hand-tuned pools too; no-proxy runs no nginx: wrk's own connections reach the app.
    hand_tuned, no_proxy = results["hand-tuned"], results["no-proxy"]
    assert hand_tuned["app_connections"] < hand_tuned["app_requests"] / 2
    assert not (workdir / "no-proxy" / "nginx.conf").exists()
    assert (workdir / "hand-tuned" / "nginx.conf").exists()
    assert no_proxy["app_connections"] <= 32 + 2
    assert no_proxy["app_requests"] > 0
    for reference in ("hand-tuned", "no-proxy"):
        ratio = confgen["ratios"][reference]["median"]
        assert ratio == pytest.approx(confgen["requests_per_s"] / results[reference]["requests_per_s"],
                                      rel=1e-2)
    assert [row["round"] for row in report["load"]] == [1]
    assert 0 <= report["load"][0]["other_cpu_pct_median"] <= 100


def test_ablate_runs_variants_beside_the_rendered_config(tmp_path):
    _require_stack()
    workdir = tmp_path / "run"
    result = subprocess.run(
        [sys.executable, str(HARNESS), "--ablate", "--ablations", "host-only,hand-tuned,no-x-real-ip",
         "--json", "--rounds", "1", "--duration", "1", "--warmup", "0", "--endpoints", "async",
         "--workdir", str(workdir)],
        capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    report = json.loads(result.stdout)
    assert report["processes"]["leftover"] == []
    assert "throughput" not in report and "idle_race" not in report

    ablation = report["ablation"]
    assert list(ablation["changes"])[:2] == ["hand-tuned", "host-only"]
    # An ablation runs when the render has its setting and is listed as skipped when not.
    reference = (workdir / "confgen" / "nginx.conf").read_text()
    if "proxy_set_header X-Real-IP" in reference:
        assert "no-x-real-ip" in ablation["changes"]
    else:
        assert "no-x-real-ip" in ablation["skipped"]
    entries = ablation["endpoints"]["async"]
    for name in ("host-only", "hand-tuned"):
        assert entries[name]["ratio_to_rendered"]["median"] > 0
        assert entries[name]["cpu_ratio_to_rendered"]["median"] > 0
    assert entries["confgen"]["requests_per_s"] > 0
    # The variant is the rendered config less its forwarded headers.
    variant = (workdir / "host-only" / "nginx.conf").read_text()
    forwarded_for = "proxy_set_header X-Forwarded-For"
    assert forwarded_for in reference and forwarded_for not in variant
    assert "proxy_set_header Host $host;" in variant


def test_interrupt_stops_everything_started(tmp_path):
    _require_stack()
    workdir = tmp_path / "run"
    harness = subprocess.Popen(
        [sys.executable, str(HARNESS), "--rounds", "1", "--duration", "20", "--warmup", "0",
         "--endpoints", "sync", "--configs", "article", "--no-idle-race", "--no-cli-latency",
         "--workdir", str(workdir)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    pid_files = [workdir / "article" / "gunicorn.pid", workdir / "article" / "nginx.pid"]
    try:
        deadline = time.monotonic() + 60
        # A pid file exists a moment before its pid is written: wait for the contents.
        while not all(p.exists() and p.read_text().strip() for p in pid_files) and time.monotonic() < deadline:
            assert harness.poll() is None, harness.stderr.read()
            time.sleep(0.1)
        assert all(p.exists() and p.read_text().strip() for p in pid_files), "the harness did not start gunicorn and nginx"
        # Masters are session leaders: their pids are the sessions holding their workers.
        sessions = {int(p.read_text().split()[0]) for p in pid_files}
        time.sleep(1)  # wrk is running now
        harness.send_signal(signal.SIGINT)
        _, stderr = harness.communicate(timeout=60)
    finally:
        if harness.poll() is None:
            harness.kill()
            harness.wait()
    assert harness.returncode == 130, stderr[-2000:]
    assert "interrupted" in stderr
    assert _processes_left(sessions, str(workdir)) == []
