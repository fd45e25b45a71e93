"""Replicas behind one nginx, on the real stack: a profile with three ``upstreams`` on distinct
loopback addresses (127.0.0.2-4, one port: on Linux all of 127/8 is loopback, so three "hosts" on
this machine), nginx from the rendered nginx.conf, and on each host a gunicorn (uvicorn's worker)
from the one rendered gunicorn.conf.py, its ``bind`` (0.0.0.0:port, as on every host) narrowed to
the host's own address on the command line. wrk drives keep-alive load through nginx; the app
counts the requests and connections each replica serves.

- least_conn ("send each request to the least busy host"): every replica gets a share.
- The upstream pool: new connections per replica are far below its requests.
- ``max_fails``/``fail_timeout`` as rendered: a replica SIGKILLed mid-load costs no request it
  had not begun answering (a GET that meets it is passed to the next server: proxy_next_upstream's
  default "error timeout"); each nginx worker stops sending to it at its own max_fails-th failure
  and tries it again, with one request (passed on too), only after fail_timeout. The responses it
  had begun are cut: nginx had passed their header on, and no proxy can start them over; they are
  counted, and come within half a second of the kill.
- ``proxy_next_upstream_timeout``: a too-slow GET gets nginx's 504 after proxy_read_timeout and
  runs on one replica; the control, without it, shows the GET run on each replica in turn, its
  client waiting proxy_read_timeout for each.

Skipped when nginx, wrk or the app servers are missing, unless CONFGEN_REQUIRE_NGINX=1.
"""

from __future__ import annotations

import dataclasses
import os
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import NamedTuple

import pytest

from confgen.measure.logformat import compile_format
from confgen.profile.log_format import LOG_FORMAT, LOG_FORMAT_NAME
from conftest import free_port, require_binary
from real_stack import (APP, TIMEOUT_S, comment, get, nginx_prefix, port_taken, render_for, require_modules,
                        setting_seconds, spawn, stack_profile, start_again_when_taken, start_nginx, stop)

HOSTS = ("127.0.0.2", "127.0.0.3", "127.0.0.4")
VICTIM = HOSTS[1]     # the replica killed mid-load
CPUS = 2              # two nginx workers: each keeps its own count of a host's failures
LOAD_S = 3
SLOW_S = TIMEOUT_S + 1
ACCESS_LOG = compile_format(LOG_FORMAT, name=LOG_FORMAT_NAME)
# nginx's error log: time (whole seconds), level, worker pid, the client connection (*N, the
# access log's $connection: one counter for all workers), what happened.
ERROR_LINE = re.compile(r"^(\d{4}/\d\d/\d\d \d\d:\d\d:\d\d) \[(\w+)\] (\d+)#\d+: \*(\d+) (.*)$", re.M)


class ErrorLine(NamedTuple):
    second: int
    level: str
    pid: int
    connection: int
    text: str


@dataclasses.dataclass
class Cluster:
    directory: Path
    profile: dict
    files: dict[str, str]
    nginx_port: int
    app_port: int
    gunicorns: dict[str, subprocess.Popen]  # host -> its gunicorn master (its process group)
    nginx: subprocess.Popen

    @property
    def processes(self) -> list[subprocess.Popen]:
        return [*self.gunicorns.values(), self.nginx]

    def counted(self, what: str) -> dict[str, int]:
        """Per host, what its workers counted so far: "requests", or "accepts" (connections)."""
        return {host: sum(p.stat().st_size for p in (self.directory / "marks" / host).glob(f"{what}-*"))
                for host in HOSTS}

    def marked(self, what: str, tag: str) -> list[str]:
        """The hosts where /slow?tag= "began", or was "done"."""
        return [host for host in HOSTS if (self.directory / "marks" / host / f"{what}-{tag}").exists()]

    def access_log(self, since: float) -> list[dict]:
        """The requests nginx logged ending at or after ``since``: their end ($msec), status, body
        bytes sent and servers tried (the entries of $upstream_response_time)."""
        log = (self.directory / "access.log").read_bytes()
        rows = [dict(zip(ACCESS_LOG.fields, row)) for row in ACCESS_LOG.rows(log)]
        entries = [{"at": float(f"{row['msec'].decode()}.{row['msec_fraction'].decode()}"),
                    "status": row["status"].decode(), "bytes": int(row["body_bytes_sent"]),
                    "connection": int(row["connection"]),
                    "tried": len(row["upstream_response_time"].split(b","))}
                   for row in rows]
        return [entry for entry in entries if entry["at"] >= since]

    def error_log(self) -> str:
        path = self.directory / "nginx-error.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def logs(self) -> str:
        return "".join(path.read_text(errors="replace")[-1500:] for path in sorted(self.directory.glob("*.log*")))


def start_cluster(directory: Path, **options) -> Cluster:
    return start_again_when_taken(lambda: _start_cluster(directory, **options), directory)


def _start_cluster(directory: Path, without: str | None = None) -> Cluster | None:
    """nginx and one gunicorn per host from the rendered files, nginx.conf ``without`` one of its
    directives (the control); None when a port was taken."""
    nginx = require_binary("nginx")
    require_modules(["gunicorn", "uvicorn_worker"])
    directory.mkdir(parents=True)
    nginx_port, app_port = free_port(), free_port()
    profile = stack_profile(directory, "asgi", "uvicorn", nginx_port=nginx_port, app_port=app_port)
    profile["cpus"] = CPUS
    profile["app"] = {**profile["app"], "bind": f"0.0.0.0:{app_port}", "forwarded_allow_ips": ["127.0.0.1"]}
    profile["upstreams"] = [f"{host}:{app_port}" for host in HOSTS]
    files = render_for(profile, None)
    (directory / "stackapp.py").write_text(APP)
    (directory / "gunicorn.conf.py").write_text(files["gunicorn.conf.py"])
    nginx_conf = files["nginx.conf"]
    if without is not None:
        nginx_conf, dropped = re.subn(rf"(?m)^\s*{re.escape(without)} .*\n", "", nginx_conf)
        assert dropped == 1, nginx_conf
    conf = nginx_prefix(directory, nginx_conf)
    gunicorns: dict[str, subprocess.Popen] = {}
    cluster = Cluster(directory, profile, files, nginx_port, app_port, gunicorns, None)
    try:
        for host in HOSTS:
            marks = directory / "marks" / host
            marks.mkdir(parents=True)
            gunicorns[host] = spawn([sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py",
                                     "--bind", f"{host}:{app_port}", "--error-logfile", "-"],
                                    directory / f"gunicorn-{host}.log", cwd=directory,
                                    env={**os.environ, "STACK_MARKS": str(marks), "PYTHONPATH": str(directory)})
        cluster.nginx = start_nginx(nginx, directory, conf)
        deadline = time.monotonic() + 20
        listeners = [(process, app_port) for process in gunicorns.values()] + [(cluster.nginx, nginx_port)]
        if port_taken(listeners, [*directory.glob("gunicorn-*.log"), directory / "nginx.out"], deadline):
            stop([p for p in cluster.processes if p is not None])
            return None
        # Every replica's workers answer (straight to it), and nginx does.
        for host, port in [(host, app_port) for host in HOSTS] + [("127.0.0.1", nginx_port)]:
            while get(port, "/", timeout=2, host=host)[0] != 200:
                exited = [p.args for p in cluster.processes if p.poll() is not None]
                assert not exited, f"{exited} exited: {cluster.logs()}"
                assert time.monotonic() < deadline, f"{host}:{port} did not answer within 20 s: {cluster.logs()}"
                time.sleep(0.1)
    except BaseException:
        stop([p for p in cluster.processes if p is not None])
        raise
    return cluster


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    running = start_cluster(tmp_path_factory.mktemp("replicas") / "cluster")
    yield running
    stop(running.processes)


@dataclasses.dataclass
class Load:
    requests: int
    non_2xx: int
    socket_errors: dict[str, int]
    output: str


def wrk(port: int, seconds: int, connections: int) -> subprocess.Popen:
    """Keep-alive GETs from ``connections`` connections (wrk's HTTP/1.1 default)."""
    return subprocess.Popen([require_binary("wrk"), "-t2", f"-c{connections}", f"-d{seconds}s",
                             f"http://127.0.0.1:{port}/"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def load_result(process: subprocess.Popen, seconds: int) -> Load:
    output = process.communicate(timeout=seconds + 30)[0]
    assert process.returncode == 0, output
    sockets = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)  # wrk prints both only when not 0
    return Load(requests=int(re.search(r"(\d+) requests in", output).group(1)),
                non_2xx=int(non_2xx.group(1)) if non_2xx else 0,
                socket_errors=dict(zip(("connect", "read", "write", "timeout"),
                                       map(int, sockets.groups()) if sockets else (0, 0, 0, 0))),
                output=output)


def _upstream(cluster: Cluster) -> str:
    return re.search(r"upstream stack \{[^}]*\}", cluster.files["nginx.conf"]).group(0)




def _delta(after: dict[str, int], before: dict[str, int]) -> dict[str, int]:
    return {host: after[host] - before[host] for host in after}


# ---------------------------------------------------------------------------------------------


def test_every_replica_gets_a_share_over_reused_connections(cluster):
    upstream = _upstream(cluster)
    assert "send each request to the least busy host" in comment(upstream, "least_conn")
    assert "app connections" in comment(upstream, "keepalive")
    clients = cluster.profile["clients"]  # the load the profile is sized for, at once
    require_binary("wrk")
    requests_before, accepts_before = cluster.counted("requests"), cluster.counted("accepts")
    load = load_result(wrk(cluster.nginx_port, LOAD_S, clients), LOAD_S)
    requests = _delta(cluster.counted("requests"), requests_before)
    accepts = _delta(cluster.counted("accepts"), accepts_before)
    print(f"\n{load.requests} requests in {LOAD_S} s from {clients} keep-alive clients; per replica: "
          + ", ".join(f"{host} {requests[host]} requests over {accepts[host]} new connections "
                      f"({requests[host] / max(1, accepts[host]):.0f} per connection)" for host in HOSTS))
    assert load.non_2xx == 0 and not any(load.socket_errors.values()), load.output
    assert load.requests >= 100 * len(HOSTS), load.output
    # The app counts a request when it begins; wrk, when its response is read: the ones in
    # flight when wrk stops are the difference.
    assert load.requests <= sum(requests.values()) <= load.requests + clients, (requests, load.output)
    for host in HOSTS:
        # least_conn among equally fast replicas: about a third each; at least half of that.
        assert requests[host] >= sum(requests.values()) / (2 * len(HOSTS)), requests
        # Pooled upstream connections: each carries many requests (at least 50), not one.
        assert accepts[host] >= 1 and 50 * accepts[host] <= requests[host], (accepts, requests)


def test_a_too_slow_request_gets_504_and_runs_on_one_replica(cluster):
    """nginx's proxy_next_upstream default ("error timeout") passes a GET whose response timed out
    to the next server: without proxy_next_upstream_timeout the client would wait
    proxy_read_timeout once per replica and the handler run on each."""
    nginx_conf = cluster.files["nginx.conf"]
    read_timeout = setting_seconds(nginx_conf, "proxy_read_timeout")
    assert setting_seconds(nginx_conf, "proxy_next_upstream_timeout") == read_timeout == TIMEOUT_S
    assert "504 from nginx" in comment(nginx_conf, "proxy_read_timeout")
    assert "not run again on another host" in comment(nginx_conf, "proxy_next_upstream_timeout")
    log_before = len(cluster.error_log())
    started = time.monotonic()
    status, elapsed, body = get(cluster.nginx_port, f"/slow?s={SLOW_S}&tag=slow", timeout=30)
    time.sleep(0.5)  # a retry on another replica would have begun by now
    began = cluster.marked("began", "slow")
    assert status == 504 and b"<center>nginx</center>" in body, (status, body)
    assert read_timeout - 0.1 <= elapsed < read_timeout + 1.0, elapsed
    assert len(began) == 1, began
    assert cluster.error_log()[log_before:].count("upstream timed out") == 1, cluster.error_log()[log_before:]
    time.sleep(max(0.0, started + SLOW_S + 0.7 - time.monotonic()))
    assert cluster.marked("done", "slow") == began, "the handler nginx gave up on should have run to its end"


def test_without_the_limit_a_slow_get_runs_on_every_replica(tmp_path):
    """The control: the rendered nginx.conf without proxy_next_upstream_timeout (nginx's default,
    no limit). The GET times out on each replica in turn, the client waits proxy_read_timeout for
    each, and the handler runs on all of them."""
    cluster = start_cluster(tmp_path / "cluster", without="proxy_next_upstream_timeout")
    try:
        read_timeout = setting_seconds(cluster.files["nginx.conf"], "proxy_read_timeout")
        status, elapsed, _ = get(cluster.nginx_port, f"/slow?s={len(HOSTS) * read_timeout}&tag=slow", timeout=30)
        began = cluster.marked("began", "slow")
        timed_out = cluster.error_log().count("upstream timed out")
    finally:
        stop(cluster.processes)
    assert status == 504 and len(HOSTS) * read_timeout - 0.1 <= elapsed < len(HOSTS) * read_timeout + 1.5, (status,
                                                                                                            elapsed)
    assert sorted(began) == sorted(HOSTS) and timed_out == len(HOSTS), (began, timed_out)


def test_a_replica_killed_mid_load_loses_only_the_responses_it_had_begun(tmp_path):
    require_binary("wrk")
    cluster = start_cluster(tmp_path / "cluster")
    cleanup: list[subprocess.Popen] = []  # wrk, when the test fails while it runs
    try:
        upstream = _upstream(cluster)
        servers = re.findall(r"^\s*server (\S+) max_fails=(\d+) fail_timeout=(\d+)s;", upstream, re.M)
        assert [address for address, _, _ in servers] == [f"{host}:{cluster.app_port}" for host in HOSTS], upstream
        (max_fails, fail_timeout), = {(int(fails), int(timeout)) for _, fails, timeout in servers}
        reason = re.search(r"# (.*)\n\s*server ", upstream).group(1)
        assert (f"a host failing {max_fails} times in {fail_timeout}s rests {fail_timeout}s, then one request "
                f"tries it again" in reason and "each nginx worker counts its own" in reason), reason
        clients = cluster.profile["clients"]
        seconds = 1 + fail_timeout + 2  # before the kill; the rest; the try after it
        started = time.time()
        load = wrk(cluster.nginx_port, seconds, clients)
        cleanup.append(load)
        time.sleep(1)
        at_kill = cluster.counted("requests")
        killed_at = time.time()
        os.killpg(cluster.gunicorns[VICTIM].pid, signal.SIGKILL)  # its master and workers: no goodbye
        result = load_result(load, seconds)
        served = _delta(cluster.counted("requests"), at_kill)
        requests = cluster.access_log(since=started)
        errors = cluster.error_log()
    finally:
        for process in cleanup:
            if process.poll() is None:
                process.kill()
                process.wait(timeout=10)
        stop(cluster.processes)

    ended = started + seconds  # wrk's end: it closes its connections, requests in flight then get 499
    window = [r for r in requests if killed_at - 0.5 <= r["at"] < killed_at + 2]
    passed_on = [r for r in requests if r["tried"] > 1]
    # Responses the killed replica had begun: nginx had passed their header on (200 in its log),
    # and no proxy can start a response over on another server: cut, body not sent.
    cut = [r for r in requests if r["status"] == "200" and r["bytes"] != len(b"ok")]
    lines = [ErrorLine(int(datetime.strptime(when, "%Y/%m/%d %H:%M:%S").timestamp()), level, int(pid),
                       int(connection), text)
             for when, level, pid, connection, text in ERROR_LINE.findall(errors)
             if f'upstream: "http://{VICTIM}:{cluster.app_port}/' in text]
    cut_logged = [line for line in lines if "prematurely closed connection while reading upstream," in line.text]
    later = [r["at"] - killed_at for r in passed_on if r["at"] >= killed_at + 1]
    print(f"\n{result.requests} requests in {seconds} s from {clients} keep-alive clients, {VICTIM} SIGKILLed "
          f"after 1 s; non-2xx {result.non_2xx}, socket errors {result.socket_errors}; statuses "
          f"{dict(Counter(r['status'] for r in requests))}; in the kill window (-0.5 s..+2 s): {len(window)} "
          f"requests, {sum(r['status'] != '200' for r in window)} not 200, {len(cut)} cut mid-response, "
          f"{sum(r['tried'] > 1 for r in window)} passed on from {VICTIM} to another replica; later "
          f"{len(later)} more, at {', '.join(f'+{at:.2f} s' for at in later)}; served after the kill: {served}")
    # Every GET that met the dead replica before its response began was passed to a live one: no
    # error status, no refused or timed-out client. The only errors are the responses it had begun
    # (wrk counts each as a read error when nginx closes that client connection), in the 0.5 s
    # after the kill, at most one per client.
    assert result.non_2xx == 0 and result.socket_errors["read"] == len(cut) == len(cut_logged) <= clients and \
        result.socket_errors["connect"] == result.socket_errors["write"] == result.socket_errors["timeout"] == 0, (
            result.output, cut, cut_logged)
    assert all(killed_at <= r["at"] < killed_at + 0.5 for r in cut), (killed_at, cut)
    assert all(r["status"] == "200" or (r["status"] == "499" and r["at"] >= ended) for r in requests), Counter(
        (r["status"], r["at"] >= ended) for r in requests)
    assert passed_on, "no request met the killed replica"
    assert all(served[host] > 0 for host in HOSTS if host != VICTIM), served
    # Requests kept being answered, every second.
    per_second = Counter(int(r["at"]) for r in requests)
    assert all(per_second[second] > 0 for second in range(int(killed_at), int(ended))), per_second

    # A failure in nginx's count is an error line (a response cut after its header is none: the
    # peer is freed without one), and each is one request passed on, a 200 on the same client
    # connection (a request tries a server once).
    failures = [line for line in lines if line.level == "error" and line not in cut_logged]
    assert Counter(line.connection for line in failures) == Counter(r["connection"] for r in passed_on), (
        failures, passed_on)

    def passed_on_at(failure: ErrorLine) -> float:
        return min(r["at"] for r in passed_on if r["connection"] == failure.connection and r["at"] >= failure.second)

    # What each nginx worker did with the dead replica, in its own count (it may meet it later
    # than the kill: wrk's connections move to it as nginx closes them after keepalive_requests).
    workers = sorted({line.pid for line in failures})
    assert 1 <= len(workers) <= CPUS, errors
    for pid in workers:
        own = [line for line in lines if line.pid == pid and line not in cut_logged]
        first_rest = next(i for i, line in enumerate(own) if "upstream server temporarily disabled" in line.text)
        # Rested at its max_fails-th failure...
        assert [line.level for line in own[:first_rest]] == ["error"] * max_fails, own
        in_burst = [line for line in own if line.second <= own[first_rest].second + 1]
        after = own[len(in_burst):]
        # ...then left alone for fail_timeout: nginx counts it in whole seconds and tries the host
        # again with the first request more than fail_timeout seconds after the last failure, so
        # the log's seconds differ by fail_timeout + 1; that one failure rests it again.
        rest_over = in_burst[-1].second + fail_timeout + 1
        if rest_over < int(ended):  # while the load ran
            assert after, own
        if after:
            assert [(line.level, "disabled" in line.text) for line in after] == [("error", False), ("warn", True)], own
            assert after[0].second == rest_over, own
            rest = passed_on_at(after[0]) - max(passed_on_at(line) for line in in_burst if line.level == "error")
            assert fail_timeout - 0.1 < rest < fail_timeout + 1.25, (rest, own)
