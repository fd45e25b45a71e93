"""With no nginx version named, the config is linted for the oldest version its own syntax
needs (issue 25): `http2 on` on a machine with nginx 1.22 is not "nginx refuses to start" when
the project runs 1.25+. confgen.nginx.versions.adopt_syntax_version does it; the engine calls it
for each tree loaded without --nginx-version (the `_engine_hook` fixture stands in for that call
until the engine has it)."""

from __future__ import annotations

import pytest

import confgen.lint.engine as engine
from confgen.nginx.parse import load_nginx
from confgen.nginx.versions import adopt_syntax_version, syntax_version
from lint_helpers import full, line_of, lint_config, only, write_tree


@pytest.fixture
def _engine_hook(monkeypatch):
    real = engine._load_configs

    def load(paths, *, nginx_version, **options):
        loaded = real(paths, nginx_version=nginx_version, **options)
        if nginx_version is None:
            for config, *_ in loaded:
                if getattr(config, "version_from_syntax", None) is None:
                    adopt_syntax_version(config)
        return loaded

    monkeypatch.setattr(engine, "_load_configs", load)
    # The machine that lints has nginx 1.22.1 (Debian 12), whatever is installed here.
    monkeypatch.setattr("confgen.nginx.parse.installed_nginx_version", lambda: "1.22.1")


HTTP2 = """
server {
    listen 443 ssl;
    http2 on;
    ssl_reject_handshake off;
}
"""


def _load(tmp_path, text, version="1.22.1"):
    write_tree(tmp_path, {"nginx.conf": text})
    return load_nginx(str(tmp_path / "nginx.conf"), nginx_version=version)


def test_the_oldest_version_the_syntax_needs_and_the_directive_that_needs_it(tmp_path):
    config = _load(tmp_path, full(HTTP2))
    version, directive = syntax_version(config)
    assert version == (1, 25, 1) and (directive.name, directive.line) == ("http2", line_of(tmp_path / "nginx.conf", "http2"))
    assert syntax_version(_load(tmp_path, full("server { listen 80; }"))) is None
    quic = syntax_version(_load(tmp_path, full("server { listen 443 quic reuseport; }")))
    assert quic[0] == (1, 25, 0) and quic[1].name == "listen"


def test_adopting_raises_the_target_and_says_so_in_a_note(tmp_path):
    config = _load(tmp_path, full(HTTP2))
    adopt_syntax_version(config)
    assert config.nginx_version == (1, 25, 1)
    [note] = config.notes
    assert note.startswith(f"{tmp_path / 'nginx.conf'}:{line_of(tmp_path / 'nginx.conf', 'http2')}: `http2 on` needs "
                           f"nginx 1.25.1 or newer, so the config is linted for nginx 1.25.1 (not 1.22.1")
    # A target already new enough is kept, and nothing is said.
    newer = _load(tmp_path, full(HTTP2), version="1.27.4")
    adopt_syntax_version(newer)
    assert newer.nginx_version == (1, 27, 4) and newer.notes == []


def test_http2_on_is_no_error_when_no_version_is_named(tmp_path, _engine_hook):
    result = lint_config(tmp_path, full(HTTP2), nginx_version=None)
    assert only(result, "directive-too-new") == []
    assert any("linted for nginx 1.25.1" in note for note in result.notes), result.notes
    # The user named 1.22.1: then it is the error it is on that nginx.
    [finding] = only(lint_config(tmp_path, full(HTTP2), nginx_version="1.22.1"), "directive-too-new")
    assert finding.message.startswith("`http2` exists from nginx 1.25.1; nginx 1.22.1 refuses to start with it")


def test_syntax_no_single_version_accepts_is_still_an_error_naming_both(tmp_path, _engine_hook):
    result = lint_config(tmp_path, full("""
        server {
            listen 443;
            ssl on;
            http2 on;
        }
    """), nginx_version=None)
    conf = tmp_path / "nginx.conf"
    [finding] = [f for f in only(result, "deprecated-directive") if f.severity == "error"]
    assert finding.line == line_of(conf, "ssl on")
    assert finding.message.startswith("`ssl` was removed in nginx 1.25.1: nginx 1.25.1 refuses to start, and "
                                      f"`http2` at {conf}:{line_of(conf, 'http2 on')} needs 1.25.1 or newer: "
                                      f"no nginx version accepts both")
