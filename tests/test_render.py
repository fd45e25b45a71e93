"""Rendering: bundled profiles pass the real nginx -t and gunicorn --check-config; the output
keeps the keep-alive invariants (read back from the files, not the plan); writes are atomic."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import crossplane
import pytest
import yaml
from click.testing import CliRunner

from confgen.render import rendering as render
from confgen.cli import main
from confgen.errors import ConfgenError
from confgen.files import write_atomically
from confgen.gunicorn.worker_timeouts import timeout_model
from confgen.units import parse_time
from conftest import MINIMAL_PROFILE, PROFILES, local_paths


def _load(path: Path) -> dict:
    return yaml.safe_load(path.read_text())


def _runnable(profile: dict, tmp_path: Path, cert=None) -> dict:
    adapted = local_paths(profile, tmp_path)
    if "tls" in adapted and cert:
        adapted["tls"] = {**adapted["tls"], "certificate": cert[0], "certificate_key": cert[1]}
    return adapted


def _parse_nginx(text: str, tmp_path: Path) -> list[dict]:
    path = tmp_path / "parsed.conf"
    path.write_text(text)
    payload = crossplane.parse(str(path), single=True, check_ctx=False, check_args=False)
    assert payload["status"] == "ok", payload["errors"]
    return payload["config"][0]["parsed"]


def _walk(block, parents=()):
    for directive in block:
        yield directive, parents
        yield from _walk(directive.get("block", []), parents + (directive,))


def _gunicorn_settings(text: str) -> dict:
    return {
        node.targets[0].id: ast.literal_eval(node.value)
        for node in ast.parse(text).body
        if isinstance(node, ast.Assign)
    }


def _assert_output_invariants(files: dict[str, str], tmp_path: Path):
    parsed = _parse_nginx(files["nginx.conf"], tmp_path)
    # Each upstream's app: gunicorn.conf.py, or with several routes gunicorn-<upstream>.conf.py.
    apps = {name: _gunicorn_settings(text) for name, text in files.items() if name.endswith(".conf.py")}
    directives = list(_walk(parsed))
    first = {d["directive"]: d["args"] for d, _ in directives}
    assert int(first["worker_rlimit_nofile"][0]) >= 2 * int(first["worker_connections"][0])

    upstreams = {d["args"][0]: d["block"] for d, _ in directives if d["directive"] == "upstream"}
    proxied = [(d, parents) for d, parents in directives if d["directive"] == "proxy_pass"]
    assert proxied, "no location proxies to the app"
    for proxy_pass, parents in proxied:
        name = proxy_pass["args"][0].removeprefix("http://")
        gunicorn = apps.get(f"gunicorn-{name}.conf.py") or apps["gunicorn.conf.py"]
        upstream = {d["directive"]: d["args"] for d in upstreams[name]}
        assert int(upstream["keepalive"][0]) >= 1
        assert gunicorn["keepalive"] > parse_time(upstream.get("keepalive_timeout", ["60s"])[0])
        location = parents[-1]["block"]
        own = {d["directive"]: d["args"] for d in location}
        assert own["proxy_http_version"] == ["1.1"]
        headers = {d["args"][0].lower(): d["args"][1] for d in location if d["directive"] == "proxy_set_header"}
        assert headers["connection"] in ("", "$connection_upgrade")
        # Only the sync worker cuts a request at gunicorn's timeout; for the others nginx is the limit.
        if timeout_model(gunicorn["worker_class"]).kills_slow_requests:
            assert gunicorn["timeout"] < parse_time(own["proxy_read_timeout"][0])
        else:
            assert gunicorn["timeout"] == parse_time(own["proxy_read_timeout"][0])
        assert parse_time(own["proxy_connect_timeout"][0]) <= 75
    assert all(gunicorn["worker_class"] != "sync" for gunicorn in apps.values())


@pytest.mark.parametrize("path", PROFILES, ids=lambda p: p.name)
def test_bundled_profile_renders_and_passes_nginx_t(path, tmp_path, nginx_check, request):
    profile = _load(path)
    cert = request.getfixturevalue("self_signed_cert") if "tls" in profile else None
    files = render.render_profile(_runnable(profile, tmp_path, cert))
    _assert_output_invariants(files, tmp_path)
    ok, output = nginx_check(files["nginx.conf"])
    assert ok, output


@pytest.mark.parametrize("path", PROFILES, ids=lambda p: p.name)
def test_bundled_profile_passes_gunicorn_check_config(path, tmp_path):
    profile = _load(path)
    files = render.render_profile(profile)
    apps = [route["app"] for route in profile["routes"]] if "routes" in profile else [profile["app"]]
    configs = [name for name in files if name.endswith(".conf.py")]
    assert len(configs) == len(apps)
    for app in apps:
        module, attribute = app["module"].split(":")
        package_dir = tmp_path / Path(*module.split(".")[:-1])
        package_dir.mkdir(parents=True, exist_ok=True)
        for parent in [package_dir, *package_dir.relative_to(tmp_path).parents][:-1]:
            (tmp_path / parent.relative_to(tmp_path) / "__init__.py").touch() if parent != tmp_path else None
        body = ("async def {0}(scope, receive, send):\n    pass\n" if app["kind"] == "asgi"
                else "def {0}(environ, start_response):\n    return []\n").format(attribute.rstrip("()"))
        (package_dir / f"{module.split('.')[-1]}.py").write_text(body)
    for name in configs:
        (tmp_path / name).write_text(files[name])
        result = subprocess.run(
            [sys.executable, "-m", "gunicorn", "--check-config", "-c", name],
            cwd=tmp_path, capture_output=True, text=True, timeout=120,
            env={**os.environ, "PYTHONPATH": str(tmp_path)},
        )
        assert result.returncode == 0, result.stdout + result.stderr


def test_version_aware_http2_syntax(tmp_path, self_signed_cert, nginx_check):
    profile = {**MINIMAL_PROFILE, "tls": {"certificate": self_signed_cert[0], "certificate_key": self_signed_cert[1]},
               "server_names": ["example.com"]}
    old = render.render_profile({**profile, "nginx_version": "1.22"})["nginx.conf"]
    new = render.render_profile({**profile, "nginx_version": "1.25.1"})["nginx.conf"]
    assert "ssl http2;" in old and "http2 on;" not in old
    assert "http2 on;" in new and "ssl http2" not in new
    assert "return 308 https://" in old and "Strict-Transport-Security" in old
    ok, output = nginx_check(render.render_profile(_runnable({**profile, "nginx_version": "1.22"}, tmp_path))["nginx.conf"])
    assert ok, output


def test_websockets_keep_plain_requests_pooled(tmp_path, nginx_check):
    files = render.render_profile(_runnable({**MINIMAL_PROFILE, "app": {**MINIMAL_PROFILE["app"], "websockets": True}}, tmp_path))
    text = files["nginx.conf"]
    assert 'map $http_upgrade $connection_upgrade' in text and '"" "";' in text
    _assert_output_invariants(files, tmp_path)
    ok, output = nginx_check(text)
    assert ok, output


HOSTILE = ["example.com; include /etc/passwd", "a}b", "x\nserver { }", "$host", "#x", "a\x00b",
           "é.example", "'quoted'", '"q"', "x" * 5000, "/srv/x; deny all", "../../etc"]


def _string_fields(profile: dict, prefix=()):
    for key, value in profile.items():
        if isinstance(value, dict):
            yield from _string_fields(value, prefix + (key,))
        elif isinstance(value, str):
            yield prefix + (key,)
        elif isinstance(value, list) and value and isinstance(value[0], str):
            yield prefix + (key, 0)


def _replace(data, path, value):
    data = yaml.safe_load(yaml.safe_dump(data))
    target = data
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return data


@pytest.mark.parametrize("path", PROFILES, ids=lambda p: p.name)
def test_hostile_strings_are_rejected_or_inert(path, tmp_path):
    profile = _load(path)
    baseline = _parse_nginx(render.render_profile(profile)["nginx.conf"], tmp_path)
    baseline_shape = sorted((d["directive"], len(parents)) for d, parents in _walk(baseline))
    for field in _string_fields(profile):
        for hostile in HOSTILE:
            try:
                files = render.render_profile(_replace(profile, field, hostile))
            except ConfgenError:
                continue
            shape = sorted((d["directive"], len(parents)) for d, parents in _walk(_parse_nginx(files["nginx.conf"], tmp_path)))
            assert shape == baseline_shape, f"{field} = {hostile!r} changed the directives"
            ast.parse(files["gunicorn.conf.py"])


# ---------------------------------------------------------------------------------------------
# The CLI and the files on disk


@pytest.fixture
def profile_file(tmp_path):
    path = tmp_path / "profile.yaml"
    path.write_text(yaml.safe_dump(MINIMAL_PROFILE))
    return path


def test_render_writes_both_files_and_check_passes(tmp_path, profile_file):
    out = tmp_path / "out"
    out.mkdir()
    runner = CliRunner()
    result = runner.invoke(main, ["render", str(profile_file), "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert (out / "nginx.conf").read_text().startswith("# nginx.conf rendered by confgen")
    assert "keepalive = " in (out / "gunicorn.conf.py").read_text()
    check = runner.invoke(main, ["render", str(profile_file), "-o", str(out), "--check"])
    assert check.exit_code == 0 and check.output == ""


def test_check_prints_a_diff_and_writes_nothing(tmp_path, profile_file):
    out = tmp_path / "out"
    out.mkdir()
    CliRunner().invoke(main, ["render", str(profile_file), "-o", str(out)])
    edited = (out / "nginx.conf").read_text().replace("worker_processes 2;", "worker_processes 1;")
    (out / "nginx.conf").write_text(edited)
    (out / "gunicorn.conf.py").unlink()
    result = CliRunner().invoke(main, ["render", str(profile_file), "-o", str(out), "--check"])
    assert result.exit_code == 1
    assert "-worker_processes 1;" in result.output and "+worker_processes 2;" in result.output
    assert "/dev/null" in result.output
    assert (out / "nginx.conf").read_text() == edited and not (out / "gunicorn.conf.py").exists()


def test_explain_lists_settings_values_and_reasons(profile_file):
    result = CliRunner().invoke(main, ["render", str(profile_file), "--explain"])
    assert result.exit_code == 0
    rows = {line.split("  ")[0].strip(): line for line in result.output.splitlines()}
    assert "nginx worker_connections" in rows and "clients=200" in rows["nginx worker_connections"]
    assert "gunicorn keepalive" in rows


def test_stdout_writes_no_file(tmp_path, profile_file):
    result = CliRunner().invoke(main, ["render", str(profile_file), "--stdout", "-o", str(tmp_path / "none")])
    assert result.exit_code == 0 and "upstream app" in result.output
    assert not (tmp_path / "none").exists()


def test_failed_write_leaves_old_files_and_no_temp_files(tmp_path, monkeypatch):
    out = tmp_path / "out"
    out.mkdir()
    (out / "nginx.conf").write_text("old nginx\n")
    (out / "gunicorn.conf.py").write_text("old gunicorn\n")
    calls = []

    def failing_fsync(fd):
        calls.append(fd)
        if len(calls) == 2:  # the second file's write hits a full disk
            raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", failing_fsync)
    with pytest.raises(ConfgenError, match="No space left"):
        write_atomically(render.render_profile(MINIMAL_PROFILE), out)
    assert (out / "nginx.conf").read_text() == "old nginx\n"
    assert (out / "gunicorn.conf.py").read_text() == "old gunicorn\n"
    assert sorted(p.name for p in out.iterdir()) == ["gunicorn.conf.py", "nginx.conf"]


def test_invalid_profile_changes_nothing(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "nginx.conf").write_text("keep me\n")
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({**MINIMAL_PROFILE, "cpus": 0}))
    result = CliRunner().invoke(main, ["render", str(bad), "-o", str(out)])
    assert result.exit_code == 2
    assert [p.name for p in out.iterdir()] == ["nginx.conf"] and (out / "nginx.conf").read_text() == "keep me\n"


def test_missing_output_dir_is_created_like_mkdir_p(tmp_path, profile_file):
    target = tmp_path / "deploy" / "site"
    result = CliRunner().invoke(main, ["render", str(profile_file), "-o", str(target)])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in target.iterdir()) == ["gunicorn.conf.py", "nginx.conf"]


def test_failed_render_creates_no_directory(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({**MINIMAL_PROFILE, "cpus": 0}))
    result = CliRunner().invoke(main, ["render", str(bad), "-o", str(tmp_path / "deploy" / "site")])
    assert result.exit_code == 2 and not (tmp_path / "deploy").exists()


def test_failed_write_removes_the_directories_it_created(tmp_path, profile_file, monkeypatch):
    def full_disk(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", full_disk)
    result = CliRunner().invoke(main, ["render", str(profile_file), "-o", str(tmp_path / "deploy" / "site")])
    assert result.exit_code == 2 and "No space left" in result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["profile.yaml"]


def test_wheel_ships_templates_and_schema(tmp_path):
    """`pip install .` (not only editable) works: build the wheel, install it into a fresh venv
    and render a bundled profile from another directory."""
    repo = Path(__file__).resolve().parent.parent
    wheel_dir = tmp_path / "wheel"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q",
                    "-w", str(wheel_dir), str(repo)], check=True, capture_output=True, timeout=300)
    wheel = next(wheel_dir.glob("confgen-*.whl"))
    import zipfile

    names = zipfile.ZipFile(wheel).namelist()
    assert "confgen/templates/nginx.conf.j2" in names and "confgen/schemas/profile.schema.json" in names
    venv = tmp_path / "venv"
    # No --system-site-packages: from inside a venv it shows the *base* interpreter's packages,
    # not this environment's. The dependencies come from where this interpreter finds them (a
    # .pth with its site-packages); confgen itself only from the wheel, which the venv's own
    # site-packages puts first.
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    subprocess.run([str(venv / "bin" / "pip"), "install", "-q", "--no-deps", "--force-reinstall", str(wheel)],
                   check=True, capture_output=True, timeout=300)
    inner_site = subprocess.run([str(venv / "bin" / "python"), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                                check=True, capture_output=True, text=True, timeout=60).stdout.strip()
    import jinja2
    import jsonschema

    outer_sites = {str(Path(module.__file__).resolve().parent.parent) for module in (jinja2, jsonschema)}
    (Path(inner_site) / "outer-dependencies.pth").write_text("\n".join(sorted(outer_sites)) + "\n")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    result = subprocess.run([str(venv / "bin" / "confgen"), "render", str(PROFILES[0]), "--stdout"],
                            cwd=elsewhere, capture_output=True, text=True, timeout=60,
                            env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"})
    assert result.returncode == 0, result.stderr
    assert "upstream" in result.stdout


def test_compiled_templates_are_cached_in_the_users_cache_and_change_nothing(tmp_path_factory, profile_file):
    """Jinja's bytecode cache in $XDG_CACHE_HOME/confgen: a second render reads it, the output is
    byte for byte what an uncached render gives, and CONFGEN_NO_CACHE=1 writes no cache at all."""
    cache = tmp_path_factory.mktemp("xdg-cache")

    def rendered(**env) -> str:
        done = subprocess.run([sys.executable, "-m", "confgen", "render", str(profile_file), "--stdout"],
                              capture_output=True, text=True, timeout=120,
                              env={**os.environ, "XDG_CACHE_HOME": str(cache), **env})
        assert done.returncode == 0, done.stderr
        return done.stdout

    uncached = rendered(CONFGEN_NO_CACHE="1")
    assert not (cache / "confgen").exists()
    first, second = rendered(), rendered()
    entries = list((cache / "confgen").glob("jinja-*/*.cache"))
    assert entries and uncached == first == second
    assert not any(path.suffix == ".cache" for path in profile_file.parent.rglob("*"))  # never beside the project


def test_render_check_reads_the_template_cache_but_never_writes_it(tmp_path_factory, profile_file):
    cache = tmp_path_factory.mktemp("xdg-cache")
    out = profile_file.parent / "out"
    environ = {**os.environ, "XDG_CACHE_HOME": str(cache)}
    for command in (["render", str(profile_file), "-o", str(out), "--check"], ["render-check", str(profile_file)]):
        done = subprocess.run([sys.executable, "-m", "confgen", *command], capture_output=True, text=True,
                              timeout=120, env=environ, cwd=profile_file.parent)
        assert done.returncode in (0, 1), done.stderr
        assert list(cache.rglob("*")) == [], command
