"""Project configuration discovery and validation, init, schema and render-check."""

from __future__ import annotations

import json

import pytest
import yaml
from click.testing import CliRunner

from confgen.cli import main
from confgen.errors import ConfgenError
from confgen.profile.loading import load_profile, profile_schema
from confgen.project_config import ProjectConfig, find_project_config, load_project_config
from conftest import MINIMAL_PROFILE, PROFILES


def test_nearest_config_wins(tmp_path):
    (tmp_path / "pyproject.toml").write_text('[tool.confgen]\nignore = ["gzip-level-high"]\n')
    inner = tmp_path / "deploy" / "nginx"
    inner.mkdir(parents=True)
    (tmp_path / "deploy" / ".confgen.toml").write_text('select = ["CG1"]\nnginx-version = "1.26"\n')
    near = find_project_config(inner)
    assert near.path == tmp_path / "deploy" / ".confgen.toml"
    assert near.select == ("CG1",) and near.nginx_version == "1.26" and near.ignore == ()
    far = find_project_config(tmp_path)
    assert far.ignore == ("gzip-level-high",)


def test_pyproject_without_tool_confgen_is_skipped(tmp_path):
    (tmp_path / "pyproject.toml").write_text('[tool.confgen]\nselect = ["CG2"]\n')
    sub = tmp_path / "sub"
    sub.mkdir()
    (sub / "pyproject.toml").write_text('[project]\nname = "x"\n')
    assert find_project_config(sub).select == ("CG2",)


def test_no_config_gives_defaults(tmp_path):
    config = find_project_config(tmp_path)
    assert config.path is None and config.select == () and config.profiles == {}


def test_unknown_key_names_it_and_suggests(tmp_path):
    path = tmp_path / ".confgen.toml"
    path.write_text('selct = ["CG1"]\n')
    with pytest.raises(ConfgenError, match="unknown key 'selct'; did you mean 'select'"):
        load_project_config(path)


@pytest.mark.parametrize(
    "text, message",
    [
        ('select = 3\n', "select: expected a list"),
        ('severity = { upstream-no-keepalive = "fatal" }\n', "'fatal' is not one of"),
        ('gunicorn = { "nginx.conf" = 3 }\n', "gunicorn.nginx.conf: expected a path"),
        ('select = [\n', "invalid TOML"),
    ],
)
def test_bad_values(tmp_path, text, message):
    path = tmp_path / ".confgen.toml"
    path.write_text(text)
    with pytest.raises(ConfgenError, match=message):
        load_project_config(path)


def test_paths_are_relative_to_the_config(tmp_path):
    path = tmp_path / ".confgen.toml"
    path.write_text(
        'root = "deploy/nginx.conf"\n'
        'per-file-ignores = { "legacy/*.conf" = ["worker-processes"] }\n'
        '[gunicorn]\n"deploy/nginx.conf" = "deploy/gunicorn.conf.py"\n"deploy/w.conf" = { cmd = "gunicorn app:app" }\n'
        '[profiles]\n"deploy/profile.yaml" = "deploy"\n'
    )
    config = load_project_config(path)
    assert config.root == tmp_path / "deploy" / "nginx.conf"
    assert config.gunicorn_for(tmp_path / "deploy" / "nginx.conf").config == tmp_path / "deploy" / "gunicorn.conf.py"
    assert config.gunicorn_for(tmp_path / "deploy" / "w.conf").cmd == "gunicorn app:app"
    assert config.profiles == {tmp_path / "deploy" / "profile.yaml": tmp_path / "deploy"}
    assert config.ignored_for(tmp_path / "legacy" / "old.conf") == ("worker-processes",)
    assert config.ignored_for(tmp_path / "deploy" / "nginx.conf") == ()


def test_schema_command_prints_the_schema():
    result = CliRunner().invoke(main, ["schema"])
    assert result.exit_code == 0 and json.loads(result.output) == profile_schema()


@pytest.mark.parametrize("path", PROFILES, ids=lambda p: p.name)
def test_bundled_profiles_point_editors_at_the_schema(path):
    first = path.read_text().splitlines()[0]
    assert first.startswith("# yaml-language-server: $schema=")
    schema_file = (path.parent / first.split("=", 1)[1]).resolve()
    assert json.loads(schema_file.read_text()) == profile_schema()


def test_init_writes_a_valid_profile_and_never_overwrites(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    result = runner.invoke(main, ["init", "--cpus", "3", "--kind", "wsgi", "--module", "site.wsgi:application"])
    assert result.exit_code == 0, result.output
    written = (tmp_path / "profile.yaml").read_text()
    profile = load_profile(tmp_path / "profile.yaml")
    assert profile.cpus == 3 and profile.app.kind == "wsgi" and profile.app.module == "site.wsgi:application"
    again = runner.invoke(main, ["init", "--cpus", "8"])
    assert again.exit_code == 2 and "--force" in again.output
    assert (tmp_path / "profile.yaml").read_text() == written
    forced = runner.invoke(main, ["init", "--cpus", "8", "--force"])
    assert forced.exit_code == 0 and load_profile(tmp_path / "profile.yaml").cpus == 8


def test_init_without_a_terminal_asks_nothing(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["init"], input="")
    assert result.exit_code == 0 and load_profile(tmp_path / "profile.yaml").app.kind == "asgi"


def test_init_rejects_a_bad_module(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["init", "--module", "not a module"])
    assert result.exit_code == 2 and "app.module" in result.output
    assert not (tmp_path / "profile.yaml").exists()


def test_render_check_uses_configured_profiles(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "deploy").mkdir()
    (tmp_path / "deploy" / "profile.yaml").write_text(yaml.safe_dump(MINIMAL_PROFILE))
    (tmp_path / ".confgen.toml").write_text('[profiles]\n"deploy/profile.yaml" = "deploy"\n')
    runner = CliRunner()
    stale = runner.invoke(main, ["render-check"])
    assert stale.exit_code == 1 and "is stale" in stale.output
    runner.invoke(main, ["render", "deploy/profile.yaml", "-o", "deploy"])
    fresh = runner.invoke(main, ["render-check"])
    assert fresh.exit_code == 0, fresh.output


def test_render_check_covers_committed_kubernetes_manifests(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "k8s").mkdir()
    profile = {**MINIMAL_PROFILE, "name": "shop", "kubernetes": {"image": "registry.example/shop:1"}}
    (tmp_path / "k8s" / "profile.yaml").write_text(yaml.safe_dump(profile))
    (tmp_path / ".confgen.toml").write_text('[profiles]\n"k8s/profile.yaml" = "k8s"\n')
    runner = CliRunner()
    written = runner.invoke(main, ["render", "k8s/profile.yaml", "--target", "kubernetes", "-o", "k8s"])
    assert written.exit_code == 0, written.output
    fresh = runner.invoke(main, ["render-check"])
    assert fresh.exit_code == 0, fresh.output
    assert not (tmp_path / "k8s" / "nginx.conf").exists()  # only what that target writes is compared
    profile["app"] = {**profile["app"], "timeout_s": 45}
    (tmp_path / "k8s" / "profile.yaml").write_text(yaml.safe_dump(profile))
    stale = runner.invoke(main, ["render-check"])
    assert stale.exit_code == 1 and "--target kubernetes -o" in stale.output and "kubernetes.yaml" in stale.output


def test_preset_and_rule_options_are_read(tmp_path):
    path = tmp_path / "pyproject.toml"
    path.write_text('[tool.confgen]\npreset = "strict"\n\n[tool.confgen.rules.gzip-level-high]\nmax-level = 7\n')
    config = load_project_config(path)
    assert config.preset == "strict" and config.default_select == ("default", "hardening")
    assert config.rules == {"gzip-level-high": {"max-level": 7}}
    assert config.key_prefix == f"{path}: [tool.confgen] "
    assert load_project_config(_write(tmp_path, 'select = ["ALL"]\npreset = "strict"\n')).default_select == ("ALL",)
    assert ProjectConfig().default_select == ("default",)


@pytest.mark.parametrize("text, message", [
    ('preset = "paranoid"\n', "preset: 'paranoid' is not one of default, strict"),
    ('rules = { gzip-level-high = 7 }\n', "rules.gzip-level-high: expected a table of options"),
    ('rules = 3\n', "rules: expected a table"),
])
def test_bad_preset_and_rules_tables(tmp_path, text, message):
    with pytest.raises(ConfgenError, match=message):
        load_project_config(_write(tmp_path, text))


def _write(tmp_path, text):
    path = tmp_path / ".confgen.toml"
    path.write_text(text)
    return path
