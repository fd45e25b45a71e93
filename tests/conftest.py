"""Shared test helpers: the real nginx binary, and profiles to build on."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
PROFILES = sorted((REPO / "profiles").glob("*.yaml"))
REQUIRE_NGINX = os.environ.get("CONFGEN_REQUIRE_NGINX") == "1"

MINIMAL_PROFILE = {
    "cpus": 2,
    "expected_qps": 100,
    "clients": 200,
    "max_body_size": "1m",
    "avg_response_size": "2k",
    "app": {"module": "app.main:app", "kind": "asgi"},
}


def find_binary(name: str) -> str | None:
    return shutil.which(name) or next(
        (str(p) for p in (Path("/usr/sbin") / name, Path("/usr/local/sbin") / name) if p.exists()), None
    )


def require_binary(name: str) -> str:
    """The path of a system tool the test needs: skipped when missing, failed in CI."""
    path = find_binary(name)
    if path:
        return path
    if REQUIRE_NGINX:
        pytest.fail(f"{name} is required (CONFGEN_REQUIRE_NGINX=1) but not installed")
    pytest.skip(f"{name} is not installed")


def free_port() -> int:
    """A loopback port free right now. Another test may take it before the caller binds it:
    wait with :func:`owns_listener` before sending requests."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def quiet_port() -> int:
    """A free port no TCP socket has used lately: no TIME-WAIT left from another test whose
    address pair a new connection could take over (Linux reuses them on loopback,
    net.ipv4.tcp_tw_reuse=2), which would hide it from a count of closes."""
    while True:
        port = free_port()
        if not any(int(address.split(":")[1], 16) == port for line in Path("/proc/net/tcp").read_text().splitlines()[1:]
                   for address in line.split()[1:3]):
            return port


def owns_listener(process: subprocess.Popen, port: int, deadline: float) -> bool:
    """Wait until ``process`` itself, or a worker it started, listens on ``port`` (IPv4): False
    when it exits first, or another process holds the port until ``deadline``. nginx keeps
    retrying a taken port for seconds, so its being alive proves nothing, and a request would
    meet the other server. (granian's main process does not keep the listener: its worker does.)"""
    while time.monotonic() < deadline and process.poll() is None:
        inodes = {fields[9] for fields in (line.split() for line in Path("/proc/net/tcp").read_text().splitlines()[1:])
                  if fields[3] == "0A" and int(fields[1].split(":")[1], 16) == port}
        held = set()
        for pid in _process_tree(process.pid):
            try:
                held |= {os.readlink(f"/proc/{pid}/fd/{fd}") for fd in os.listdir(f"/proc/{pid}/fd")}
            except OSError:
                continue  # gone meanwhile
        if any(f"socket:[{inode}]" in held for inode in inodes):
            return True
        time.sleep(0.05)
    return False


def _process_tree(pid: int) -> list[int]:
    """``pid`` and every process under it."""
    found, index = [pid], 0
    while index < len(found):
        try:
            tasks = os.listdir(f"/proc/{found[index]}/task")
        except OSError:
            tasks = []
        for task in tasks:
            try:
                found += [int(child) for child in Path(f"/proc/{found[index]}/task/{task}/children").read_text().split()]
            except OSError:
                continue
        index += 1
    return found


@pytest.fixture
def nginx_check(tmp_path):
    """Run the real `nginx -t` on a config text in a temp prefix; returns (ok, output)."""
    nginx = require_binary("nginx")

    def check(config_text: str) -> tuple[bool, str]:
        prefix = tmp_path / "nginx-prefix"
        conf_dir = prefix / "conf"
        (prefix / "logs").mkdir(parents=True, exist_ok=True)
        conf_dir.mkdir(parents=True, exist_ok=True)
        mime = Path("/etc/nginx/mime.types")
        if mime.exists():
            shutil.copy(mime, conf_dir / "mime.types")
        else:
            (conf_dir / "mime.types").write_text("types { text/html html; application/json json; }\n")
        (conf_dir / "nginx.conf").write_text(config_text)
        result = subprocess.run(
            [nginx, "-t", "-q", "-p", str(prefix), "-c", str(conf_dir / "nginx.conf")],
            capture_output=True, text=True, timeout=60,
        )
        return result.returncode == 0, result.stdout + result.stderr

    return check


def local_paths(profile: dict, tmp_path: Path) -> dict:
    """The profile with nginx's pid and logs moved under tmp_path, so `nginx -t` runs unprivileged."""
    adapted = dict(profile)
    adapted["nginx"] = {
        **profile.get("nginx", {}),
        "pid": str(tmp_path / "nginx.pid"),
        "error_log": str(tmp_path / "error.log"),
        "access_log": str(tmp_path / "access.log"),
    }
    return adapted


def scratch_nginx_conf(root: Path, http_body: str, *, user: str | None = None) -> str:
    """An nginx.conf for a test's own nginx in the foreground, with every file it writes under
    ``root`` (pid, error log, temp paths) and ``http_body`` inside ``http {}``. ``user``: the
    workers' user (root's workers, to reach a socket in a private test directory)."""
    worker_user = f"user {user};\n" if user else ""
    return (f"daemon off;\n{worker_user}pid {root}/nginx.pid;\nerror_log {root}/error.log info;\n"
            f"events {{ worker_connections 64; }}\nhttp {{\n    access_log off;\n"
            f"    client_body_temp_path {root}/tmp; proxy_temp_path {root}/tmp; fastcgi_temp_path {root}/tmp;\n"
            f"    uwsgi_temp_path {root}/tmp; scgi_temp_path {root}/tmp;\n{http_body}}}\n")


def make_self_signed_cert(directory: Path) -> tuple[str, str]:
    """(certificate, key) paths of a fresh self-signed certificate written into directory."""
    openssl = require_binary("openssl")
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True, timeout=60,
    )
    return str(cert), str(key)


@pytest.fixture
def self_signed_cert(tmp_path):
    """(certificate, key) paths of a fresh self-signed certificate."""
    return make_self_signed_cert(tmp_path)


@pytest.fixture(scope="session")
def shared_cert(tmp_path_factory):
    """One self-signed certificate for a whole run (property tests: nginx -t reads the files)."""
    return make_self_signed_cert(tmp_path_factory.mktemp("cert"))


@pytest.fixture(autouse=True)
def tls_library_unknown(monkeypatch):
    """Lint as if the installed nginx's TLS library were not known: what ssl-weak-protocols and
    ssl-weak-ciphers say must not depend on which OpenSSL the machine running the tests has. A
    test of the library's effect sets it with ``monkeypatch.setattr(versions,
    "installed_tls_library", ...)``, and the broken cipher families it has with
    ``monkeypatch.setattr(versions, "installed_cipher_families", ...)``."""
    from confgen.nginx import versions

    monkeypatch.setattr(versions, "installed_tls_library", lambda target: None)
    monkeypatch.setattr(versions, "installed_cipher_families", lambda target: None)


# Diagnostics snapshots, as ruff snapshots its diagnostics: every finding a test's lints produce
# of the rules the test names (rule, place, severity, message, fix) against
# tests/snapshots/<module>/<test>.txt, so a test that only asked "was something reported?" also
# fails when the rule, line or message changes.
# CONFGEN_UPDATE_SNAPSHOTS=1 writes them instead; review the diff like code.
SNAPSHOTS = Path(__file__).parent / "snapshots"


@pytest.fixture
def diagnostics_snapshot(request):
    import lint_helpers

    lint_helpers.RECORDED = []
    try:
        yield
        recorded = lint_helpers.RECORDED
    finally:
        lint_helpers.RECORDED = None
    named = _rules_named(request)
    text = "".join(_diagnostics(number, root, result, named) for number, (root, result) in enumerate(recorded, 1))
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.name).strip("_")
    if name != request.node.name:  # parameters that differ only in the characters replaced stay apart
        name = name[:80] + "-" + hashlib.sha256(request.node.name.encode()).hexdigest()[:10]
    path = SNAPSHOTS / request.node.module.__name__ / f"{name}.txt"
    if os.environ.get("CONFGEN_UPDATE_SNAPSHOTS") == "1":
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        return
    assert path.exists(), f"no snapshot {path}: run with CONFGEN_UPDATE_SNAPSHOTS=1 and review it"
    assert text == path.read_text(), f"diagnostics differ from {path} (CONFGEN_UPDATE_SNAPSHOTS=1 rewrites it)"


def _rules_named(request) -> set[str] | None:
    """The rules a test is about: those its code or its parameters name (None: every rule)."""
    import inspect

    from confgen.lint.engine import all_rules

    source = inspect.getsource(request.function) + request.node.name
    named = {rule.name for rule in all_rules() if rule.name in source}
    return named or None


def _diagnostics(number: int, root: Path, result, named: set[str] | None) -> str:
    lines = [f"# lint {number}"]
    for finding in result.findings:
        if named is not None and finding.rule not in named:
            continue
        fix = "" if finding.fix is None else " [fix: safe]" if finding.fix.safe else " [fix: unsafe]"
        place = os.path.relpath(finding.file, root) if os.path.isabs(finding.file) else finding.file
        lines.append(f"{place}:{finding.line}:{finding.col}: {finding.code} {finding.rule} {finding.severity}{fix}: "
                     f"{finding.message.replace(str(root), '<tmp>')}")
    return "\n".join(lines) + "\n"


def pytest_addoption(parser):
    parser.addoption("--fuzz-long", action="store_true", default=False,
                     help="Run the lint fuzzing with many more cases (minutes, not seconds).")


def pytest_xdist_auto_num_workers(config):
    """``-n auto``: two workers per core. Many tests spend their time waiting on real servers'
    timers (idle timeouts, sleeps past them), not on the CPU; a second worker per core keeps it
    busy meanwhile (2 cores: 3 min 34 s with 2 workers, 2 min 47 s with 4, the same tests)."""
    return 2 * (os.cpu_count() or 1)
