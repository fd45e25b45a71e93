"""Render never loses a file: what confgen did not write, or what was edited since it did, is
not replaced without force; a read-only file or a symbolic link never is; a refusal writes
nothing, across all the files of one render."""

from __future__ import annotations

import os

import pytest
import yaml
from click.testing import CliRunner

from confgen.render.checked import write_rendered
from confgen.cli import main
from confgen.errors import ConfgenError
from confgen.render import stamp
from confgen.render.rendering import render_profile
from conftest import MINIMAL_PROFILE

HAND_WRITTEN = "# my own nginx.conf\nevents {}\nhttp { server { listen 80; } }\n"
ROUTES = {**{k: v for k, v in MINIMAL_PROFILE.items() if k not in ("app", "expected_qps")}, "routes": [
    {"name": "api", "path": "/api/", "expected_qps": 40, "app": {"module": "api.main:app", "kind": "asgi"}},
    {"name": "web", "path": "/", "expected_qps": 3, "app": {"module": "web.wsgi:application", "kind": "wsgi"}}]}


def snapshot(directory):
    return {p.name: (p.read_bytes(), p.stat().st_mode) for p in sorted(directory.iterdir())}


@pytest.fixture
def rendered():
    return render_profile(MINIMAL_PROFILE)


# ---------------------------------------------------------------------------------------------
# The stamp


def test_every_rendered_file_carries_a_digest_of_itself_below_its_header():
    files = render_profile({**MINIMAL_PROFILE, "app": {**MINIMAL_PROFILE["app"], "bind": "/run/app/app.sock"},
                            "systemd": {"user": "app", "working_directory": "/srv/app"}})
    assert sorted(files) == ["gunicorn.conf.py", "gunicorn.service", "gunicorn.socket", "nginx.conf"]
    for name, text in files.items():
        lines = text.splitlines()
        at = next(i for i, line in enumerate(lines) if line.startswith("# confgen-sha256: "))
        assert at > 0 and all(line.startswith("#") for line in lines[:at]), name  # after the header
        assert stamp.provenance(text) == stamp.RENDERED, name


def test_an_edit_anywhere_is_detected():
    text = render_profile(MINIMAL_PROFILE)["nginx.conf"]
    assert stamp.provenance(text.replace("gzip on;", "gzip off;")) == stamp.EDITED
    assert stamp.provenance(text + "\n") == stamp.EDITED
    assert stamp.provenance(text.replace("nginx.conf rendered", "nginx.conf Rendered")) == stamp.EDITED
    digest_line = next(line for line in text.splitlines() if line.startswith("# confgen-sha256: "))
    other_digest = digest_line.replace(digest_line[18:82], "0" * 64)
    assert stamp.provenance(text.replace(digest_line, other_digest)) == stamp.EDITED
    assert stamp.provenance(text.replace(digest_line + "\n", "")) == stamp.OLD_CONFGEN
    assert stamp.provenance(HAND_WRITTEN) == stamp.FOREIGN


# ---------------------------------------------------------------------------------------------
# Replacing files


def test_a_hand_written_file_is_not_replaced_and_nothing_is_written(tmp_path, rendered):
    (tmp_path / "nginx.conf").write_text(HAND_WRITTEN)
    before = snapshot(tmp_path)
    with pytest.raises(ConfgenError) as raised:
        write_rendered(rendered, tmp_path)
    (line,) = raised.value.lines
    assert line.startswith(f"{tmp_path / 'nginx.conf'}: not written by confgen") and "--force" in line
    assert "nothing was written" in line
    assert snapshot(tmp_path) == before  # no gunicorn.conf.py either: all files or none


def test_force_replaces_it(tmp_path, rendered):
    (tmp_path / "nginx.conf").write_text(HAND_WRITTEN)
    write_rendered(rendered, tmp_path, force=True)
    assert (tmp_path / "nginx.conf").read_text() == rendered["nginx.conf"]


def test_confgens_own_unedited_files_are_replaced(tmp_path, rendered):
    write_rendered(rendered, tmp_path)
    changed = render_profile({**MINIMAL_PROFILE, "clients": 5000})
    assert changed != rendered
    write_rendered(changed, tmp_path)
    assert {name: (tmp_path / name).read_text() for name in changed} == changed


def test_an_edited_file_is_kept_until_forced(tmp_path, rendered):
    write_rendered(rendered, tmp_path)
    nginx = tmp_path / "nginx.conf"
    nginx.write_text(nginx.read_text().replace("gzip_comp_level 5;", "gzip_comp_level 6;"))
    before = snapshot(tmp_path)
    changed = render_profile({**MINIMAL_PROFILE, "clients": 5000})
    with pytest.raises(ConfgenError) as raised:
        write_rendered(changed, tmp_path)
    (line,) = raised.value.lines
    assert line.startswith(f"{nginx}: edited since confgen rendered it")
    assert snapshot(tmp_path) == before
    write_rendered(changed, tmp_path, force=True)
    assert nginx.read_text() == changed["nginx.conf"]


def test_a_file_of_a_confgen_without_stamps_is_kept(tmp_path, rendered):
    digest = next(line for line in rendered["nginx.conf"].splitlines(keepends=True) if "confgen-sha256" in line)
    (tmp_path / "nginx.conf").write_text(rendered["nginx.conf"].replace(digest, "").replace("gzip on", "gzip  on"))
    with pytest.raises(ConfgenError, match="did not stamp its files, so an edit cannot be told"):
        write_rendered(rendered, tmp_path)


def test_the_same_text_is_no_loss(tmp_path, rendered):
    write_rendered(rendered, tmp_path)
    assert write_rendered(rendered, tmp_path)  # written again, nothing refused


def test_read_only_files_are_refused_even_when_forced(tmp_path, rendered):
    """As `lint --fix` refuses them: no write bit means read-only on purpose, even for root."""
    write_rendered(rendered, tmp_path)
    (tmp_path / "gunicorn.conf.py").chmod(0o444)
    before = snapshot(tmp_path)
    changed = render_profile({**MINIMAL_PROFILE, "clients": 5000})
    for force in (False, True):
        with pytest.raises(ConfgenError) as raised:
            write_rendered(changed, tmp_path, force=force)
        assert raised.value.lines == [f"{tmp_path / 'gunicorn.conf.py'}: read-only (permission denied); "
                                      f"not replaced; nothing was written"]
        assert snapshot(tmp_path) == before


def test_a_symbolic_link_is_refused(tmp_path, rendered):
    elsewhere = tmp_path / "repo-nginx.conf"
    elsewhere.write_text(rendered["nginx.conf"])
    out = tmp_path / "out"
    out.mkdir()
    (out / "nginx.conf").symlink_to(elsewhere)
    with pytest.raises(ConfgenError, match="is a symbolic link to .*repo-nginx.conf; not replaced"):
        write_rendered(rendered, out, force=True)
    assert (out / "nginx.conf").is_symlink() and sorted(os.listdir(out)) == ["nginx.conf"]


def test_a_directory_in_the_way_is_refused(tmp_path, rendered):
    (tmp_path / "nginx.conf").mkdir()
    with pytest.raises(ConfgenError, match="nginx.conf: is a directory; not replaced"):
        write_rendered(rendered, tmp_path)
    assert not (tmp_path / "gunicorn.conf.py").exists()


def test_one_refused_file_among_many_writes_none_and_each_is_named(tmp_path):
    files = render_profile(ROUTES)
    (tmp_path / "gunicorn-web.conf.py").write_text("workers = 3\n")
    (tmp_path / "nginx.conf").write_text(HAND_WRITTEN)
    before = snapshot(tmp_path)
    with pytest.raises(ConfgenError) as raised:
        write_rendered(files, tmp_path)
    assert [line.split(":")[0] for line in raised.value.lines] == [str(tmp_path / "nginx.conf"),
                                                                   str(tmp_path / "gunicorn-web.conf.py")]
    assert snapshot(tmp_path) == before


def test_cli_render_into_the_current_directory_keeps_a_hand_written_nginx_conf(tmp_path, monkeypatch):
    """The default -o . beside a hand-written nginx.conf: one line naming it, exit 2, no change."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "profile.yaml").write_text(yaml.safe_dump(MINIMAL_PROFILE))
    (tmp_path / "nginx.conf").write_text(HAND_WRITTEN)
    before = snapshot(tmp_path)
    result = CliRunner().invoke(main, ["render", "profile.yaml"])
    assert result.exit_code == 2 and result.exception is None or isinstance(result.exception, SystemExit)
    assert result.output.splitlines() == [line for line in result.output.splitlines() if line.startswith("nginx.conf: ")]
    assert "not written by confgen" in result.output and snapshot(tmp_path) == before


def test_a_read_only_directory_is_one_line_before_any_write(tmp_path, rendered, monkeypatch):
    """A read-only mount (which refuses root too) or a directory without write permission: one
    line for the directory, not one per file. (tests/test_nothing_lost.py mounts one for real.)"""
    write_rendered(rendered, tmp_path)
    before = snapshot(tmp_path)
    real = os.statvfs

    class ReadOnly:
        def __init__(self, path):
            self.f_flag = real(path).f_flag | os.ST_RDONLY

    monkeypatch.setattr(os, "statvfs", ReadOnly)
    with pytest.raises(ConfgenError) as raised:
        write_rendered(render_profile({**MINIMAL_PROFILE, "clients": 5000}), tmp_path, force=True)
    assert raised.value.lines == [f"{tmp_path}: cannot write: Read-only file system; nothing was written"]
    assert snapshot(tmp_path) == before
