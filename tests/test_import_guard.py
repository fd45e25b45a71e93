"""What a `confgen lint` run loads: a pre-commit hook starts it on every commit, so it imports
only what linting needs. Guarded by behaviour (the modules loaded), not by a wall-clock time;
bench/ measures the time."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

HEAVY = ("jinja2", "jsonschema", "yaml", "libcst", "ruamel", "confgen.render", "confgen.measure", "confgen.manifests",
         "confgen.profile.sizing", "confgen.profile.loading")
PROBE = """
import json, sys
from confgen.cli import run
sys.argv = ["confgen", "lint", *sys.argv[1:]]
try:
    run()
except SystemExit:
    pass
loaded = sorted({name.split(".")[0] for name in sys.modules} | {name for name in sys.modules
                                                                 if name.startswith("confgen.")})
print(json.dumps(loaded), file=sys.stderr)
"""


@pytest.mark.parametrize("output", [[], ["--format", "json"], ["--format", "sarif"], ["--diff"]])
def test_lint_on_a_small_pair_imports_no_templating_schema_or_yaml(tmp_path, output):
    (tmp_path / "nginx.conf").write_text("upstream app { server 127.0.0.1:8000; keepalive 8; }\n"
                                         "server { location / { proxy_pass http://app; } }\n")
    (tmp_path / "gunicorn.conf.py").write_text("worker_class = 'gthread'\nthreads = 4\n")
    run = subprocess.run([sys.executable, "-c", PROBE, "nginx.conf", *output], cwd=tmp_path, capture_output=True,
                         text=True, timeout=120)
    loaded = set(json.loads(run.stderr.strip().splitlines()[-1]))
    assert "confgen.lint.engine" in loaded  # the probe did lint
    heavy = {name for name in loaded if any(name == h or name.startswith(h + ".") for h in HEAVY)}
    assert not heavy, sorted(heavy)


# ---------------------------------------------------------------------------------------------
# What issue 24 ("Fast where people wait") took off the start-up of `confgen lint` and `confgen
# render`; each was measured with `python -X importtime` and bench/cli_latency.py. A change that
# imports one of them again on these paths fails here.

EVERY_MODULE_PROBE = """
import json, sys
from confgen.cli import run
try:
    run(sys.argv[1:])
except SystemExit:
    pass
print(json.dumps(sorted(sys.modules)), file=sys.stderr)
"""

# Not needed to lint any nginx file: writing and diffing (tempfile, difflib), the TOML reader (no
# config file here), SARIF's hashes, package metadata, rule documentation.
NOT_FOR_LINTING = ("tempfile", "difflib", "tomllib", "hashlib", "importlib.metadata", "email",
                   "confgen.lint.rule_doc")
# The app side: the gunicorn reader and every other app server's reader and model, and the hops
# of a chain, when no app side is paired.
APP_SIDE = ("confgen.gunicorn", "confgen.appserver.model", "confgen.appserver.uvicorn", "confgen.appserver.hypercorn",
            "confgen.appserver.daphne", "confgen.appserver.uwsgi", "confgen.appserver.entry_script", "confgen.hops")
# A gunicorn.conf.py is read without the command-file sources or the other app servers' readers.
OTHER_APP_SERVERS = ("confgen.gunicorn.sources", "confgen.appserver.model", "confgen.appserver.uvicorn",
                     "confgen.appserver.hypercorn", "confgen.appserver.daphne", "confgen.appserver.uwsgi",
                     "confgen.appserver.entry_script", "shlex")
# nginx -v is run with os.posix_spawn, found without shutil.which (both ~7 ms to import).
RUNNING_TOOLS = ("subprocess", "shutil")


def _loaded(cwd, *argv) -> set[str]:
    run = subprocess.run([sys.executable, "-c", EVERY_MODULE_PROBE, *argv], cwd=cwd, capture_output=True, text=True,
                         timeout=120)
    return set(json.loads(run.stderr.strip().splitlines()[-1]))


def _among(loaded: set[str], names) -> list[str]:
    return sorted(name for name in loaded if any(name == n or name.startswith(n + ".") for n in names))


@pytest.mark.parametrize("output", [[], ["--format", "json"]])
def test_linting_a_lone_nginx_file_loads_no_app_side_and_nothing_linting_does_not_need(tmp_path, output):
    (tmp_path / "nginx.conf").write_text("events {}\nhttp { upstream app { server 127.0.0.1:8000; keepalive 16; }\n"
                                         "server { listen 80; location / { proxy_pass http://app; } } }\n")
    loaded = _loaded(tmp_path, "lint", "nginx.conf", *output)
    assert "confgen.lint.engine" in loaded and "confgen.lint.rules.keepalive" in loaded  # it did lint
    assert not _among(loaded, NOT_FOR_LINTING + APP_SIDE + (RUNNING_TOOLS if os.name == "posix" else ()))


def test_linting_an_nginx_and_gunicorn_pair_reads_gunicorn_only(tmp_path):
    (tmp_path / "nginx.conf").write_text("upstream app { server 127.0.0.1:8000; keepalive 8; }\n"
                                         "server { location / { proxy_pass http://app; } }\n")
    (tmp_path / "gunicorn.conf.py").write_text("worker_class = 'gthread'\nthreads = 4\n")
    loaded = _loaded(tmp_path, "lint", "nginx.conf")
    assert "confgen.gunicorn.reader" in loaded  # the pair was read
    assert not _among(loaded, NOT_FOR_LINTING + OTHER_APP_SERVERS)


def test_rendering_a_valid_profile_imports_no_jsonschema_metadata_or_tool_runner(tmp_path):
    from conftest import PROFILES

    loaded = _loaded(tmp_path, "render", str(PROFILES[0]), "--stdout")
    assert "confgen.render.checked" in loaded and "confgen.lint.engine" in loaded  # rendered and self-checked
    assert not _among(loaded, ("jsonschema", "importlib.metadata", "email", "subprocess", "tomllib", "difflib",
                               "confgen.gunicorn.sources", "confgen.appserver.model"))
