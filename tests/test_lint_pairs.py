"""Each nginx tree of one invocation is checked with its own app side, and a change to either side
runs the check: the API, the command line and the real pre-commit with this repo's hook manifest."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

import confgen
from confgen.errors import ConfgenError
from conftest import REPO
from test_chain import POOLED

RACING_APP = "worker_class = 'gthread'\nthreads = 4\nbind = '127.0.0.1:8001'\nkeepalive = 2\n"
SAFE_APP = RACING_APP.replace("keepalive = 2", "keepalive = 75")


def two_sites(root: Path, app: str = RACING_APP) -> tuple[Path, Path]:
    """app/ proxies to a service confgen knows nothing of; deploy/ to the gunicorn beside it."""
    (root / "app").mkdir(parents=True)
    (root / "deploy").mkdir()
    (root / "app" / "nginx.conf").write_text(POOLED.format(port=9000, extra=""))
    (root / "deploy" / "nginx.conf").write_text(POOLED.format(port=8001, extra=""))
    (root / "deploy" / "gunicorn.conf.py").write_text(app)
    return root / "app" / "nginx.conf", root / "deploy" / "nginx.conf"


@pytest.mark.parametrize("order", ["app first", "deploy first"])
def test_each_tree_is_paired_with_its_own_app(tmp_path, order):
    app, deploy = two_sites(tmp_path)
    paths = [str(app), str(deploy)] if order == "app first" else [str(deploy), str(app)]
    result = confgen.lint_project(paths, nginx_version="1.22.1")
    races = [f for f in result.findings if f.rule == "app-keepalive-race"]
    assert [f.file for f in races] == [str(deploy)]
    # The unrelated site is not judged against deploy's gunicorn.
    assert not [f for f in result.findings if f.file == str(app) and f.code.startswith("CG2")]
    assert any(f"found beside {deploy}" in note for note in result.notes)
    assert any(f"no gunicorn config for {app}" in note for note in result.notes)


def test_fix_edits_only_inside_the_pair_it_reports_on(tmp_path):
    app, deploy = two_sites(tmp_path)
    untouched = app.read_text()
    from confgen.lint.fixes import apply

    run = apply.fix_in_place([str(app), str(deploy)], nginx_version="1.22.1", select=["app-keepalive-race"])
    assert run.written == [str(tmp_path / "deploy" / "gunicorn.conf.py")]
    assert "keepalive = 65" in (tmp_path / "deploy" / "gunicorn.conf.py").read_text()
    assert app.read_text() == untouched


def test_gunicorn_option_for_several_trees_is_a_one_line_error(tmp_path):
    app, deploy = two_sites(tmp_path)
    with pytest.raises(ConfgenError) as error:
        confgen.lint_project([str(app), str(deploy)], gunicorn=str(tmp_path / "deploy" / "gunicorn.conf.py"))
    assert "pair one nginx tree" in str(error.value) and "\n" not in str(error.value)


def test_an_app_side_file_alone_lints_the_tree_paired_with_it(tmp_path):
    _, deploy = two_sites(tmp_path)
    result = confgen.lint_project([str(tmp_path / "deploy" / "gunicorn.conf.py")], nginx_version="1.22.1")
    assert [f.file for f in result.findings if f.rule == "app-keepalive-race"] == [str(deploy)]


def test_the_project_maps_trees_by_glob_and_back(tmp_path):
    (tmp_path / "sites").mkdir()
    (tmp_path / "app").mkdir()
    (tmp_path / "sites" / "a.conf").write_text(POOLED.format(port=8001, extra=""))
    (tmp_path / "app" / "gunicorn.conf.py").write_text(RACING_APP)
    (tmp_path / ".confgen.toml").write_text('[gunicorn]\n"sites/*.conf" = "app/gunicorn.conf.py"\n')
    by_nginx = confgen.lint_project([str(tmp_path / "sites" / "a.conf")], nginx_version="1.22.1")
    by_app = confgen.lint_project([str(tmp_path / "app" / "gunicorn.conf.py")], nginx_version="1.22.1")
    for result in (by_nginx, by_app):
        assert [f.file for f in result.findings if f.rule == "app-keepalive-race"] == [str(tmp_path / "sites" / "a.conf")]


def test_an_app_side_file_without_a_tree_says_so_and_passes(tmp_path):
    (tmp_path / "gunicorn.conf.py").write_text(RACING_APP)
    from click.testing import CliRunner

    from confgen.cli import main

    result = CliRunner().invoke(main, ["lint", str(tmp_path / "gunicorn.conf.py")])
    assert result.exit_code == 0, result.output
    assert "no nginx config is paired with it" in result.output


def test_a_supervisor_program_in_conf_d_is_an_app_side_file_not_nginx(tmp_path):
    (tmp_path / "conf.d").mkdir()
    program = tmp_path / "conf.d" / "app.conf"
    program.write_text("[program:app]\ncommand=gunicorn -k gthread --threads 4 -b 127.0.0.1:8001 app:app\n")
    (tmp_path / "conf.d" / "nginx.conf").write_text(POOLED.format(port=8001, extra=""))
    result = confgen.lint_project([str(program)], nginx_version="1.22.1")
    assert not [f for f in result.findings if f.rule == "syntax-error"]
    assert "app-keepalive-race" in {f.rule for f in result.findings}


UNIT = """[Unit]
Description={name}

[Service]
ExecStart=/srv/venv/bin/{command}

[Install]
WantedBy=multi-user.target
"""
SPLIT = """
upstream wsgi { server 127.0.0.1:8000; keepalive 8; }
upstream asgi { server 127.0.0.1:8001; }
server {
    listen 80;
    location / { proxy_pass http://wsgi; proxy_http_version 1.1; proxy_set_header Connection ""; }
    location /ws/ { proxy_pass http://asgi; proxy_http_version 1.1; proxy_set_header Upgrade $http_upgrade;
                    proxy_set_header Connection "upgrade"; }
}
"""


@pytest.mark.parametrize("gunicorn_bind, paired", [("127.0.0.1:8000", True),
                                                   ("127.0.0.1:8001", False)])   # the daphne unit's twin: one
def test_units_of_two_app_servers_side_by_side_are_each_paired(tmp_path, gunicorn_bind, paired):
    """kitchenbook: gunicorn.service beside daphne.service, each behind its own upstream."""
    (tmp_path / "nginx.conf").write_text(SPLIT)
    (tmp_path / "daphne.service").write_text(UNIT.format(name="daphne", command="daphne -b 127.0.0.1 -p 8001 "
                                                                                 "shop.asgi:application"))
    (tmp_path / "gunicorn.service").write_text(UNIT.format(
        name="gunicorn", command=f"gunicorn -k gthread --threads 4 --keep-alive 2 -b {gunicorn_bind} shop.wsgi"))
    result = confgen.lint_project([str(tmp_path / "nginx.conf")], nginx_version="1.22.1")
    races = [f for f in result.findings if f.rule == "app-keepalive-race"]
    assert bool(races) is paired
    if paired:
        assert "gunicorn.service" in races[0].message
        assert any("daphne.service" in note and "one of 2 app-side files" in note for note in result.notes)


# ---------------------------------------------------------------------------------------------
# The real pre-commit, with this repository's hook manifest


def _git(*args, cwd):
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout


@pytest.fixture
def repository(tmp_path):
    """A git repository whose pre-commit config runs the confgen-lint hook as this repository's
    manifest declares it (entry, files pattern), with the confgen under test."""
    if not shutil.which("git") or shutil.which("pre-commit", path=_path()) is None:
        pytest.skip("git and pre-commit are needed")
    manifest = {hook["id"]: hook for hook in yaml.safe_load((REPO / ".pre-commit-hooks.yaml").read_text())}
    hook = manifest["confgen-lint"]
    work = tmp_path / "work"
    work.mkdir()
    (work / ".pre-commit-config.yaml").write_text(yaml.safe_dump({"repos": [{"repo": "local", "hooks": [{
        "id": hook["id"], "name": hook["name"], "entry": hook["entry"], "language": "system",
        "files": hook["files"], "require_serial": True}]}]}))
    _git("init", "-q", cwd=work)
    _git("config", "user.email", "t@example.com", cwd=work)
    _git("config", "user.name", "t", cwd=work)
    return work


def _path() -> str:
    return os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])


def _pre_commit(work: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PATH": _path(), "PRE_COMMIT_HOME": str(work.parent / "pre-commit-home"),
           "NO_COLOR": "1"}
    return subprocess.run(["pre-commit", "run", "--color", "never", *args], cwd=work, capture_output=True,
                          text=True, timeout=300, env=env)


def test_the_hook_fails_a_two_site_repository_whose_second_site_races(repository):
    two_sites(repository)
    _git("add", ".", cwd=repository)
    run = _pre_commit(repository, "--all-files")
    assert run.returncode == 1, run.stdout + run.stderr
    assert "app-keepalive-race" in run.stdout and "deploy/nginx.conf" in run.stdout
    assert "app-bind-mismatch" not in run.stdout


def test_a_commit_that_changes_only_the_app_side_runs_the_hook_and_fails(repository):
    two_sites(repository, SAFE_APP)
    _git("add", ".", cwd=repository)
    first = _pre_commit(repository)
    assert first.returncode == 0, first.stdout + first.stderr
    _git("commit", "-qm", "two sites, no race", cwd=repository)
    app = repository / "deploy" / "gunicorn.conf.py"
    app.write_text(SAFE_APP.replace("keepalive = 75", "keepalive = 2"))
    _git("add", "deploy/gunicorn.conf.py", cwd=repository)
    run = _pre_commit(repository)  # only the staged file: gunicorn.conf.py
    assert run.returncode == 1, run.stdout + run.stderr
    assert "app-keepalive-race" in run.stdout


@pytest.mark.parametrize("folder", ["systemd", "supervisor", None])
def test_a_unit_in_an_app_server_folder_beside_the_nginx_folder_is_paired(tmp_path, folder):
    """Set 23's django-clean-template: deploy/nginx/site.conf beside deploy/systemd/gunicorn.service.
    A folder of another name is not looked in."""
    (tmp_path / "deploy" / "nginx").mkdir(parents=True)
    (tmp_path / "deploy" / "nginx" / "site.conf").write_text(
        "upstream app { server unix:/run/gunicorn.sock; keepalive 8; }\nserver {\n    listen 80;\n"
        "    location / { proxy_pass http://app; proxy_http_version 1.1; proxy_set_header Connection \"\"; }\n}\n")
    unit_folder = tmp_path / "deploy" / (folder or "misc")
    unit_folder.mkdir()
    (unit_folder / "gunicorn.service").write_text(UNIT.format(
        name="app", command="gunicorn -k gthread --threads 4 --bind unix:/run/gunicorn.sock shop.wsgi"))
    result = confgen.lint_project([str(tmp_path / "deploy" / "nginx" / "site.conf")], nginx_version="1.22.1")
    assert ("app-keepalive-race" in {f.rule for f in result.findings}) is (folder is not None)


def test_one_uwsgi_ini_per_app_beside_nginx_is_each_paired(tmp_path):
    """Set 23's learn_uwsgi: three apps, one ini each, behind one nginx; only the first ini was
    paired, so two of the three apps' 4 KiB buffers went unreported. A twin ini listening where
    another does (a staging copy) is left out."""
    (tmp_path / "nginx.conf").write_text(
        "server {\n    listen 80;\n"
        + "".join(f"    location /{name}/ {{ include uwsgi_params; uwsgi_pass 127.0.0.1:{port}; }}\n"
                  for name, port in (("raw", 3031), ("flask", 3032), ("django", 3033)))
        + "}\n")
    for name, port, extra in (("raw", 3031, ""), ("flask", 3032, ""), ("django", 3033, "buffer-size = 32768\n"),
                              ("flask-staging", 3032, "")):
        (tmp_path / f"{name}.ini").write_text(f"[uwsgi]\nsocket = 127.0.0.1:{port}\nwsgi-file = {name}.py\n{extra}")
    result = confgen.lint_project([str(tmp_path / "nginx.conf")], nginx_version="1.22.1")
    assert sorted(f.line for f in result.findings if f.rule == "uwsgi-buffer-size") == [3, 4]
    assert sorted(note.split(": ")[1].split(" (")[0] for note in result.notes if note.startswith("paired uwsgi")) == [
        str(tmp_path / name) for name in ("django.ini", "flask-staging.ini", "raw.ini")]


def test_a_uwsgi_vassal_beside_an_emperor_unit_and_a_daphne_unit_is_paired(tmp_path):
    """tms-backend: the emperor's unit says nothing of where the app listens; its vassal's ini
    file beside it does, and the daphne unit serves the other upstream."""
    (tmp_path / "nginx.conf").write_text("server {\n    listen 80;\n    location / { uwsgi_pass unix:/tmp/app.sock;"
                                         " include uwsgi_params; }\n    location /ws/ { proxy_pass http://127.0.0.1:9000; }\n}\n")
    (tmp_path / "daphne.service").write_text(UNIT.format(name="daphne", command="daphne -b 127.0.0.1 -p 9000 "
                                                                                 "shop.asgi:application"))
    (tmp_path / "uwsgi.service").write_text(UNIT.format(name="emperor", command="uwsgi --emperor /etc/uwsgi/sites"))
    (tmp_path / "shop.ini").write_text("[uwsgi]\nmodule = shop.wsgi\nmaster = true\nprocesses = 4\n"
                                       "socket = /tmp/app.sock\n")
    result = confgen.lint_project([str(tmp_path / "nginx.conf")], nginx_version="1.22.1")
    assert "uwsgi-buffer-size" in {f.rule for f in result.findings}
    assert any("shop.ini" in note and "one of 3 app-side files" in note for note in result.notes)
