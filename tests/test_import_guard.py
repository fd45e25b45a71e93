"""What a `confgen lint` run loads: a pre-commit hook starts it on every commit, so it imports
only what linting needs. Guarded by behaviour (the modules loaded), not by a wall-clock time;
bench/ measures the time."""

from __future__ import annotations

import json
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
