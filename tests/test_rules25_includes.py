"""Includes of files the linted tree does not hold (issue 25): a fact about the machine the
config runs on, the same note whether written relative or absolute, an error only where the
tree shows the file should be there (or with include-not-found's `strict` option), and the
rules that depend on what the file would set stay silent where it is included."""

from __future__ import annotations

from confgen.nginx.parse import load_nginx
from lint_helpers import line_of, lint_config, only, write_tree

POOLED = """
events {{}}
http {{
    upstream app {{ server 127.0.0.1:8000; keepalive 16; }}
    server {{
        listen 80;
        location / {{
            {include}
            proxy_pass http://app;
        }}
    }}
}}
"""


def _notes_for(result, written):
    return [n for n in result.notes if f'include "{written}"' in n]


def test_a_relative_and_an_absolute_missing_include_get_the_same_note_and_no_error(tmp_path):
    for written in ("snippets/ssl-site.conf", "/etc/nginx/snippets/confgen-test-absent.conf"):
        result = lint_config(tmp_path, POOLED.format(include=f"include {written};"), select=["ALL"])
        assert only(result, "include-not-found") == []
        [note] = _notes_for(result, written)
        assert "is not in the linted tree" in note and "provided by the deployment" in note
        assert f"nginx.conf:{line_of(tmp_path / 'nginx.conf', 'include')}:" in note
        # The file may set HTTP/1.1 and Connection "": the rules about those defaults stay silent.
        assert not {"keepalive-needs-http11", "keepalive-connection-header"} & {f.rule for f in result.findings}


def test_a_missing_file_named_almost_like_a_stock_table_is_noted_as_a_likely_misspelling(tmp_path):
    for written, hint in (("/etc/nginx/uswgi_params", "nginx ships uwsgi_params, not uswgi_params"),
                          ("proxy_param", "nginx ships proxy_params"), ("/opt/site/fastcgi-php.conf", None),  # Debian's own snippet
                          ("snippets/ssl-site.conf", None)):
        [note] = _notes_for(lint_config(tmp_path, POOLED.format(include=f"include {written};")), written)
        assert ("misspelled?" in note) is (hint is not None) and (hint is None or hint in note), note


def test_without_the_include_the_defaults_are_reported(tmp_path):
    result = lint_config(tmp_path, POOLED.format(include=""), select=["ALL"])
    assert {"keepalive-needs-http11", "keepalive-connection-header"} <= {f.rule for f in result.findings}


def test_a_file_missing_from_a_directory_the_tree_ships_is_an_error_at_the_include(tmp_path):
    result = lint_config(tmp_path, POOLED.format(include="include snippets/ssl-site.conf;"),
                         files={"snippets/proxy.conf": "proxy_http_version 1.1;\n"})
    [finding] = only(result, "include-not-found")
    assert (finding.severity, finding.line) == ("error", line_of(tmp_path / "nginx.conf", "include snippets"))
    assert 'include "snippets/ssl-site.conf": no such file' in finding.message
    assert "in a directory the linted tree ships" in finding.message
    # What it would set is still unknown: no finding about the defaults it may change.
    assert not only(result, "keepalive-needs-http11")


def test_the_same_absolute_path_inside_the_tree_follows_the_same_rule(tmp_path):
    text = POOLED.format(include=f"include {tmp_path}/conf.d/gone.conf;")
    assert only(lint_config(tmp_path, text), "include-not-found") == []
    (tmp_path / "conf.d").mkdir()
    (tmp_path / "conf.d" / "kept.conf").write_text("")
    [finding] = only(lint_config(tmp_path, text), "include-not-found")
    assert finding.line == line_of(tmp_path / "nginx.conf", "include")


def test_the_strict_option_makes_every_missing_include_an_error(tmp_path):
    text = POOLED.format(include="include snippets/ssl-site.conf;")
    result = lint_config(tmp_path, text, rule_options={"include-not-found": {"strict": True}})
    [finding] = only(result, "include-not-found")
    assert (finding.severity, finding.line) == ("error", line_of(tmp_path / "nginx.conf", "include"))
    assert "strict" in finding.message and "snippets/ssl-site.conf" in finding.message


def test_a_dump_missing_a_file_is_an_error_and_records_the_include(tmp_path):
    dump = ("# configuration file /etc/nginx/nginx.conf:\nevents {}\nhttp {\n"
            "    include /etc/nginx/conf.d/site.conf;\n}\n\n")
    config = load_nginx(text=dump, nginx_version="1.22.1")
    assert [(p.kind, p.line) for p in config.problems] == [("include-not-found", 3)]   # the line in that file, below the marker
    assert config.problems[0].message.endswith("and the nginx -T output holds every file nginx read")
    assert [i.args for i in config.unresolved_includes] == [["/etc/nginx/conf.d/site.conf"]]


def test_a_missing_include_in_an_included_file_resolves_against_the_main_files_directory(tmp_path):
    write_tree(tmp_path, {"nginx.conf": "events {}\nhttp {\n    include sites/*.conf;\n}\n",
                          "sites/app.conf": "server {\n    listen 80;\n    include snippets/gone.conf;\n}\n"})
    config = load_nginx(str(tmp_path / "nginx.conf"), nginx_version="1.22.1")
    assert config.problems == []           # snippets/ is not in the tree: the server provides it
    assert any(str(tmp_path / "sites" / "app.conf") + ":3:" in note for note in config.notes)
    (tmp_path / "snippets").mkdir()
    config = load_nginx(str(tmp_path / "nginx.conf"), nginx_version="1.22.1")
    assert [(p.kind, p.file, p.line) for p in config.problems] == [
        ("include-not-found", str(tmp_path / "sites" / "app.conf"), 3)]


def test_beside_the_main_file_a_missing_include_is_an_error_only_when_others_are_included_from_there(tmp_path):
    text = "events {}\nhttp {\n    include ssl-site.conf;\n    include proxy.conf;\n}\n"
    result = lint_config(tmp_path, text, files={"proxy.conf": "proxy_http_version 1.1;\n"})
    [finding] = only(result, "include-not-found")     # proxy.conf is kept beside nginx.conf: so is this one
    assert finding.line == 3 and 'include "ssl-site.conf": no such file' in finding.message
    assert finding.message.endswith("beside the main file, where the tree keeps the other files it includes")
    (tmp_path / "proxy.conf").unlink()
    result = lint_config(tmp_path, text.replace("    include proxy.conf;\n", ""))
    assert only(result, "include-not-found") == [] and _notes_for(result, "ssl-site.conf")


def test_an_include_under_nginxs_conf_directory_reads_the_trees_copy_not_this_machines(tmp_path):
    """A repository's nginx.conf with `include /etc/nginx/conf.d/*.conf;`: the image copies the
    tree's conf.d there, so that is what is read; without one in the tree, the deployment
    provides it (this machine's /etc/nginx is another machine's config)."""
    main = "events {}\nhttp {\n    include /etc/nginx/conf.d/*.conf;\n    include /etc/nginx/mime.types;\n}\n"
    (tmp_path / "conf.d").mkdir()
    (tmp_path / "conf.d" / "app.conf").write_text("server { listen 80; location / { proxy_pass http://127.0.0.1:8000; } }\n")
    (tmp_path / "nginx.conf").write_text(main)
    import confgen

    result = confgen.lint_project([str(tmp_path / "nginx.conf")], nginx_version="1.22.1")
    assert str(tmp_path / "conf.d" / "app.conf") in result.files
    assert [f.rule for f in result.findings if f.file.endswith("app.conf")] == []
    assert any(str(tmp_path / "conf.d" / "app.conf") in note for note in result.notes)
    (tmp_path / "conf.d" / "app.conf").unlink()
    (tmp_path / "conf.d").rmdir()
    result = confgen.lint_project([str(tmp_path / "nginx.conf")], nginx_version="1.22.1")
    assert not [f for f in result.files if f.startswith("/etc/nginx/conf.d")]
    [note] = [n for n in result.notes if 'include "/etc/nginx/conf.d/*.conf"' in n]
    assert "is not in the linted tree" in note and "provided by the deployment" in note


def test_a_file_of_this_machines_nginx_directory_reads_its_includes_there(tmp_path, monkeypatch):
    """Linting a site of this machine's own /etc/nginx (here a stand-in directory taken as nginx's
    conf directory), its absolute includes are the machine's files, as nginx reads them."""
    from confgen.nginx import parse

    conf_dir = tmp_path / "etc-nginx"
    (conf_dir / "sites-enabled").mkdir(parents=True)
    (conf_dir / "snippets").mkdir()
    (conf_dir / "snippets" / "app.conf").write_text("proxy_pass http://127.0.0.1:8000;\n")
    site = conf_dir / "sites-enabled" / "app"
    site.write_text(f"server {{ listen 80; location / {{ include {conf_dir}/snippets/app.conf; }} }}\n")
    monkeypatch.setattr(parse, "SYSTEM_CONF_DIRS", (str(conf_dir),))
    config = parse.load_nginx(str(site), nginx_version="1.22.1")
    assert str(conf_dir / "snippets" / "app.conf") in config.files
