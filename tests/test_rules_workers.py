"""Workers and capacity (CG3xx): whole configs only; the profile's load with --profile."""

from __future__ import annotations

import pytest
import yaml

from lint_helpers import line_of, lint_config, only, rules_of

PROFILE = {"cpus": 4, "expected_qps": 100, "clients": 2000, "max_body_size": "1m",
           "avg_response_size": "2k", "app": {"module": "app.main:app", "kind": "asgi"}}


def whole(top: str, events: str = "") -> str:
    return f"{top}\nevents {{ {events} }}\nhttp {{ server {{ listen 80; }} }}\n"


@pytest.mark.parametrize("top, events, reported", [
    ("", "worker_connections 4096;", True),                           # missing, 8192 fds needed
    ("", "", False),                                                  # 512 x 2 fits the usual 1024
    ("worker_rlimit_nofile 4096;", "worker_connections 4096;", True),
    ("worker_rlimit_nofile 8192;", "worker_connections 4096;", False),
    # 1.5 x covers a temp file per proxied request (venueless: 262144 for 163384 connections);
    # h5bp's 8192 for 8000 leaves room for 192 files.
    ("worker_rlimit_nofile 6200;", "worker_connections 4096;", False),
    ("worker_rlimit_nofile 8192;", "worker_connections 8000;", True),
    ("worker_rlimit_nofile 2048;", "", False),
])
def test_worker_connections_nofile(tmp_path, top, events, reported):
    result = lint_config(tmp_path, whole("worker_processes auto;\n" + top, events))
    assert ("worker-connections-nofile" in rules_of(result)) is reported


def test_worker_connections_nofile_anchors(tmp_path):
    result = lint_config(tmp_path, whole("worker_processes auto;", "worker_connections 4096;"))
    (finding,) = only(result, "worker-connections-nofile")
    assert finding.line == line_of(tmp_path / "nginx.conf", "worker_connections")
    assert "worker_rlimit_nofile 8192" in finding.message
    result = lint_config(tmp_path, whole("worker_processes auto;\nworker_rlimit_nofile 1000;", "worker_connections 4096;"))
    assert only(result, "worker-connections-nofile")[0].line == line_of(tmp_path / "nginx.conf", "worker_rlimit_nofile")


@pytest.mark.parametrize("top, reported", [
    ("", True), ("worker_processes 1;", True), ("worker_processes auto;", False), ("worker_processes 4;", False),
])
def test_worker_processes(tmp_path, top, reported):
    assert ("worker-processes" in rules_of(lint_config(tmp_path, whole(top)))) is reported


@pytest.mark.parametrize("top, reported", [
    ("worker_processes 2;", True), ("worker_processes 4;", False), ("worker_processes auto;", False),
])
def test_worker_processes_against_the_profile_cpus(tmp_path, top, reported):
    profile = tmp_path / "profile.yaml"
    profile.write_text(yaml.safe_dump(PROFILE))
    result = lint_config(tmp_path, whole(top), profile=str(profile))
    assert ("worker-processes" in rules_of(result)) is reported


@pytest.mark.parametrize("top, events, reported", [
    ("worker_processes 4;", "worker_connections 512;", True),      # 2048 < 2000 x 2
    ("worker_processes 4;", "worker_connections 1024;", False),    # 4096 >= 4000
    ("worker_processes auto;", "worker_connections 1024;", False),  # auto = the profile's 4 cpus
    ("worker_processes 1;", "", True),
])
def test_worker_connections_capacity(tmp_path, top, events, reported):
    profile = tmp_path / "profile.yaml"
    profile.write_text(yaml.safe_dump(PROFILE))
    result = lint_config(tmp_path, whole(top + "\nworker_rlimit_nofile 65536;", events), profile=str(profile))
    assert ("worker-connections-capacity" in rules_of(result)) is reported
