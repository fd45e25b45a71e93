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
