"""Advice that never contradicts: a finding's advice, applied, must not produce another finding.

Two forms of applied advice are checked: each rule's documented Good example (its advice,
applied to its Bad example), and the ``--fix`` edits (``confgen.fix``) applied to every rule's
Bad example and to the fixtures. After either, a re-lint with every rule selected may report
fewer rules than before, never one that was not there.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

import confgen
from confgen.lint.engine import all_rules, lint
from conftest import MINIMAL_PROFILE, REPO

FIXTURES = REPO / "tests" / "fixtures"


def _write_example(directory: Path, r, which: str) -> dict:
    """The rule's Bad or Good example as nginx.conf (+ gunicorn.conf.py, profile) in
    ``directory``; returns the lint options for it."""
    doc = r.doc
    directory.mkdir(parents=True, exist_ok=True)
    # A rule about Kubernetes manifests documents itself with a manifest (still linted as given).
    (directory / _main_file(r)).write_text(getattr(doc, which))
    gunicorn = doc.good_gunicorn if which == "good" and doc.good_gunicorn else doc.gunicorn
    options = {"nginx_version": doc.version or "1.22.1", "select": ["ALL"]}
    if gunicorn:
        (directory / "gunicorn.conf.py").write_text(gunicorn)
        options["gunicorn"] = str(directory / "gunicorn.conf.py")
    command = doc.good_app_command if which == "good" and doc.good_app_command else doc.app_command
    if command:
        (directory / "Procfile").write_text(f"web: {command}\n")  # paired beside nginx.conf
    if "profile" in r.needs:
        (directory / "profile.yaml").write_text(yaml.safe_dump(MINIMAL_PROFILE))
        options["profile"] = str(directory / "profile.yaml")
    return options


def _rules(paths, options) -> set[str]:
    return {f.rule for f in lint([str(p) for p in paths], **options).findings}


def _unmasked(paths, options) -> set[str]:
    """The app rules a run could not apply because no upstream reached the app's bind (a note
    says so): fixing the bind lets them judge the app for the first time, which is not a
    finding the advice caused."""
    notes = lint([str(p) for p in paths], **options).notes
    if any("app rules checked none" in note for note in notes):
        return {r.name for r in all_rules() if "gunicorn" in r.needs}
    return set()


RULES = [r for r in all_rules() if not r.always]


def _main_file(r) -> str:
    """What a rule's examples are: a Kubernetes manifest, or an nginx config."""
    return "app.yaml" if r.doc.bad.lstrip().startswith("apiVersion:") else "nginx.conf"


@pytest.mark.parametrize("r", RULES, ids=lambda r: r.name)
def test_the_documented_advice_applied_to_the_bad_example_produces_no_new_finding(tmp_path, r):
    bad_options = _write_example(tmp_path / "bad", r, "bad")
    good_options = _write_example(tmp_path / "good", r, "good")
    main = _main_file(r)
    before = _rules([tmp_path / "bad" / main], bad_options)
    after = _rules([tmp_path / "good" / main], good_options)
    assert r.name in before and r.name not in after
    new = after - before - _unmasked([tmp_path / "bad" / main], bad_options)
    assert not new, f"following {r.name}'s advice brings {sorted(new)}"


def _fixed(paths: list[Path], options: dict) -> tuple[set[str], set[str], int]:
    """(rules before, rules after applying every fix, number of edits) for files in a scratch tree."""
    before = _rules(paths, options)
    plan = confgen.fix([str(p) for p in paths], unsafe=True, **options)
    for file, text in plan.new_texts().items():
        Path(file).write_text(text)
    return before, _rules(paths, options), len(plan.edits)


@pytest.mark.parametrize("r", RULES, ids=lambda r: r.name)
def test_fixes_applied_to_the_bad_example_produce_no_new_finding(tmp_path, r):
    options = _write_example(tmp_path, r, "bad")
    before, after, _ = _fixed([tmp_path / _main_file(r)], options)
    assert not after - before, f"fixing {r.name}'s Bad example brings {sorted(after - before)}"


def _fixture_cases():
    yield pytest.param("lint/article", "nginx.conf", "gunicorn.conf.py", id="article")
    yield pytest.param("nginx/site", "nginx.conf", None, id="site")
    yield pytest.param("nginx", "openresty.conf", None, id="openresty")


@pytest.mark.parametrize("folder, main, gunicorn", list(_fixture_cases()))
def test_fixes_applied_to_the_fixtures_produce_no_new_finding(tmp_path, folder, main, gunicorn):
    tree = tmp_path / "tree"
    shutil.copytree(FIXTURES / folder, tree)
    options = {"nginx_version": "1.22.1", "select": ["ALL"]}
    if gunicorn:
        options["gunicorn"] = str(tree / gunicorn)
    before, after, _ = _fixed([tree / main], options)
    assert not after - before, f"fixing {folder}/{main} brings {sorted(after - before)}"


@pytest.mark.parametrize("worker", ["sync", "gthread", "gevent", "uvicorn_worker.UvicornWorker"])
def test_the_keepalive_advice_and_fixes_per_worker_class_produce_no_new_finding(tmp_path, worker):
    (tmp_path / "nginx.conf").write_text(
        "upstream app { server 127.0.0.1:8000; }\n"
        "server {\n    location / { proxy_pass http://app; }\n    location /api/ { proxy_pass http://127.0.0.1:8000; }\n}\n")
    (tmp_path / "gunicorn.conf.py").write_text(f'worker_class = "{worker}"\nthreads = 1\n')
    options = {"nginx_version": "1.22.1", "select": ["ALL"], "gunicorn": str(tmp_path / "gunicorn.conf.py")}
    before, after, _ = _fixed([tmp_path / "nginx.conf"], options)
    assert not after - before, f"behind {worker}: fixing brings {sorted(after - before)}"
