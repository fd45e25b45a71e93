"""A development setup (confgen.lint.development): throughput and capacity advice as notes."""

from __future__ import annotations

import pytest

from confgen.lint.engine import lint
from lint_helpers import lint_config, rules_of, write_tree

NGINX = """
worker_processes 1;
events { worker_connections 1024; }
http {
    upstream app { server web:8000; }
    server { listen 80; location / { proxy_pass http://app; } }
}
"""
COMPOSE = """services:
  web:
    command: gunicorn -k gthread --threads 4 -b 0.0.0.0:8000 {flags}shop.wsgi
{environment}"""
START = """#!/bin/sh
if [ "$1" = dev ]; then
    exec python manage.py runserver 0.0.0.0:8000
fi
exec gunicorn -k gthread --threads 4 -b 0.0.0.0:8000 {flags}shop.wsgi
"""
TUNING = {"worker-processes", "upstream-no-keepalive"}


@pytest.mark.parametrize("flags, environment, development", [
    ("", "    environment:\n      - DEBUG=True\n", True),                      # told so
    ("", "    environment:\n      FLASK_ENV: development\n", True),
    ("--reload ", "", False),                                                  # reloading alone: production units do
    ("", "    environment:\n      - DEBUG=False\n", False),
])
def test_an_app_told_it_is_in_development_gets_tuning_advice_as_notes(tmp_path, flags, environment, development):
    result = lint_config(tmp_path, NGINX, files={"docker-compose.yml": COMPOSE.format(flags=flags,
                                                                                      environment=environment)})
    assert (not TUNING & set(rules_of(result))) is development
    assert any("a development setup" in note for note in result.notes) is development


@pytest.mark.parametrize("flags, development", [("--reload ", True), ("", False)])
def test_a_reloading_app_whose_script_also_runs_a_development_server_is_one(tmp_path, flags, development):
    """swh-environment: `gunicorn --reload` in the script that also runs `manage.py runserver`."""
    write_tree(tmp_path, {"nginx.conf": NGINX.replace("web:8000", "127.0.0.1:8000"),
                          "start.sh": START.format(flags=flags)})
    result = lint([str(tmp_path / "nginx.conf")], gunicorn=str(tmp_path / "start.sh"), nginx_version="1.22.1",
                  select=["ALL"])
    assert (not TUNING & set(rules_of(result))) is development


def test_a_compose_default_of_debug_on_is_development(tmp_path):
    """kuma: `DEBUG=${DEBUG:-True}`: the file's own default, whatever a deployer may override."""
    environment = "    environment:\n      - DEBUG=${DEBUG:-True}\n"
    result = lint_config(tmp_path, NGINX, files={"docker-compose.yml": COMPOSE.format(flags="", environment=environment)})
    assert not TUNING & set(rules_of(result))
    off = COMPOSE.format(flags="", environment=environment.replace(":-True", ":-False"))
    assert TUNING <= set(rules_of(lint_config(tmp_path, NGINX, files={"docker-compose.yml": off})))


@pytest.mark.parametrize("main, development", [
    ("nginx.dev.conf", True),                      # the file's name
    ("docker/dev/nginx.conf", True),               # the folder it is kept in
    ("compose/local/nginx/nginx.conf", True),
    ("usr/local/etc/nginx/nginx.conf", False),     # FreeBSD's prefix, no development's
    ("deploy/nginx/nginx.conf", False),
    ("nginx/developers.conf", False),              # a word of the name, not the word
])
def test_nginx_kept_under_a_development_name_is_a_development_setup(tmp_path, main, development):
    result = lint_config(tmp_path, NGINX, main=main)
    assert (not TUNING & set(rules_of(result))) is development
    assert any("a development setup" in note for note in result.notes) is development


@pytest.mark.parametrize("compose_files, development", [
    (["docker-compose.dev.yml"], True),
    (["compose.local.yaml"], True),
    (["docker-compose.yml"], False),
    (["docker-compose.dev.yml", "docker-compose.prod.yml"], False),  # production runs it too
])
def test_nginx_run_only_by_development_compose_files_is_a_development_setup(tmp_path, compose_files, development):
    service = "services:\n  nginx:\n    image: nginx:1.27\n    volumes:\n      - ./nginx.conf:/etc/nginx/nginx.conf:ro\n"
    result = lint_config(tmp_path, NGINX, files={name: service for name in compose_files})
    assert (not TUNING & set(rules_of(result))) is development


@pytest.mark.parametrize("names, development", [
    ("perma-archives.test api.perma-archives.test", True),     # RFC 6761 names for testing
    ("app.localhost", True),
    ("localhost", False),                                     # nginx's own default.conf says so in production images
    ("shop.example.org app.test", False),
])
def test_nginx_serving_only_names_kept_for_testing_is_a_development_setup(tmp_path, names, development):
    config = NGINX.replace("listen 80;", f"listen 80; server_name {names};")
    result = lint_config(tmp_path, config)
    assert (not TUNING & set(rules_of(result))) is development


KUMA_COMPOSE = """services:
  {name}:
    command: gunicorn -w 4 --bind 0.0.0.0:8000 kuma.wsgi:application
    environment:
      - DEBUG=${{DEBUG:-True}}
  nginx:
    build: ./docker/images/nginx
    ports:
      - "443:443"
"""


@pytest.mark.parametrize("service, development", [("web", True), ("worker", False)])
def test_the_service_nginx_passes_to_told_development_makes_one_whatever_command_is_given(tmp_path, service,
                                                                                          development):
    """kuma: nginx's compose file starts the app it passes to (`web:8000`) with DEBUG on; the
    command given on the command line carries no environment."""
    write_tree(tmp_path, {"docker/images/nginx/nginx.conf": NGINX, "docker-compose.yml": KUMA_COMPOSE.format(name=service)})
    result = lint([str(tmp_path / "docker/images/nginx/nginx.conf")], nginx_version="1.22.1", select=["ALL"],
                  gunicorn_cmd="gunicorn -w 4 --bind 0.0.0.0:8000 kuma.wsgi:application")
    assert (not TUNING & set(rules_of(result))) is development


def test_a_compose_file_overriding_the_image_the_app_is_read_from_does_not_make_it_development(tmp_path):
    """openstates: the app's Dockerfile (the image deployed) is the app side; the compose file
    that gives it DEBUG=True for developers is one use of that image."""
    write_tree(tmp_path, {"docker/images/nginx/nginx.conf": NGINX, "docker-compose.yml": KUMA_COMPOSE.format(name="web"),
                          "Dockerfile": "FROM python:3.12\nCMD gunicorn -w 4 --bind 0.0.0.0:8000 kuma.wsgi:application\n"})
    result = lint([str(tmp_path / "docker/images/nginx/nginx.conf")], nginx_version="1.22.1", select=["ALL"],
                  gunicorn=str(tmp_path / "Dockerfile"))
    assert "worker-processes" in rules_of(result)
