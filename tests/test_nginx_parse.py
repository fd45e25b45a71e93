"""nginx parsing: includes, line numbers, syntax errors as data, crossplane's faults worked around,
snippets and their context, --root focus, nginx -T dumps, hostile input."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from confgen.nginx import parse as nginx_parse
from confgen.errors import ConfgenError
from confgen.nginx.parse import load_nginx, split_nginx_dump

from conftest import find_binary

FIXTURES = Path(__file__).parent / "fixtures" / "nginx"
SITE = FIXTURES / "site"


def write(root: Path, files: dict[str, str]) -> Path:
    """Write a config tree; returns the first file (the main one)."""
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"))
    return root / next(iter(files))


def load(root: Path, files: dict[str, str], **options):
    return load_nginx(str(write(root, files)), nginx_version="1.22.1", **options)


def one(config, name: str):
    found = config.find_all(name)
    assert len(found) == 1, found
    return found[0]


def kinds(config) -> list[str]:
    return [p.kind for p in config.problems]


# ---------------------------------------------------------------------------------------------
# A real layout: includes, file names and lines


def test_site_fixture_loads_without_problems_in_nginx_order():
    config = load_nginx(str(SITE / "nginx.conf"), nginx_version="1.25.3")
    assert config.problems == []
    assert config.context == "main" and config.is_full
    shown = [os.path.relpath(f, SITE) for f in config.files]
    # Globs are read in sorted order (10- before 20-), each file where its include stands.
    assert shown == ["nginx.conf", "mime.types", "upstream-servers.conf", "conf.d/10-www.conf",
                     "snippets/locations.conf", "conf.d/20-api.conf", "snippets/proxy-keepalive.conf"]


def test_included_directives_carry_their_own_file_and_line_and_the_includers_parent():
    config = load_nginx(str(SITE / "nginx.conf"), nginx_version="1.25.3")
    timeout = one(config, "proxy_read_timeout")
    assert timeout.file == str(SITE / "snippets" / "proxy-keepalive.conf")
    assert timeout.line == 3
    assert timeout.parent.name == "location" and timeout.parent.args == ["/v1/"]
    assert timeout.parent.file == str(SITE / "conf.d" / "20-api.conf") and timeout.parent.line == 9

    servers = config.upstreams()["app"].find("server")
    assert [(s.args[0], Path(s.file).name, s.line) for s in servers] == [
        ("127.0.0.1:8000", "upstream-servers.conf", 1), ("127.0.0.1:8001", "upstream-servers.conf", 2)]
    # The include's own position is kept: the spliced servers come before "keepalive 16".
    assert [d.name for d in config.upstreams()["app"].block] == ["server", "server", "keepalive", "keepalive_timeout"]
    assert not config.find_all("include")


def test_comments_are_kept_per_file_and_line_including_end_of_line_ones():
    config = load_nginx(str(SITE / "nginx.conf"), nginx_version="1.25.3")
    api = str(SITE / "conf.d" / "20-api.conf")
    assert config.comments[api] == {10: " confgen: disable=CG103 -- Host and XFF are not needed by /v1/"}
    assert config.comments[str(SITE / "nginx.conf")][1].startswith(" A whole config")


def test_relative_includes_resolve_against_the_main_files_directory_not_the_includer(tmp_path):
    config = load(tmp_path, {
        "nginx.conf": "http { include sites/a*.conf; }\n",
        "sites/a.conf": "server { include common.conf; }\n",
        "common.conf": "listen 8080;\n",
        "sites/common.conf": "listen 9999;\n",  # beside the includer: nginx does not look here
    })
    assert config.problems == []
    assert one(config, "listen").args == ["8080"]
    assert one(config, "listen").file == str(tmp_path / "common.conf")


@pytest.mark.parametrize("written, read", [
    ("/var/www/data/irrigation/etc/nginx/locations.conf", True),    # set 24's irrigation
    ("/srv/app/nginx/locations.conf", True),                       # the end, two parts, under an ancestor
    ("/srv/app/locations.conf", False),                            # a bare name is never enough
    ("/srv/app/etc/nginx/*.conf", False),                           # a glob is the server's
])
def test_an_absolute_include_into_the_deployments_checkout_reads_the_trees_file(tmp_path, written, read):
    config = load(tmp_path, {"etc/nginx/sites-enabled/site": f"server {{\n    listen 80;\n    include {written};\n}}\n",
                             "etc/nginx/locations.conf": "location / { return 204; }\n"})
    assert bool(config.find_all("return")) is read
    if read:
        assert not config.unresolved_includes
        assert one(config, "return").file == str(tmp_path / "etc/nginx/locations.conf")
        assert any(f'include "{written}" read from {tmp_path / "etc/nginx/locations.conf"}' in note
                   for note in config.notes), config.notes


def test_a_relative_main_path_gives_relative_included_paths(tmp_path, monkeypatch):
    write(tmp_path, {"conf/nginx.conf": "http { include inc.conf; }\n", "conf/inc.conf": "gzip on;\n"})
    monkeypatch.chdir(tmp_path)
    config = load_nginx("conf/nginx.conf", nginx_version="1.22.1")
    assert one(config, "gzip").file == os.path.join("conf", "inc.conf")
    assert config.files == ["conf/nginx.conf", os.path.join("conf", "inc.conf")]


def test_glob_includes_are_read_in_sorted_order_and_an_empty_glob_is_fine(tmp_path):
    config = load(tmp_path, {
        "nginx.conf": "http {\n include d/*.conf;\n include none/*.conf;\n}\n",
        "d/b.conf": "map_hash_bucket_size 2;\n", "d/a.conf": "map_hash_bucket_size 1;\n",
        "d/10.conf": "map_hash_bucket_size 10;\n", "d/9.conf": "map_hash_bucket_size 9;\n",
        "d/skip.txt": "map_hash_bucket_size 0;\n",
    })
    assert config.problems == []
    assert [d.args[0] for d in config.find_all("map_hash_bucket_size")] == ["10", "9", "1", "2"]


def test_the_same_snippet_included_twice_is_spliced_twice_but_read_once(tmp_path):
    config = load(tmp_path, {
        "nginx.conf": "http { server { location /a { include p.conf; } location /b { include p.conf; } } }\n",
        "p.conf": "proxy_set_header X-A 1;  # shared\n",
    })
    headers = config.find_all("proxy_set_header")
    assert [h.parent.args for h in headers] == [["/a"], ["/b"]]
    assert config.files.count(str(tmp_path / "p.conf")) == 1
    assert config.comments[str(tmp_path / "p.conf")] == {1: " shared"}


def test_a_snippet_included_many_times_is_copied_for_each_include_with_its_own_includes(tmp_path, monkeypatch):
    parses = []
    real_parse_text = nginx_parse.parse_text
    monkeypatch.setattr(nginx_parse, "parse_text",
                        lambda text, path, **kw: parses.append(os.path.basename(path)) or real_parse_text(text, path, **kw))
    config = load(tmp_path, {
        "nginx.conf": "http { server { " + " ".join(f"location /{n} {{ include p.conf; }}" for n in "abcd") + " } }\n",
        "p.conf": "proxy_set_header X-A 1;\nif ($x) { include q.conf; }\n",
        "q.conf": "return 403;\n",
    })
    assert config.problems == []
    returns = config.find_all("return")
    # Every include has its own directives, under its own location, nested includes expanded.
    assert [r.parent.parent.args for r in returns] == [["/a"], ["/b"], ["/c"], ["/d"]]
    assert len({id(r) for r in returns}) == 4 and len({id(r.parent) for r in returns}) == 4
    assert all(r.file == str(tmp_path / "q.conf") and r.line == 1 for r in returns)
    headers = config.find_all("proxy_set_header")
    assert [h.parent.args for h in headers] == [["/a"], ["/b"], ["/c"], ["/d"]]
    # A file is parsed once, and once more when included again (for a pristine copy), never per include.
    assert parses.count("p.conf") == 2 and parses.count("q.conf") == 2 and parses.count("nginx.conf") == 1
    assert config.files == [str(tmp_path / name) for name in ("nginx.conf", "p.conf", "q.conf")]


def test_a_snippet_that_vanishes_before_it_is_included_again_is_a_problem_at_that_include(tmp_path, monkeypatch):
    main = write(tmp_path, {"nginx.conf": "http {\n  server { include p.conf; }\n  server { include p.conf; }\n}\n",
                            "p.conf": "listen 8080;\n"})
    real_read = nginx_parse._Loader.read
    reads = []

    def read_once(loader, path):
        reads.append(path)
        return real_read(loader, path) if len(reads) == 1 else (None, "no such file")

    monkeypatch.setattr(nginx_parse._Loader, "read", read_once)
    config = load_nginx(str(main), nginx_version="1.22.1")
    assert [(p.kind, p.line) for p in config.problems] == [("include-not-found", 3)]
    assert [d.parent.line for d in config.find_all("listen")] == [2]


def test_missing_include_is_a_problem_at_the_include_and_the_rest_still_loads(tmp_path):
    config = load(tmp_path, {
        "nginx.conf": "http {\n    server {\n        include missing/proxy.conf;\n        listen 80;\n    }\n}\n",
        "missing/other.conf": "",   # the tree ships the directory: the file should be there
    })
    assert kinds(config) == ["include-not-found"]
    problem = config.problems[0]
    assert (problem.file, problem.line) == (str(tmp_path / "nginx.conf"), 3)
    assert "missing/proxy.conf" in problem.message
    assert one(config, "listen").args == ["80"]


def test_stock_tables_missing_on_this_machine_are_not_problems(tmp_path, monkeypatch):
    monkeypatch.setattr(nginx_parse, "SYSTEM_CONF_DIRS", ())
    config = load(tmp_path, {"nginx.conf": "http { include mime.types; include fastcgi_params; }\n"})
    assert config.problems == []


def test_include_cycles_terminate_with_a_problem(tmp_path):
    config = load(tmp_path, {
        "nginx.conf": "http { include a.conf; }\n",
        "a.conf": "gzip on;\ninclude b.conf;\n",
        "b.conf": "gzip_comp_level 5;\ninclude a.conf;\n",
    })
    assert kinds(config) == ["include-cycle"]
    assert (config.problems[0].file, config.problems[0].line) == (str(tmp_path / "b.conf"), 2)
    assert [d.name for d in config.find_all("http")[0].block] == ["gzip", "gzip_comp_level"]


def test_a_file_including_itself_through_a_glob_terminates(tmp_path):
    config = load(tmp_path, {"nginx.conf": "events {}\nhttp { include *.conf; }\n"})
    assert kinds(config) == ["include-cycle"]
    assert len(config.find_all("http")) == 1


def test_include_of_a_directory_is_a_problem(tmp_path):
    (tmp_path / "d" / "sub.conf").mkdir(parents=True)
    config = load(tmp_path, {"nginx.conf": "http {\n include d;\n include d/*.conf;\n}\n"})
    # nginx fails on both: pread() "... " failed (21: Is a directory)
    assert kinds(config) == ["include-unreadable", "include-unreadable"]
    assert [p.line for p in config.problems] == [2, 3]
    assert all("directory" in p.message for p in config.problems)


def test_include_of_a_fifo_or_a_device_is_refused_without_reading_it(tmp_path):
    fifo = tmp_path / "pipe.conf"
    os.mkfifo(fifo)  # nobody writes: reading it would block forever
    started = time.monotonic()
    config = load(tmp_path, {"nginx.conf": f"http {{\n include {fifo};\n include /dev/zero;\n listen 1;\n}}\n"})
    assert time.monotonic() - started < 5
    assert kinds(config) == ["include-unreadable", "include-unreadable"]
    assert all("not a regular file" in p.message for p in config.problems)
    assert one(config, "listen")


def test_include_of_an_unreadable_file_is_a_problem(tmp_path):
    from lint_helpers import run_without_read_override

    main = write(tmp_path, {"nginx.conf": "http { include secret.conf; }\n", "secret.conf": "gzip on;\n"})
    (tmp_path / "secret.conf").chmod(0)
    probe = ("import json, sys; from confgen.nginx.parse import load_nginx; "
             "c = load_nginx(sys.argv[1], nginx_version='1.22.1'); "
             "print(json.dumps([(p.kind, p.message) for p in c.problems]))")
    result = run_without_read_override([sys.executable, "-c", probe, str(main)],
                                       env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])})
    assert result.returncode == 0, result.stderr
    problems = json.loads(result.stdout)
    assert [kind for kind, _ in problems] == ["include-unreadable"]
    assert "permission denied" in problems[0][1]


def test_oversized_included_file_is_not_read(tmp_path, monkeypatch):
    monkeypatch.setattr(nginx_parse, "MAX_FILE_BYTES", 100)
    config = load(tmp_path, {"nginx.conf": "http { include big.conf; }\n", "big.conf": "gzip on;\n" * 50})
    assert kinds(config) == ["include-unreadable"] and "MiB" in config.problems[0].message
    assert not config.find_all("gzip")


def test_number_of_files_is_capped(tmp_path, monkeypatch):
    monkeypatch.setattr(nginx_parse, "MAX_FILES", 3)
    files = {"nginx.conf": "http { include d/*.conf; }\n"}
    files.update({f"d/{n}.conf": f"map_hash_bucket_size {n};\n" for n in range(6)})
    config = load(tmp_path, files)
    assert kinds(config) == ["too-large"]
    assert len(config.files) == 3


def test_an_include_tree_that_fans_out_is_capped(tmp_path, monkeypatch):
    monkeypatch.setattr(nginx_parse, "MAX_DIRECTIVES", 1000)
    files = {"nginx.conf": "http { include l0.conf; }\n"}
    for level in range(30):  # 2**30 directives if every include were expanded
        files[f"l{level}.conf"] = f"gzip on;\ninclude l{level + 1}.conf;\ninclude l{level + 1}.conf;\n"
    files["l30.conf"] = "gzip on;\n"
    started = time.monotonic()
    config = load(tmp_path, files)
    assert time.monotonic() - started < 10
    assert kinds(config) == ["too-large"]
    assert len(list(config.walk())) <= 1001


def test_a_file_with_more_directives_than_the_cap_is_refused_before_its_tree_is_built(tmp_path, monkeypatch):
    monkeypatch.setattr(nginx_parse, "MAX_DIRECTIVES", 100)
    config = load(tmp_path, {"nginx.conf": "events {}\nhttp { include big.conf; }\n",
                             "big.conf": "gzip on;\n" * 500})
    # The cap is over every file: the main file's three directives count first.
    assert [(p.kind, p.file.endswith("big.conf"), p.line) for p in config.problems] == [("too-large", True, 98)]
    assert [d.name for d in config.walk()] == ["events", "http"]


def test_deep_nesting_does_not_exhaust_the_stack(tmp_path):
    depth = 5000
    config = load(tmp_path, {"nginx.conf": "location / {" * depth + "}" * depth + "\n"})
    assert config.problems == []
    assert len(config.find_all("location")) == depth
    innermost = config.find_all("location")[-1]
    # The snippet of locations sits in the server and http blocks it would be included in.
    assert [d.name for d in innermost.ancestors()][depth - 2:] == ["location", "server", "http", "main"]


def test_main_file_problems_are_one_line_errors(tmp_path):
    os.mkfifo(tmp_path / "fifo.conf")
    (tmp_path / "dir.conf").mkdir()
    for name, expected in (("nope.conf", "no such file"), ("dir.conf", "directory"),
                           ("fifo.conf", "not a regular file")):
        with pytest.raises(ConfgenError, match=expected):
            load_nginx(str(tmp_path / name), nginx_version="1.22.1")
    with pytest.raises(ConfgenError, match="version"):
        load_nginx(text="events {}", nginx_version="one.two")


# ---------------------------------------------------------------------------------------------
# Syntax errors: data with nginx's line, never a crash


SYNTAX_ERRORS = {
    # name: (config, line nginx names, words in the message)
    "missing ; at end of file": ("events {}\nhttp {\n    gzip on;\n}\nworker_processes 2", 5, "end of file"),
    "missing } at end of file": ("events {}\nhttp {\n    gzip on;\n", 4, 'expecting "}"'),
    "missing ; before }": ("events {}\nhttp {\n    gzip on\n}\n", 4, 'unexpected "}"'),
    "extra }": ("events {}\n}\nhttp {}\n", 2, 'unexpected "}"'),
    "unterminated quote": ('events {}\nhttp {\n    add_header X "open;\n}\n', 5, "end of file"),
    "stray ;": ("events {}\n;\n", 2, 'unexpected ";"'),
}


@pytest.mark.parametrize("name", SYNTAX_ERRORS)
def test_syntax_errors_are_problems_with_the_line_nginx_names(tmp_path, name):
    text, line, words = SYNTAX_ERRORS[name]
    config = load(tmp_path, {"nginx.conf": text})
    assert kinds(config) == ["syntax-error"]
    assert config.problems[0].line == line
    assert config.problems[0].file == str(tmp_path / "nginx.conf")
    assert words in config.problems[0].message


@pytest.mark.parametrize("name", SYNTAX_ERRORS)
def test_syntax_error_lines_agree_with_the_real_nginx(nginx_check, name):
    text, line, _ = SYNTAX_ERRORS[name]
    ok, output = nginx_check(text)
    assert not ok
    reported = re.search(r"nginx\.conf:(\d+)", output)
    assert reported and int(reported.group(1)) == line, output


def test_a_syntax_error_in_an_included_file_names_that_file_and_the_rest_loads(tmp_path):
    config = load(tmp_path, {
        "nginx.conf": "events {}\nhttp {\n    include bad.conf;\n    include good.conf;\n}\n",
        "bad.conf": "server {\n    listen 80\n}\n",
        "good.conf": "server { listen 81; }\n",
    })
    assert kinds(config) == ["syntax-error"]
    assert (config.problems[0].file, config.problems[0].line) == (str(tmp_path / "bad.conf"), 3)
    assert [d.args for d in config.find_all("listen")] == [["81"]]
    assert str(tmp_path / "bad.conf") in config.files


def test_non_utf8_bytes_are_replaced_not_fatal(tmp_path):
    path = tmp_path / "nginx.conf"
    path.write_bytes(b"# caf\xe9 \xff\xfe\nevents {}\nhttp { server_tokens off; }\n")
    config = load_nginx(str(path), nginx_version="1.22.1")
    assert config.problems == []
    assert one(config, "server_tokens").line == 3
    assert "\ufffd" in config.comments[str(path)][1]


# ---------------------------------------------------------------------------------------------
# crossplane's faults, worked around


def test_newer_directives_are_plain_directives_never_unknown_or_dropped(tmp_path):
    config = load(tmp_path, {"nginx.conf": """
        events {}
        http {
            keepalive_time 1h;
            add_header_inherit merge;
            server {
                listen 443 quic reuseport;
                listen 443 ssl;
                http2 on;
                http3 on;
                quic_retry on;
                ssl_reject_handshake on;
                made_up_directive 1 2 3;
                proxy_pass http://app;
            }
        }
    """})
    assert config.problems == []
    names = [d.name for d in config.walk()]
    for name in ("keepalive_time", "add_header_inherit", "http2", "http3", "quic_retry",
                 "ssl_reject_handshake", "made_up_directive", "proxy_pass"):
        assert name in names
    # crossplane's argument and context checks would have dropped these two.
    assert one(config, "made_up_directive").args == ["1", "2", "3"]
    assert one(config, "proxy_pass").parent.name == "server"


def test_if_conditions_lose_their_parentheses_as_in_nginx(tmp_path):
    config = load(tmp_path, {"nginx.conf": """
        location / {
            if ($request_method = POST) { return 405; }
            if ( $http_x ) { return 403; }
            if ($uri ~* "^/(a|b)$") { return 404; }
            if ($args ~ ^x=(\\d+)) { return 410; }
            if ($http_y = "") { return 400; }
        }
    """})
    assert config.problems == []
    assert [d.args for d in config.find_all("if")] == [
        ["$request_method", "=", "POST"], ["$http_x"], ["$uri", "~*", "^/(a|b)$"], ["$args", "~", "^x=(\\d+)"],
        ["$http_y", "=", ""]]


def test_quotes_escapes_and_variable_braces(tmp_path):
    config = load(tmp_path, {"nginx.conf": r"""
        location / {
            proxy_set_header Connection "";
            add_header X-Quote "say \"hi\"; {not a block}";
            add_header X-Single 'single "quoted"';
            set $combined ${host}suffix;
            return 200 "${scheme}://$host";
        }
    """})
    assert config.problems == []
    headers = config.find_all("proxy_set_header") + config.find_all("add_header")
    assert [h.args for h in headers] == [["Connection", ""], ["X-Quote", 'say "hi"; {not a block}'],
                                         ["X-Single", 'single "quoted"']]
    assert one(config, "set").args == ["$combined", "${host}suffix"]
    assert one(config, "return").args == ["200", "${scheme}://$host"]


def test_map_bodies_with_braces_in_regexes(tmp_path):
    config = load(tmp_path, {"nginx.conf": r"""
        http {
            map $http_upgrade $connection_upgrade {
                default upgrade;
                ''      "";
            }
            map $uri $kind {
                "~^/a{2,3}/"  many;
                ~^/b/        b;
                default      other;
            }
            server { listen 80; }
        }
    """})
    assert config.problems == []
    maps = config.find_all("map")
    assert [d.name for d in maps[0].block] == ["default", ""]
    assert [d.name for d in maps[1].block] == ["~^/a{2,3}/", "~^/b/", "default"]
    assert one(config, "listen").parent.name == "server"


def test_lua_blocks_are_taken_whole_and_later_directives_stay_outside():
    config = load_nginx(str(FIXTURES / "openresty.conf"), nginx_version="1.25.3")
    assert config.problems == []
    access = one(config, "access_by_lua_block")
    assert len(access.args) == 1 and "[[ no token } ]]" in access.args[0] and "it\\'s {" in access.args[0]
    assert one(config, "init_by_lua_block").args[0].strip().startswith("-- a brace in a comment: }")
    set_block = one(config, "set_by_lua_block")
    assert set_block.args[0] == "$backend" and 'return "app"' in set_block.args[1]
    proxy = one(config, "proxy_pass")
    assert (proxy.parent.name, proxy.parent.args, proxy.line) == ("location", ["/"], 22)
    assert one(config, "listen").parent.name == "server"


def test_an_unclosed_lua_block_is_a_syntax_error_not_a_hang(tmp_path):
    config = load(tmp_path, {"nginx.conf": "http { content_by_lua_block { ngx.say('}') \n"})
    assert kinds(config) == ["syntax-error"]


def test_a_comment_on_the_last_line_without_newline_is_kept(tmp_path):
    path = tmp_path / "nginx.conf"
    path.write_text("events {}\nhttp {}\n# confgen: disable=CG100 because")
    config = load_nginx(str(path), nginx_version="1.22.1")
    assert config.comments[str(path)] == {3: " confgen: disable=CG100 because"}


def test_crossplane_is_left_as_shipped_after_lexing():
    import crossplane.lexer

    before = dict(crossplane.lexer.EXTERNAL_LEXERS)
    load_nginx(text="content_by_lua_block { ngx.say(1) }\n", nginx_version="1.22.1")
    assert crossplane.lexer.EXTERNAL_LEXERS == before


# ---------------------------------------------------------------------------------------------
# Snippets and --root


@pytest.mark.parametrize(("text", "context"), [
    ("events {}\nhttp { server { listen 80; } }\n", "main"),
    ("worker_processes 2;\n", "main"),
    ("server {\n    listen 80;\n    location / { proxy_pass http://app; }\n}\n", "http"),
    ("upstream app { server 127.0.0.1:8000; }\n", "http"),
    ("map $a $b { default 1; }\nlog_format x '$a';\n", "http"),
    ("location / {\n    proxy_pass http://app;\n}\nlocation /static/ { root /srv; }\n", "server"),
    ("listen 443 ssl;\nserver_name example.com;\n", "server"),
    ("proxy_set_header Host $host;\nproxy_set_header X-Real-IP $remote_addr;\n", "location"),
    ("proxy_http_version 1.1;\nproxy_set_header Connection \"\";\n", "location"),
    ("server 10.0.0.1:8000;\nserver 10.0.0.2:8000 backup;\nkeepalive 16;\n", "upstream"),
])
def test_snippet_context_is_inferred_from_its_top_level(tmp_path, text, context):
    config = load(tmp_path, {"snippet.conf": text})
    assert config.context == context
    assert config.is_full == (context == "main" and "http" in text)


def test_root_loads_the_whole_config_and_focuses_on_the_snippet(tmp_path, monkeypatch):
    monkeypatch.chdir(SITE)
    config = load_nginx("snippets/proxy-keepalive.conf", root="nginx.conf", nginx_version="1.25.3")
    assert config.is_full and config.problems == []
    assert config.focus_files == [os.path.join("snippets", "proxy-keepalive.conf")]
    # The snippet's location sees what it inherits from http.
    location = one(config, "proxy_read_timeout").parent
    assert config.proxy_headers(location)["connection"][0] == ""
    assert config.effective_args("keepalive_timeout", location) == ["65s"]


def test_root_that_does_not_include_the_snippet_loads_it_alone_with_a_note(tmp_path):
    write(tmp_path, {"nginx.conf": "events {}\nhttp {}\n", "orphan.conf": "location / { return 200; }\n"})
    config = load_nginx(str(tmp_path / "orphan.conf"), root=str(tmp_path / "nginx.conf"), nginx_version="1.22.1")
    assert config.context == "server"
    assert config.focus_files == [str(tmp_path / "orphan.conf")]
    assert config.notes and "not included" in config.notes[0]


def test_root_equal_to_the_file_is_an_ordinary_load():
    config = load_nginx(str(SITE / "nginx.conf"), root=str(SITE / "nginx.conf"), nginx_version="1.25.3")
    assert config.focus_files is None and len(config.files) == 7


# ---------------------------------------------------------------------------------------------
# Text (stdin) and nginx -T dumps


def test_text_is_parsed_and_named_and_includes_resolve_from_the_working_directory(tmp_path, monkeypatch):
    write(tmp_path, {"proxy.conf": "proxy_read_timeout 5s;\n"})
    monkeypatch.chdir(tmp_path)
    config = load_nginx(text="location / {\n  include proxy.conf;\n}\n", name="<stdin>", nginx_version="1.22.1")
    assert config.main_file == "<stdin>" and config.files == ["<stdin>", "proxy.conf"]
    assert one(config, "location").file == "<stdin>"
    assert one(config, "proxy_read_timeout").file == "proxy.conf"
    # The positional form used by the CLI: a string that is config text, not a file name.
    assert load_nginx("events {}\n", nginx_version="1.22.1").is_full


DUMP = """\
nginx: the configuration file /etc/nginx/nginx.conf syntax is ok
nginx: configuration file /etc/nginx/nginx.conf test is successful
# configuration file /etc/nginx/nginx.conf:
events {}
http {
    include /etc/nginx/conf.d/*.conf;
}

# configuration file /etc/nginx/conf.d/app.conf:
# configuration file notes: a comment, not a marker, inside a file
server {
    listen 80;
    include /etc/nginx/snippets/proxy.conf;
}

# configuration file /etc/nginx/snippets/proxy.conf:
proxy_read_timeout 30s;

"""


def test_split_nginx_dump_recovers_each_file_with_its_own_lines():
    files = split_nginx_dump(DUMP)
    assert list(files) == ["/etc/nginx/nginx.conf", "/etc/nginx/conf.d/app.conf", "/etc/nginx/snippets/proxy.conf"]
    assert files["/etc/nginx/nginx.conf"].splitlines()[0] == "events {}"
    assert files["/etc/nginx/snippets/proxy.conf"] == "proxy_read_timeout 30s;\n"


def test_a_config_with_a_marker_like_comment_is_not_a_dump():
    assert split_nginx_dump("events {}\n# configuration file /x.conf:\nhttp {}\n") is None
    assert split_nginx_dump("events {}\n") is None


def test_loading_a_dump_names_the_real_files_and_follows_includes_inside_it(tmp_path):
    for config in (load_nginx(text=DUMP, nginx_version="1.22.1"),
                   load(tmp_path, {"dump.txt": DUMP})):
        assert config.main_file == "/etc/nginx/nginx.conf"
        assert config.problems == [] and config.is_full
        listen = one(config, "listen")
        assert (listen.file, listen.line) == ("/etc/nginx/conf.d/app.conf", 3)
        timeout = one(config, "proxy_read_timeout")
        assert (timeout.file, timeout.line, timeout.parent.name) == ("/etc/nginx/snippets/proxy.conf", 1, "server")


def test_a_real_nginx_dump_loads_like_the_files_themselves(tmp_path):
    nginx = find_binary("nginx")
    if not nginx:
        pytest.skip("nginx is not installed")
    main = write(tmp_path, {
        "nginx.conf": f"pid {tmp_path}/nginx.pid;\nerror_log {tmp_path}/error.log;\nevents {{}}\n"
                      f"http {{\n    access_log off;\n    include conf.d/*.conf;\n}}\n",
        "conf.d/a.conf": "server {\n    listen 127.0.0.1:18080;\n    include snippets/p.conf;\n}\n",
        "conf.d/snippets/p.conf": "location / { proxy_pass http://127.0.0.1:9; }",
    })
    (tmp_path / "logs").mkdir()
    # nginx resolves includes against its conf prefix: the main file's directory.
    (tmp_path / "snippets").mkdir()
    shutil.copy(tmp_path / "conf.d/snippets/p.conf", tmp_path / "snippets/p.conf")
    dump = subprocess.run([nginx, "-T", "-p", str(tmp_path), "-c", str(main)],
                          capture_output=True, text=True, timeout=60)
    assert dump.returncode == 0, dump.stderr
    from_dump = load_nginx(text=dump.stdout, nginx_version="1.22.1")
    from_files = load_nginx(str(main), nginx_version="1.22.1")
    assert from_dump.problems == [] == from_files.problems
    assert [(d.name, d.args, d.file, d.line) for d in from_dump.walk()] == \
        [(d.name, d.args, d.file, d.line) for d in from_files.walk()]


# ---------------------------------------------------------------------------------------------
# Hostile input


NGINX_ALPHABET = st.sampled_from(list("{};#\"'\\$() \n\tabcx_-=~*^/.:0123456789") +
                                 ["include ", "if (", "location ", "server ", "content_by_lua_block ", "[[", "]]",
                                  "--", "${", "\x00", "\ufffd", "é"])


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(NGINX_ALPHABET, max_size=80).map("".join))
def test_any_text_loads_or_reports_problems_never_crashes(tmp_path, monkeypatch, text):
    monkeypatch.chdir(tmp_path)  # generated includes resolve here, not in the repo
    config = load_nginx(text=text, nginx_version="1.22.1")
    assert all(p.kind in ("syntax-error", "include-not-found", "include-cycle", "include-unreadable", "too-large")
               for p in config.problems)
    for directive in config.walk():
        assert isinstance(directive.line, int) and directive.line >= 1


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.binary(max_size=300))
def test_random_bytes_in_a_file_never_crash(tmp_path, data):
    path = tmp_path / "random.conf"
    path.write_bytes(data)
    config = load_nginx(str(path), nginx_version="1.22.1")
    assert config.main_file == str(path)


# ---------------------------------------------------------------------------------------------
# More of what nginx accepts, kept whole


def test_statements_outside_their_context_or_with_odd_args_are_kept(tmp_path):
    config = load(tmp_path, {"nginx.conf": """
        events {}
        http {
            proxy_pass http://app;
            worker_processes 4;
            server {
                listen 127.0.0.1:8080 default_server reuseport backlog=4096 so_keepalive=on;
                listen;
                location / {
                    gzip;
                    server_name inside.location;
                }
            }
        }
        proxy_http_version 1.1;
    """})
    assert config.problems == []
    assert one(config, "proxy_pass").parent.name == "http"
    assert one(config, "worker_processes").parent.name == "http"
    assert [d.args for d in config.find_all("listen")] == [
        ["127.0.0.1:8080", "default_server", "reuseport", "backlog=4096", "so_keepalive=on"], []]
    assert one(config, "gzip").args == [] and one(config, "server_name").parent.name == "location"
    assert one(config, "proxy_http_version").parent is config.root


def test_comments_own_line_trailing_and_between_arguments_keep_their_lines(tmp_path):
    config = load(tmp_path, {"nginx.conf": """
        # own line
        events {}  # after a block opener
        http {
            gzip on; # trailing
            add_header X-A   # between the name and the value
                "v";
            # confgen: disable=gzip-level-high -- reason
            gzip_comp_level 9;
        }
    """})
    assert config.problems == []
    assert config.comments[str(tmp_path / "nginx.conf")] == {
        1: " own line", 2: " after a block opener", 4: " trailing", 5: " between the name and the value",
        7: " confgen: disable=gzip-level-high -- reason"}
    assert one(config, "add_header").args == ["X-A", "v"] and one(config, "add_header").line == 5
    assert one(config, "gzip_comp_level").line == 8


def test_a_hash_inside_quotes_or_a_word_is_not_a_comment(tmp_path):
    config = load(tmp_path, {"nginx.conf": "location / {\n  return 200 \"#not\";\n  set $a b#c;\n}\n"})
    assert config.comments == {} or config.comments[str(tmp_path / "nginx.conf")] == {}
    assert one(config, "return").args == ["200", "#not"] and one(config, "set").args == ["$a", "b#c"]


def test_a_missing_include_inside_an_included_file_names_that_file_and_line(tmp_path):
    config = load(tmp_path, {
        "nginx.conf": "events {}\nhttp {\n    include sites/*.conf;\n}\n",
        "sites/app.conf": "server {\n    listen 80;\n    include snippets/gone.conf;\n}\n",
        "snippets/kept.conf": "",
    })
    assert kinds(config) == ["include-not-found"]
    assert (config.problems[0].file, config.problems[0].line) == (str(tmp_path / "sites" / "app.conf"), 3)
    assert one(config, "listen").file == str(tmp_path / "sites" / "app.conf")


def test_include_with_wrong_argument_count_is_a_syntax_error(tmp_path):
    config = load(tmp_path, {"nginx.conf": "http {\n    include a.conf b.conf;\n}\n"})
    assert kinds(config) == ["syntax-error"] and config.problems[0].line == 2


def test_a_relative_include_missing_beside_the_config_is_found_in_the_system_conf_dir(tmp_path, monkeypatch):
    system = tmp_path / "etc-nginx"
    (system / "snippets").mkdir(parents=True)
    (system / "snippets" / "proxy.conf").write_text("proxy_read_timeout 7s;\n")
    monkeypatch.setattr(nginx_parse, "SYSTEM_CONF_DIRS", (str(tmp_path / "nowhere"), str(system)))
    config = load(tmp_path / "repo", {
        "nginx.conf": "http {\n include snippets/proxy.conf;\n include snippets/other.conf;\n}\n",
        "snippets/kept.conf": "",
    })
    assert one(config, "proxy_read_timeout").file == str(system / "snippets" / "proxy.conf")
    # Not in the system dir either: a problem naming the path nginx would have read.
    assert kinds(config) == ["include-not-found"] and config.problems[0].line == 3
    assert str(tmp_path / "repo" / "snippets" / "other.conf") in config.problems[0].message


def test_a_local_file_wins_over_the_system_conf_dir(tmp_path, monkeypatch):
    system = tmp_path / "etc-nginx"
    system.mkdir()
    (system / "common.conf").write_text("gzip off;\n")
    monkeypatch.setattr(nginx_parse, "SYSTEM_CONF_DIRS", (str(system),))
    config = load(tmp_path / "repo", {"nginx.conf": "http { include common.conf; }\n", "common.conf": "gzip on;\n"})
    assert one(config, "gzip").args == ["on"]


@pytest.mark.parametrize("written", ["mime.types", "/etc/nowhere/mime.types", "fastcgi_params", "uwsgi_params"])
def test_stock_tables_are_silent_wherever_they_are_missing(tmp_path, monkeypatch, written):
    monkeypatch.setattr(nginx_parse, "SYSTEM_CONF_DIRS", ())
    config = load(tmp_path, {"nginx.conf": f"events {{}}\nhttp {{\n    include {written};\n}}\n"})
    assert config.problems == []
    # Any other file of the same shape is a problem (in a directory the tree ships).
    config = load(tmp_path, {"nginx.conf": "events {}\nhttp {\n    include conf/site.types;\n}\n", "conf/a.types": ""})
    assert kinds(config) == ["include-not-found"]


def test_an_empty_file_is_an_empty_config_not_a_whole_one(tmp_path):
    config = load(tmp_path, {"empty.conf": ""})
    assert config.problems == [] and list(config.walk()) == []
    assert not config.is_full


def test_snippet_of_if_blocks_and_rewrites_is_a_location_snippet(tmp_path):
    config = load(tmp_path, {"snippet.conf": "if ($http_x) { return 403; }\nrewrite ^/a /b last;\n"})
    assert config.context == "location" and not config.is_full


def test_snippet_context_is_not_fooled_by_a_stream_or_mail_block(tmp_path):
    config = load(tmp_path, {"nginx.conf": "stream {\n    server { listen 5432; proxy_pass db; }\n}\n"})
    assert config.context == "main"
    assert not config.is_full  # no http or events block: not a whole nginx.conf


def test_a_dump_missing_an_included_file_reports_it_and_never_reads_the_disk(tmp_path):
    (tmp_path / "inc.conf").write_text("gzip on;\n")
    dump = (f"# configuration file {tmp_path}/nginx.conf:\nevents {{}}\nhttp {{\n"
            f"    include {tmp_path}/inc.conf;\n    include {tmp_path}/d/*.conf;\n}}\n\n"
            f"# configuration file {tmp_path}/d/b.conf:\nmap_hash_bucket_size 2;\n\n"
            f"# configuration file {tmp_path}/d/a.conf:\nmap_hash_bucket_size 1;\n\n")
    config = load_nginx(text=dump, nginx_version="1.22.1")
    assert kinds(config) == ["include-not-found"] and config.problems[0].line == 3
    assert str(tmp_path / "inc.conf") in config.problems[0].message
    assert not config.find_all("gzip")
    assert [d.args[0] for d in config.find_all("map_hash_bucket_size")] == ["1", "2"]  # glob order, not dump order


def test_split_nginx_dump_keeps_the_first_of_a_repeated_file():
    text = ("# configuration file /a.conf:\nevents {}\n\n"
            "# configuration file /b.conf:\nx 1;\n\n# configuration file /b.conf:\nx 2;\n\n")
    files = split_nginx_dump(text)
    assert list(files) == ["/a.conf", "/b.conf"]
    assert files["/a.conf"] == "events {}\n" and files["/b.conf"] == "x 1;\n"


def test_text_that_names_an_existing_file_is_the_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "a;b.conf").write_text("events {}\nhttp {}\n")
    config = load_nginx("a;b.conf", nginx_version="1.22.1")
    assert config.main_file == "a;b.conf" and config.is_full


# ---------------------------------------------------------------------------------------------
# Includes the deployment provides, and bare snippets placed in their context


def test_an_absolute_include_outside_the_tree_not_on_this_machine_is_recorded_with_its_block(tmp_path):
    config = load(tmp_path, {"nginx.conf": "events {}\nhttp {\n    server {\n        include /run/confgen-absent/tls.conf;\n"
                                           "        listen 443;\n    }\n}\n"})
    assert config.problems == []
    (include,) = config.unresolved_includes
    assert (include.args, include.line, include.parent.name) == (["/run/confgen-absent/tls.conf"], 4, "server")
    assert include not in include.parent.block          # not a directive of the tree
    assert any("provided by the deployment" in note and ":4:" in note for note in config.notes)


def test_an_absolute_include_inside_the_tree_or_in_a_dump_stays_a_problem(tmp_path):
    config = load(tmp_path, {"nginx.conf": f"events {{}}\nhttp {{\n    include {tmp_path}/conf.d/gone.conf;\n}}\n",
                             "conf.d/kept.conf": ""})
    assert kinds(config) == ["include-not-found"]
    # What it would set is unknown: rules about missing values stay silent where it stood.
    assert [(i.args, i.parent.name) for i in config.unresolved_includes] == [([f"{tmp_path}/conf.d/gone.conf"], "http")]
    dump = (f"# configuration file {tmp_path}/nginx.conf:\nevents {{}}\nhttp {{\n"
            f"    include /run/confgen-absent/env.conf;\n}}\n\n")
    assert kinds(load_nginx(text=dump, nginx_version="1.22.1")) == ["include-not-found"]


@pytest.mark.parametrize("text, chain", [
    ("location / { return 204; }\nlocation /a/ { return 204; }\n", ["http", "server"]),
    ("proxy_pass http://127.0.0.1:8000;\nproxy_set_header Host $host;\n", ["http", "server", "location"]),
])
def test_a_bare_snippet_is_placed_in_the_blocks_it_would_be_included_in(tmp_path, text, chain):
    config = load(tmp_path, {"snippet.conf": text})
    top_level = [d for d in (config.root.block or ())]
    assert [d.name for d in top_level] == ["http"]
    innermost = top_level[0]
    for name in chain[1:]:
        (innermost,) = [d for d in innermost.block if d.name == name]
    written = [d for d in config.walk() if d.parent is innermost]
    assert [d.name for d in written] == [line.split()[0] for line in text.splitlines()]
    assert config.unresolved_includes and config.unresolved_includes[0].parent is innermost
    assert not config.is_full and config.context in ("server", "location")


def test_a_whole_config_and_a_conf_d_file_of_servers_are_not_wrapped(tmp_path):
    whole = load(tmp_path, {"nginx.conf": "events {}\nhttp { server { listen 80; } }\n"})
    servers = load(tmp_path, {"app.conf": "server { listen 80; }\n"})
    assert [d.name for d in whole.root.block] == ["events", "http"] and whole.unresolved_includes == []
    assert [d.name for d in servers.root.block] == ["server"] and servers.unresolved_includes == []
