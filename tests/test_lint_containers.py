"""Where nginx runs: a container's files, and the ports its compose service publishes; and what
forwarded-proto-spoofable makes of a plain-HTTP nginx in a container that no port reaches."""

from __future__ import annotations

import pytest

from confgen.lint.containers import containerised, nginx_services, published_ports
from lint_helpers import lint_config, only, write_tree

PASS_THROUGH = """
server {
    listen 8080;
    location / {
        proxy_set_header X-Forwarded-Proto $http_x_forwarded_proto;
        proxy_pass http://web:8000;
    }
}
"""
NGINX_SERVICE = """
services:
  web:
    build: .
    command: gunicorn app:app --bind 0.0.0.0:8000
    volumes:
      - .:/code
  nginx:
    image: nginx:1.25-alpine
    volumes:
      - ./docker/nginx/nginx.conf:/etc/nginx/nginx.conf:ro
"""


def test_a_file_is_a_containers_by_its_folder_or_the_files_around_it(tmp_path):
    write_tree(tmp_path, {"docker/nginx/nginx.conf": "", "etc/nginx/nginx.conf": "", "srv/site/Dockerfile": "FROM x\n",
                          "srv/site/conf/nginx.conf": ""})
    (tmp_path / ".git").mkdir()
    assert containerised(str(tmp_path / "docker/nginx/nginx.conf"))
    assert containerised(str(tmp_path / "srv/site/conf/nginx.conf"))      # a Dockerfile one folder up
    assert not containerised(str(tmp_path / "etc/nginx/nginx.conf"))


@pytest.mark.parametrize("ports, published", [
    (None, set()),
    (['"8080:8080"'], {8080}),
    (['"80"'], {80}),                                    # a random host port, still every address
    (['"127.0.0.1:8080:8080"'], set()),                  # the host's loopback only
    (['"0.0.0.0:443:8443/tcp"'], {8443}),
    (['"8000-8001:8000-8001"'], {8000, 8001}),
    (["{target: 8080, published: 80, host_ip: '::1'}"], set()),
    (["{target: 8080, published: 80}"], {8080}),
])
def test_the_ports_a_compose_service_of_this_nginx_publishes(tmp_path, ports, published):
    service = NGINX_SERVICE + ("    ports:\n" + "".join(f"      - {p}\n" for p in ports) if ports else "")
    write_tree(tmp_path, {"docker-compose.yml": service, "docker/nginx/nginx.conf": ""})
    assert published_ports(nginx_services(str(tmp_path / "docker/nginx/nginx.conf"))) == published


def test_an_override_file_publishes_the_port_of_the_service_its_base_file_mounts_the_config_in(tmp_path):
    write_tree(tmp_path, {"docker-compose.yml": NGINX_SERVICE + "  maintenance:\n    image: nginx\n    ports: ['80:80']\n",
                          "docker-compose.override.yml": "services:\n  nginx:\n    ports: ['8080:8080']\n",
                          "docker/nginx/nginx.conf": ""})
    # The maintenance page's nginx runs an nginx image too, but the service that mounts this config wins.
    assert published_ports(nginx_services(str(tmp_path / "docker/nginx/nginx.conf"))) == {8080}
    assert published_ports(nginx_services(str(tmp_path / "elsewhere.conf"))) == {80, 8080}   # none mounts it: the nginx images'
    write_tree(tmp_path, {"docker-compose.yml": "services:\n  web:\n    image: python\n"})
    (tmp_path / "docker-compose.override.yml").unlink()
    assert published_ports(nginx_services(str(tmp_path / "docker/nginx/nginx.conf"))) is None


@pytest.mark.parametrize("compose, reported", [
    (NGINX_SERVICE, False),                                            # reached only through the proxy in front
    (NGINX_SERVICE + "    ports:\n      - \"80:8080\"\n", True),        # clients reach it on the host's port 80
    (NGINX_SERVICE + "    ports:\n      - \"127.0.0.1:8080:8080\"\n", False),
])
def test_a_plain_http_nginx_in_a_container_that_no_port_publishes_passes_the_header_with_a_note(
        tmp_path, compose, reported):
    result = lint_config(tmp_path, PASS_THROUGH, main="docker/nginx/nginx.conf", files={"docker-compose.yml": compose})
    assert bool(only(result, "forwarded-proto-spoofable")) is reported
    assert any("plain-HTTP nginx in a container" in note for note in result.notes) is not reported


def test_a_tls_server_or_a_config_outside_a_container_is_still_reported(tmp_path):
    tls = PASS_THROUGH.replace("listen 8080;", "listen 8443 ssl;\n    ssl_certificate /c.pem;\n    ssl_certificate_key /k.pem;")
    result = lint_config(tmp_path / "tls", tls, main="docker/nginx/nginx.conf",
                         files={"docker-compose.yml": NGINX_SERVICE})
    assert only(result, "forwarded-proto-spoofable")
    bare = lint_config(tmp_path / "bare", PASS_THROUGH, main="etc/nginx/nginx.conf")
    assert only(bare, "forwarded-proto-spoofable")
