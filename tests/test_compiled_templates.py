"""The templates compiled ahead of time (confgen/render/compiled/) are current, render exactly what
compiling the templates renders, and are never used for a template or a Jinja they were not
compiled from."""

from __future__ import annotations

import jinja2
import pytest

from confgen.render import precompiled, rendering
from confgen.render.checked import render_checked
from confgen.render.kubernetes import render_kubernetes
from conftest import MINIMAL_PROFILE, REPO

TEMPLATES = sorted((REPO / "templates").glob("*.j2"))
PROFILES = sorted((REPO / "profiles").glob("*.yaml"))
COMPILED = REPO / "confgen" / "render" / "compiled"


@pytest.mark.parametrize("template", TEMPLATES, ids=[t.name for t in TEMPLATES])
def test_each_compiled_module_is_current(template):
    module = COMPILED / f"{precompiled.module_name(template.name)}.py"
    expected = precompiled.module_text(rendering._environment(), template.name, template.read_text("utf-8"))
    assert module.is_file() and module.read_text("utf-8") == expected, \
        f"{module} is stale (its template was edited, or Jinja {jinja2.__version__} is not the Jinja it was " \
        f"compiled by; renders compile the template meanwhile): run `python scripts/compile_templates.py`"


def test_no_compiled_module_outlives_its_template():
    names = {precompiled.module_name(t.name) for t in TEMPLATES} | {"__init__"}
    assert {p.stem for p in COMPILED.glob("*.py")} <= names


@pytest.fixture
def compiled_from_source(monkeypatch):
    """Renders that compile every template, as before the compiled modules existed."""
    def render(function, *args, **kwargs):
        monkeypatch.setattr(precompiled, "fresh_module", lambda template, source: None)
        rendering._environment.cache_clear()
        try:
            return function(*args, **kwargs)
        finally:
            monkeypatch.undo()
            rendering._environment.cache_clear()
    return render


@pytest.mark.parametrize("profile", [*PROFILES, MINIMAL_PROFILE], ids=[*(p.name for p in PROFILES), "minimal"])
def test_the_compiled_modules_render_what_compiling_renders(profile, compiled_from_source):
    source = str(profile) if not isinstance(profile, dict) else profile
    rendering._environment.cache_clear()
    assert render_checked(source)[0] == compiled_from_source(render_checked, source)[0]


def test_the_kubernetes_output_renders_alike(compiled_from_source):
    pod = {**MINIMAL_PROFILE, "name": "shop_api", "kubernetes": {"image": "registry.example/shop:1.4"}}
    rendering._environment.cache_clear()
    assert render_kubernetes(pod)[0] == compiled_from_source(render_kubernetes, pod)[0]


def test_the_starter_profile_renders_alike(compiled_from_source):
    options = dict(name="shop", cpus=4, kind="wsgi", module="shop.wsgi:application", file_name="profile.yaml")
    rendering._environment.cache_clear()
    assert rendering.starter_profile(**options) == compiled_from_source(rendering.starter_profile, **options)


def test_a_template_that_matches_its_module_is_not_compiled_again(monkeypatch):
    matching = [t.name for t in TEMPLATES if rendering._template_source(t.name) == t.read_text("utf-8")]
    assert "nginx.conf.j2" in matching
    compiled = []
    monkeypatch.setattr(jinja2.Environment, "compile", lambda self, *a, **k: compiled.append(a[1]))
    rendering._environment.cache_clear()
    try:
        for name in matching:
            rendering._environment().get_template(name)
    finally:
        rendering._environment.cache_clear()
    assert compiled == []


def test_a_module_is_not_used_for_another_text_or_another_jinja(monkeypatch):
    text = (REPO / "templates" / "nginx.conf.j2").read_text("utf-8")
    assert precompiled.fresh_module("nginx.conf.j2", text) is not None
    assert precompiled.fresh_module("nginx.conf.j2", text + "\n# edited\n") is None
    monkeypatch.setattr(jinja2, "__version__", "99.0")
    assert precompiled.fresh_module("nginx.conf.j2", text) is None
    assert precompiled.fresh_module("no-such-template.j2", text) is None
