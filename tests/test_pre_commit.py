"""The real pre-commit runs both hooks from this checkout: failing on a bad change, passing on a
good one. pre-commit installs the hook repo into its own virtualenv from the package index."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from confgen.files import write_atomically
from confgen.render.rendering import render_profile
from conftest import MINIMAL_PROFILE, REPO


def _git(*args, cwd):
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout.strip()


# What pre-commit needs of the hook repository: the package and its metadata, not the tests.
_NOT_IN_HOOK_REPO = shutil.ignore_patterns(".git", "tests", "bench", "__pycache__", "*.egg-info", "build", "dist",
                                           ".venv", "venv")


def _hook_repository(tmp_path: Path) -> tuple[Path, str]:
    """(a git repository holding this working tree as it is now, its commit): pre-commit installs
    hooks from a commit, so the files under test, committed or not, are committed there. Works
    from a checkout with uncommitted changes, and from a source tree that is no checkout at all."""
    hooks = tmp_path / "hook-repo"
    shutil.copytree(REPO, hooks, ignore=_NOT_IN_HOOK_REPO)
    _git("init", "-q", cwd=hooks)
    _git("config", "user.email", "t@example.com", cwd=hooks)
    _git("config", "user.name", "t", cwd=hooks)
    _git("add", ".", cwd=hooks)
    _git("commit", "-qm", "the working tree under test", cwd=hooks)
    return hooks, _git("rev-parse", "HEAD", cwd=hooks)


@pytest.fixture
def project(tmp_path):
    if not shutil.which("git") or not shutil.which("pre-commit"):
        pytest.skip("git and pre-commit are needed")
    hooks, rev = _hook_repository(tmp_path)
    work = tmp_path / "project"
    deploy = work / "deploy"
    deploy.mkdir(parents=True)
    (deploy / "profile.yaml").write_text(yaml.safe_dump(MINIMAL_PROFILE))
    write_atomically(render_profile(deploy / "profile.yaml"), deploy)
    (work / ".confgen.toml").write_text('[profiles]\n"deploy/profile.yaml" = "deploy"\n'
                                        '[gunicorn]\n"deploy/nginx.conf" = "deploy/gunicorn.conf.py"\n')
    (work / ".pre-commit-config.yaml").write_text(yaml.safe_dump({
        "repos": [{"repo": str(hooks), "rev": rev,
                   "hooks": [{"id": "confgen-lint", "files": r"(^|/)nginx\.conf$"}, {"id": "confgen-render-check"}]}]
    }))
    _git("init", "-q", cwd=work)
    _git("config", "user.email", "t@example.com", cwd=work)
    _git("config", "user.name", "t", cwd=work)
    _git("add", ".", cwd=work)
    _git("commit", "-qm", "rendered configs", cwd=work)
    return work


def _pre_commit(work: Path, home: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PRE_COMMIT_HOME": str(home), "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    return subprocess.run(["pre-commit", "run", "--all-files", "--color", "never"], cwd=work,
                          capture_output=True, text=True, timeout=600, env=env)


def test_hooks_pass_on_good_and_fail_on_bad_changes(project, tmp_path):
    home = tmp_path / "pre-commit-home"
    good = _pre_commit(project, home)
    assert good.returncode == 0, good.stdout + good.stderr
    assert "confgen lint" in good.stdout and "Passed" in good.stdout

    nginx = project / "deploy" / "nginx.conf"
    nginx.write_text(nginx.read_text().replace("proxy_http_version 1.1;", ""))
    _git("add", ".", cwd=project)
    bad = _pre_commit(project, home)
    assert bad.returncode == 1
    assert "keepalive-needs-http11" in bad.stdout  # the lint hook names the rule
    assert "is stale" in bad.stdout  # the render-check hook shows the drift with a diff
    assert "+            proxy_http_version 1.1;" in bad.stdout
