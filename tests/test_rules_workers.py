"""Workers and capacity (CG3xx): whole configs only; the profile's load with --profile."""

from __future__ import annotations

import pytest
import yaml

from confgen.lint.engine import lint
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


SELKS_MANIFEST = """apiVersion: v1
kind: ConfigMap
metadata: {{name: nginx-conf}}
data:
  nginx.conf: |
    {directive}
    events {{ worker_connections 512; }}
    http {{ server {{ listen 8080; location / {{ return 200 "ok"; }} }} }}
---
apiVersion: apps/v1
kind: Deployment
metadata: {{name: nginx}}
spec:
  selector: {{matchLabels: {{app: nginx}}}}
  template:
    metadata: {{labels: {{app: nginx}}}}
    spec:
      containers:
        - name: nginx
          image: nginx:1.23.3
          resources: {{limits: {{cpu: {cpu}, memory: 500Mi}}}}
          volumeMounts: [{{name: conf, mountPath: /etc/nginx/nginx.conf, subPath: nginx.conf}}]
      volumes: [{{name: conf, configMap: {{name: nginx-conf}}}}]
"""


@pytest.mark.parametrize("directive, cpu, advice", [
    ("worker_processes 1;", "1", None),          # SELKS: one worker is the container's one CPU
    ("worker_processes 1;", "500m", None),
    ("", "1", None),                             # nginx's default of one worker, the same
    ("worker_processes 1;", "2", "2"),           # the limit, not auto's count of the node's cores
    ("worker_processes 1;", "1500m", "2"),
    ("worker_processes 1;", '"x"', "auto"),      # a limit not written as a number: unknown
])
def test_a_containers_cpu_limit_is_the_worker_count_it_gives_room_for(tmp_path, directive, cpu, advice):
    manifest = tmp_path / "nginx.yaml"
    manifest.write_text(SELKS_MANIFEST.format(directive=directive, cpu=cpu))
    found = [f for f in lint([str(manifest)], nginx_version="1.22.1").findings if f.rule == "worker-processes"]
    assert bool(found) is (advice is not None)
    if advice is not None:
        assert f"`worker_processes {advice};`" in found[0].message
        if advice == "auto":
            assert "may use" not in found[0].message
        else:
            cpus = float(cpu.rstrip("m")) / (1000 if cpu.endswith("m") else 1)
            assert f"may use {cpus:g} CPUs, {manifest}:{line_of(manifest, 'resources:')};" in found[0].message


@pytest.mark.parametrize("limits, advice", [
    ("    cpus: 1\n", None),
    ("    deploy:\n      resources:\n        limits:\n          cpus: '4'\n", "4"),
    ("", "auto"),
])
def test_a_compose_services_cpu_limit_is_read_the_same_way(tmp_path, limits, advice):
    compose = f"services:\n  nginx:\n    image: nginx:1.27\n{limits}    volumes:\n      - ./nginx.conf:/etc/nginx/nginx.conf:ro\n"
    result = lint_config(tmp_path, "worker_processes 1;\nevents {}\nhttp { server { listen 80; } }\n",
                         files={"docker-compose.yml": compose})
    found = [f for f in result.findings if f.rule == "worker-processes"]
    assert bool(found) is (advice is not None)
    if advice is not None:
        assert f"`worker_processes {advice};`" in found[0].message


CF_MANIFEST = """applications:
  - name: inventory
    buildpacks: [https://github.com/cloudfoundry/python-buildpack.git]
    command: ./config/server_start.sh
  - name: inventory-proxy
    buildpacks:
      - https://github.com/cloudfoundry/nginx-buildpack
    path: {path}
"""


@pytest.mark.parametrize("files, reported", [
    ({"Procfile": "release: ./release.sh\nweb: bin/start-nginx uwsgi uwsgi.ini\n"}, False),   # open-discussions
    ({"Procfile": "web: gunicorn app:app\n"}, True),
    ({"manifest.yml": CF_MANIFEST.format(path="./config")}, False),                        # gsa-inventory-app
    ({"manifest.yml": CF_MANIFEST.format(path="./elsewhere")}, True),
])
def test_a_platform_that_starts_nginx_with_more_files_needs_no_rlimit(tmp_path, files, reported):
    result = lint_config(tmp_path, "events { worker_connections 1024; }\nhttp { server { listen 80; } }\n",
                         main="config/nginx.conf", files=files)
    assert ("worker-connections-nofile" in rules_of(result)) is reported
    assert any("starts nginx with" in note for note in result.notes) is not reported


def test_a_platforms_limit_below_the_connections_need_is_still_reported(tmp_path):
    result = lint_config(tmp_path, "events { worker_connections 8000; }\nhttp { server { listen 80; } }\n",
                         files={"Procfile": "web: bin/start-nginx uwsgi uwsgi.ini\n"})
    assert "worker-connections-nofile" in rules_of(result)
