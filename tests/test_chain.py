"""The chain beyond nginx -> gunicorn: uvicorn, hypercorn, daphne and uWSGI read statically from
where their settings live, balancers declared in front with their documented timers, and the
chain rules between each pair of hops (CG209 chain-keepalive-race, CG210 chain-timeout-order)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from click.testing import CliRunner

import confgen
from confgen.appserver import daphne, entry_script, hypercorn, uvicorn, uwsgi
from confgen.appserver.commands import find_server
from confgen.cli import main
from confgen.errors import ConfgenError
from confgen.hops import balancer_hop
from confgen.lint.discovery import inputs_under

POOLED = """upstream app {{ server 127.0.0.1:{port}; keepalive 16;{extra} }}
server {{
    listen 8080;
    location / {{
        proxy_pass http://app;
        proxy_http_version 1.1;
        proxy_set_header Connection "";
        proxy_set_header Host $host;
    }}
}}
"""


def write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)


def findings(path: Path, *options: str, rule: str | None = None, **kwargs):
    result = confgen.lint_project([str(path)], nginx_version="1.22.1", **kwargs)
    return [f for f in result.findings if rule is None or f.rule == rule]


# ---------------------------------------------------------------------------------------------
# Readers


@pytest.mark.parametrize("words, expected", [
    (["uvicorn", "app:app"], ("uvicorn", 1)),
    (["/srv/venv/bin/hypercorn", "-b", ":80", "app:app"], ("hypercorn", 1)),
    (["python3.12", "-O", "-m", "daphne", "proj.asgi:app"], ("daphne", 4)),
    (["pip", "install", "x", "&&", "uwsgi", "--ini", "app.ini"], ("uwsgi", 5)),
    (["uwsgi_python3", "--http", ":8000"], ("uwsgi", 1)),
    (["gunicorn", "app:app"], ("gunicorn", 1)),
    (["/usr/bin/gunicorn3", "--config", "/etc/api.py", "app:app"], ("gunicorn", 1)),   # Debian's python3-gunicorn
    (["python", "manage.py", "runserver"], None),
    # A server's name handed to another program starts nothing (set 23's install.sh).
    (["sudo", "systemctl", "start", "gunicorn"], None),
    (["pip", "install", "gunicorn", "uvicorn[standard]"], None),
    (["pkill", "-HUP", "uwsgi"], None),
    (["systemctl", "restart", "uwsgi", "&&", "uwsgi", "--ini", "a.ini"], ("uwsgi", 5)),
    (["sudo", "-u", "www-data", "/srv/venv/bin/gunicorn", "app:app"], ("gunicorn", 4)),
    (["poetry", "run", "gunicorn", "app:app"], ("gunicorn", 3)),
])
def test_which_server_a_command_starts(words, expected):
    assert find_server(words) == expected


def test_uvicorn_options_env_and_defaults():
    server = uvicorn.read(["app:app", "--timeout-keep-alive=75", "--uds", "/run/app.sock"], {}, "Procfile:1", "Procfile", 1)
    assert (server.idle.value, server.idle.setting, server.binds) == (75.0, "--timeout-keep-alive", ["unix:/run/app.sock"])
    from_env = uvicorn.read(["app:app"], {"UVICORN_TIMEOUT_KEEP_ALIVE": "30", "UVICORN_PORT": "9000"}, "x", None, 1)
    assert (from_env.idle.value, from_env.binds) == (30.0, ["127.0.0.1:9000"])
    default = uvicorn.read(["app:app"], {}, "x", None, 1)
    assert default.idle.value == 5 and "uvicorn/config.py" in default.idle.source


def test_hypercorn_reads_its_toml_config_and_the_flag_wins(tmp_path):
    (tmp_path / "hypercorn.toml").write_text('bind = ["127.0.0.1:8001"]\nkeep_alive_timeout = 20\n')
    from_file = hypercorn.read(["-c", "hypercorn.toml", "app:app"], {}, "Dockerfile:9", None, 9, cwd=str(tmp_path))
    assert (from_file.idle.value, from_file.binds) == (20, ["127.0.0.1:8001"])
    flag = hypercorn.read(["-c", "hypercorn.toml", "--keep-alive", "90", "app:app"], {}, "x", None, 1, cwd=str(tmp_path))
    assert flag.idle.value == 90.0
    assert hypercorn.read(["app:app"], {}, "x", None, 1).idle.value == 5


def test_daphne_has_twisteds_fixed_idle_timeout():
    server = daphne.read(["-b", "0.0.0.0", "-p", "8001", "proj.asgi:application"], {}, "x", None, 1)
    assert (server.idle.value, server.binds) == (60, ["0.0.0.0:8001"])


@pytest.mark.parametrize("args, binds", [
    (["proj.asgi:application"], ["127.0.0.1:8000"]),                       # nothing given: the default
    (["-b", "0.0.0.0", "proj.asgi:application"], ["0.0.0.0:8000"]),         # each half defaults alone
    (["-p", "8001", "proj.asgi:application"], ["127.0.0.1:8001"]),
    (["-u", "/run/d.sock", "proj.asgi:application"], ["unix:/run/d.sock"]),
    (["-u", "/run/d.sock", "-p", "8001", "proj.asgi:application"], ["127.0.0.1:8001", "unix:/run/d.sock"]),
    # Channels' supervisor recipe: the TCP socket is supervisord's fcgi-program socket, passed as fd 0.
    (["-u", "/run/daphne/daphne%(process_num)d.sock", "--fd", "0", "--proxy-headers", "proj.asgi:application"], []),
    (["-e", "ssl:443:privateKey=key.pem", "proj.asgi:application"], []),
])
def test_daphne_listens_on_every_endpoint_its_command_line_gives(args, binds):
    """daphne/cli.py builds one endpoint of each kind given; a descriptor or endpoint makes the
    list unknowable, so the bind rules stay silent instead of missing one."""
    server = daphne.read(args, {}, "x", None, 1)
    assert server.binds == binds
    assert bool(server.notes) is (binds == [])


@pytest.mark.parametrize("ini, idle, protocol, kills", [
    ("http = :8000\nhttp-keepalive = 15\n", 15.0, "http", None),
    ("http = :8000\nhttp-keepalive = 1\n", 60, "http", None),          # only > 1 sets the idle timer
    # With http-keepalive on, http-timeout is the idle timer; without it the router closes every
    # connection after one response (measured: tests/test_appserver_uwsgi.py), so none at all.
    ("http = :8000\nhttp-keepalive = 1\nhttp-timeout = 30\nharakiri = 20\n", 30.0, "http", 20.0),
    ("http = :8000\nhttp-timeout = 30\nharakiri = 20\n", None, "http", 20.0),
    ("socket = 127.0.0.1:3031\nharakiri = 120\n", None, "uwsgi", 120.0),
    ("http = :8000\nhttp-keepalive = %(k)\n", None, "http", None),       # a placeholder: unknown
])
def test_uwsgi_ini(tmp_path, ini, idle, protocol, kills):
    (tmp_path / "app.ini").write_text("[other]\nhttp-keepalive = 999\n[uwsgi]\nmodule = app\n" + ini)
    server = uwsgi.read_ini(str(tmp_path / "app.ini"))
    hop = server.hop()
    assert server.protocol == protocol
    assert (hop.idle_from_previous.seconds if hop.idle_from_previous else None) == idle
    assert (hop.kills_after.seconds if hop.kills_after else None) == kills
    if idle == 15.0:
        assert hop.idle_from_previous.source == f"{tmp_path / 'app.ini'}:6"


def test_uwsgi_command_line_reads_its_ini(tmp_path):
    (tmp_path / "app.ini").write_text("[uwsgi]\nhttp = :8000\n")
    server = uwsgi.read_args(["--ini", "app.ini", "--http-keepalive", "45"], "start.sh:3", None, 3, cwd=str(tmp_path))
    assert server.idle.value == 45.0 and server.binds == [":8000"]


def test_balancers_and_their_documented_timers():
    alb = balancer_hop("aws-alb")
    assert (alb.idle_to_next.seconds, alb.waits_for_next.seconds) == (60, 60)
    assert balancer_hop("aws-alb", idle_timeout=120).idle_to_next.seconds == 120
    assert balancer_hop("gclb").idle_to_next.seconds == 600 and balancer_hop("heroku").idle_to_next.seconds == 90
    with pytest.raises(ConfgenError, match="fixed at 600s"):
        balancer_hop("gclb", idle_timeout=700)
    with pytest.raises(ConfgenError, match="unknown balancer"):
        balancer_hop("azure-front-door")


# ---------------------------------------------------------------------------------------------
# nginx -> another app server


@pytest.mark.parametrize("app_files, racing", [
    ({"Procfile": "web: uvicorn main:app --port 8000\n"}, True),
    ({"Procfile": "web: uvicorn main:app --port 8000 --timeout-keep-alive 75\n"}, False),
    ({"Dockerfile": 'FROM python:3.12\nCMD ["hypercorn", "-b", "127.0.0.1:8000", "main:app"]\n'}, True),
    ({"uwsgi.ini": "[uwsgi]\nhttp = 127.0.0.1:8000\nhttp-keepalive = 15\n"}, True),
    ({"uwsgi.ini": "[uwsgi]\nhttp = 127.0.0.1:8000\nhttp-keepalive = 75\n"}, False),
    ({"Procfile": "web: daphne -b 127.0.0.1 -p 8000 proj.asgi:application\n"}, True),
    ({"Procfile": "web: uvicorn main:app --port 9999\n"}, False),          # another port: not this upstream
])
def test_nginx_pool_against_the_app_server_beside_it(tmp_path, app_files, racing):
    write(tmp_path, {"nginx.conf": POOLED.format(port=8000, extra=""), **app_files})
    found = findings(tmp_path / "nginx.conf", rule="chain-keepalive-race")
    assert bool(found) == racing, found
    if racing:
        [finding] = found
        assert (finding.file, finding.line) == (str(tmp_path / "nginx.conf"), 1)
        assert "nginx upstream app" in finding.message and "60s" in finding.message


MAIN_PY = """import os
import uvicorn
from fastapi import FastAPI

app = FastAPI()

if __name__ == "__main__":
    uvicorn.run("main:app", host="0.0.0.0", port=8000{extra})
"""


@pytest.mark.parametrize("extra, racing", [
    ("", True),                                            # uvicorn's 5 s default
    (", timeout_keep_alive=75", False),
    (", timeout_keep_alive=int(os.environ['KEEP'])", None),  # computed: unknown, so silent
    (", **options", None),
])
@pytest.mark.parametrize("command_file", [
    {"Procfile": "web: python main.py\n"},
    {"Dockerfile": 'FROM python:3.12\nCOPY . /app\nCMD ["python", "-u", "/app/main.py"]\n'},
])
def test_uvicorn_started_by_the_apps_own_script(tmp_path, command_file, extra, racing):
    write(tmp_path, {"nginx.conf": POOLED.format(port=8000, extra=""), "main.py": MAIN_PY.format(extra=extra),
                     **command_file})
    result = confgen.lint_project([str(tmp_path / "nginx.conf")], nginx_version="1.22.1")
    found = [f for f in result.findings if f.rule == "chain-keepalive-race"]
    assert bool(found) == bool(racing), (found, result.notes)
    assert not {f.rule for f in result.findings} & {"app-keepalive-race", "header-limits-mismatch"}
    if racing:
        assert "5s" in found[0].message and "uvicorn" in found[0].message
    if extra == ", timeout_keep_alive=75":
        server = entry_script.read(str(tmp_path / "main.py"))
        assert (server.idle.value, server.idle.line, server.binds) == (75, 8, ["0.0.0.0:8000"])


@pytest.mark.parametrize("source, started", [
    ("from uvicorn import run as serve\nserve(app, port=8000)\n", True),
    ("import uvicorn\nconfig = uvicorn.Config(app, port=8000)\nuvicorn.Server(config).run()\n", True),
    ("import uvicorn\nuvicorn.Server(uvicorn.Config(app, '0.0.0.0', 9000)).run()\n", True),
    ("import asyncio\nasyncio.run(main())\n", False),
    ("def run(): pass\nrun()\n", False),
    ("this is not python(\n", False),
])
def test_which_scripts_start_uvicorn(tmp_path, source, started):
    (tmp_path / "main.py").write_text(source)
    assert (entry_script.read(str(tmp_path / "main.py")) is not None) == started


def test_the_first_parameters_of_uvicorn_config_by_position(tmp_path):
    (tmp_path / "a.py").write_text("import uvicorn\nuvicorn.Server(uvicorn.Config(app, '0.0.0.0', 9000)).run()\n")
    (tmp_path / "b.py").write_text("import uvicorn\nuvicorn.Server(uvicorn.Config(*parts)).run()\n")
    assert entry_script.read(str(tmp_path / "a.py")).binds == ["0.0.0.0:9000"]
    unknown = entry_script.read(str(tmp_path / "b.py"))
    assert unknown.binds == [] and unknown.idle is None


def test_starts_that_differ_leave_the_server_unknown(tmp_path):
    both = "import uvicorn\nif frozen:\n    uvicorn.run(app, port=8000)\nelse:\n    uvicorn.run('m:app', port=8000{})\n"
    (tmp_path / "same.py").write_text(both.format(""))
    (tmp_path / "differ.py").write_text(both.format(", timeout_keep_alive=75"))
    same, differ = (entry_script.read(str(tmp_path / name)) for name in ("same.py", "differ.py"))
    assert (same.idle.value, same.binds, same.line) == (5, ["127.0.0.1:8000"], 5)
    assert (differ.idle, differ.binds) == (None, []) and "2 uvicorn starts" in differ.notes[0]


def test_a_script_that_starts_no_server_is_not_an_app_command(tmp_path):
    write(tmp_path, {"nginx.conf": POOLED.format(port=8000, extra=""), "main.py": "print('hello')\n",
                     "Procfile": "web: python main.py\n"})
    result = confgen.lint_project([str(tmp_path / "nginx.conf")], nginx_version="1.22.1")
    assert not [f for f in result.findings if f.rule == "chain-keepalive-race"]


def test_a_shorter_upstream_idle_time_ends_the_race(tmp_path):
    write(tmp_path, {"nginx.conf": POOLED.format(port=8000, extra=" keepalive_timeout 4s;"),
                     "Procfile": "web: uvicorn main:app --port 8000\n"})
    assert not findings(tmp_path / "nginx.conf", rule="chain-keepalive-race")


def test_the_gunicorn_rules_stay_silent_for_another_server(tmp_path):
    write(tmp_path, {"nginx.conf": POOLED.format(port=8000, extra=""), "Procfile": "web: uvicorn main:app --port 8000\n"})
    rules = {f.rule for f in findings(tmp_path / "nginx.conf")}
    assert "app-keepalive-race" not in rules and "header-limits-mismatch" not in rules


def test_uwsgi_pass_against_harakiri(tmp_path):
    write(tmp_path, {"nginx.conf": "server {\n    location / {\n        include uwsgi_params;\n"
                                   "        uwsgi_pass 127.0.0.1:3031;\n        uwsgi_read_timeout 30s;\n    }\n}\n",
                     "app.ini": "[uwsgi]\nsocket = 127.0.0.1:3031\nharakiri = 60\n"})
    [finding] = findings(tmp_path / "nginx.conf", rule="chain-timeout-order")
    assert (finding.line, finding.col) == (5, 9)
    assert "uwsgi_read_timeout 30s" in finding.message and "harakiri 60s" in finding.message
    # The uwsgi protocol carries one request per connection: no keep-alive race.
    assert not findings(tmp_path / "nginx.conf", rule="chain-keepalive-race")


# ---------------------------------------------------------------------------------------------
# A balancer in front


@pytest.mark.parametrize("behind, app, rules", [
    ("aws-alb", "worker_class = 'gthread'\nthreads = 4\n", {"chain-keepalive-race"}),
    ("aws-alb", "worker_class = 'gthread'\nthreads = 4\nkeepalive = 75\n", set()),
    ("aws-alb:120", "worker_class = 'gthread'\nthreads = 4\nkeepalive = 75\n", {"chain-keepalive-race"}),
    ("gclb", "worker_class = 'gthread'\nthreads = 4\nkeepalive = 620\n", set()),
    ("gclb", "worker_class = 'gthread'\nthreads = 4\nkeepalive = 75\n", {"chain-keepalive-race"}),
    ("heroku", "worker_class = 'gthread'\nthreads = 4\nkeepalive = 95\n", set()),
    ("aws-alb", "worker_class = 'sync'\n", set()),                         # closes every connection, timeout 30 < 60
    ("heroku", "worker_class = 'sync'\ntimeout = 60\n", {"chain-timeout-order"}),
])
def test_an_app_alone_behind_a_balancer(tmp_path, behind, app, rules):
    (tmp_path / "gunicorn.conf.py").write_text(app)
    found = confgen.lint_project([str(tmp_path / "gunicorn.conf.py")], behind=behind).findings
    assert {f.rule for f in found} == rules, found
    for finding in found:
        assert finding.file == str(tmp_path / "gunicorn.conf.py")


def test_the_project_declares_the_balancer(tmp_path):
    write(tmp_path, {".confgen.toml": 'behind = { name = "aws-alb", idle-timeout = 300 }\n',
                     "Procfile": "web: uvicorn main:app --timeout-keep-alive 120\n"})
    [finding] = confgen.lint_project([str(tmp_path / "Procfile")]).findings
    assert finding.rule == "chain-keepalive-race" and "300s" in finding.message and "120s" in finding.message


def test_a_declared_balancer_in_front_of_nginx_orders_its_keepalive(tmp_path):
    write(tmp_path, {"nginx.conf": "http {\n    keepalive_timeout 30s;\n    server { listen 80; }\n}\n"})
    [finding] = findings(tmp_path / "nginx.conf", behind="aws-alb", rule="keepalive-timeout-order")
    assert "AWS Application Load Balancer" in finding.message and (finding.line, finding.col) == (2, 5)
    assert not findings(tmp_path / "nginx.conf", rule="keepalive-timeout-order")


def test_bad_behind_values_are_one_line_errors(tmp_path):
    (tmp_path / "gunicorn.conf.py").write_text("keepalive = 5\n")
    for value, words in (("nowhere", "unknown balancer"), ("gclb:900", "fixed"), ("aws-alb:soon", "number of seconds")):
        result = CliRunner().invoke(main, ["lint", str(tmp_path / "gunicorn.conf.py"), "--behind", value])
        assert result.exit_code == 2 and words in result.stderr and result.stderr.count("\n") == 1, result.stderr
    (tmp_path / ".confgen.toml").write_text('behind = { name = "aws-alb", idle-timeout = -1 }\n')
    result = CliRunner().invoke(main, ["lint", str(tmp_path / "gunicorn.conf.py")])
    assert result.exit_code == 2 and "behind.idle-timeout" in result.stderr


# ---------------------------------------------------------------------------------------------
# A repository is one input


def test_a_directory_is_every_input_under_it(tmp_path):
    write(tmp_path, {
        "deploy/nginx.conf": POOLED.format(port=8000, extra=""),
        "deploy/Procfile": "web: uvicorn main:app --port 8000\n",
        "api/uwsgi.ini": "[uwsgi]\nhttp = 127.0.0.1:9000\nhttp-keepalive = 15\n",
        "api/nginx/site.conf": POOLED.format(port=9000, extra=""),
        "scripts/backup.sh": "#!/bin/sh\ntar czf /backup.tgz /srv\n",     # a script that starts no app
        "docs/notes.conf": "not nginx at all\n",
        ".git/config": "[core]\n",
    })
    result = confgen.lint_project([str(tmp_path)], nginx_version="1.22.1")
    races = sorted(f.file for f in result.findings if f.rule == "chain-keepalive-race")
    assert races == [str(tmp_path / "api/nginx/site.conf"), str(tmp_path / "deploy/nginx.conf")]
    assert any("2 nginx file(s), 2 app-side file(s) and 0 Kubernetes manifest file(s) found" in note for note in result.notes), result.notes
    assert not [f for f in result.findings if f.rule == "syntax-error"]


def test_a_directory_with_nothing_to_lint_is_a_one_line_error(tmp_path):
    (tmp_path / "README.md").write_text("hello\n")
    with pytest.raises(ConfgenError, match="is a directory with no nginx config"):
        confgen.lint_project([str(tmp_path)])


def test_site_files_named_after_their_domain_and_templates_are_found_by_their_content(tmp_path):
    site = "server { listen 80; server_name example.com; location / { proxy_pass http://127.0.0.1:8000; } }\n"
    write(tmp_path, {"sites-available/example.com": site, "sites-enabled/shop": site,
                     "templates/default.conf.template": site.replace("example.com", "${HOST}"),
                     "sites-available/README.md": site, "sites-available/site.j2": "{{ site }}\n" + site,
                     "nginx/default.conf.tpl": site,                # envsubst's input, rendered by a script
                     "docs/notes": site})   # outside an nginx directory, a suffix-less file is not sniffed
    found = inputs_under(str(tmp_path))
    assert sorted(os.path.relpath(p, tmp_path) for p in found.nginx) == [
        "sites-available/example.com", "sites-enabled/shop", "templates/default.conf.template"]


# Set 23: five unrendered templates named like configs (Ansible's `templates/nginx.conf`, a Salt
# state's `site.conf`, a Django project template's `production.ngx`) were CG001 at error.
JINJA_SITE = ("# {{ ansible_managed }}\nupstream app { server unix:{{ app_dir }}/run/gunicorn.sock; }\n"
              "server {\n    listen 80;\n    server_name {{ server_name }};\n"
              "    {% if ssl %}listen 443 ssl;{% endif %}\n    location / { proxy_pass http://app; }\n}\n")


@pytest.mark.parametrize("name, text, marker", [
    ("deploy/nginx/templates/nginx.conf", JINJA_SITE, (2, "{{ app_dir }}")),
    ("conf/nginx/production.ngx", "upstream {{ project_name }} { server 127.0.0.1:8000; }\n", (1, "{{ project_name }}")),
    ("salt/web/site.conf", "server {\n  listen <%= @port %>;\n}\n", (2, "<%= @port %>")),
])
def test_an_unrendered_template_named_like_a_config_is_a_note_not_a_syntax_error(tmp_path, name, text, marker):
    write(tmp_path, {name: text})
    result = confgen.lint_project([str(tmp_path)], nginx_version="1.22.1")
    assert result.findings == []
    line, shown = marker
    assert f"{tmp_path / name}:{line}: a template ({shown}), not nginx syntax until it is rendered: not linted; " \
           f"lint the file it renders to" in result.notes, result.notes


def test_a_config_that_does_not_parse_and_holds_no_template_markup_is_still_a_syntax_error(tmp_path):
    # `{{` inside a comment or after it on the line is nginx's comment, not a template's.
    write(tmp_path, {"nginx.conf": "# {{ managed }}\nhttp {\n    server { listen 80 }\n}\n"})
    [finding] = confgen.lint_project([str(tmp_path)], nginx_version="1.22.1").findings
    assert (finding.rule, finding.line) == ("syntax-error", 3)


def test_a_rendered_config_with_template_comments_is_linted(tmp_path):
    write(tmp_path, {"nginx.conf": "# {{ ansible_managed }}\nworker_processes 1;\nevents {}\nhttp {}\n"})
    rules = [f.rule for f in confgen.lint_project([str(tmp_path)], nginx_version="1.22.1").findings]
    assert "worker-processes" in rules


def test_an_included_template_is_a_file_the_deployment_renders(tmp_path):
    # What the rendered file sets is unknown, so a rule about a missing value stays silent where
    # it is included (here: no proxy_http_version for the pooled upstream).
    write(tmp_path, {"nginx.conf": "events {}\nhttp {\n    upstream app { server 127.0.0.1:8000; keepalive 8; }\n"
                                   "    server {\n        listen 80;\n        location / {\n"
                                   "            include proxy.conf;\n            proxy_pass http://app;\n"
                                   "        }\n    }\n}\n",
                     "proxy.conf": "proxy_set_header Host {{ host }};\n"})
    result = confgen.lint_project([str(tmp_path / "nginx.conf")], nginx_version="1.22.1")
    assert not [f for f in result.findings if f.rule in ("syntax-error", "keepalive-needs-http11")], result.findings
    assert any(note.startswith(f"{tmp_path / 'proxy.conf'}:1: a template ({{{{ host }}}})") for note in result.notes)


def test_an_app_is_paired_only_with_a_conf_beside_it_that_is_nginx(tmp_path):
    # Set 23's katmutua: an Upstart job `uwsgi.conf` beside uwsgi.ini was taken for its nginx.
    write(tmp_path, {"web/uwsgi.ini": "[uwsgi]\nsocket = 127.0.0.1:8001\nmodule = app.wsgi\n",
                     "web/uwsgi.conf": "description \"uWSGI\"\nstart on runlevel [2345]\nexec uwsgi --emperor /etc/uwsgi\n"})
    result = confgen.lint_project([str(tmp_path)], nginx_version="1.22.1")
    assert result.findings == [] and result.files == []
    write(tmp_path, {"web/site.conf": "server {\n    location / { include uwsgi_params; uwsgi_pass 127.0.0.1:8001; }\n}\n"})
    result = confgen.lint_project([str(tmp_path / "web/uwsgi.ini")], nginx_version="1.22.1")
    assert [f.rule for f in result.findings] == ["uwsgi-buffer-size"]


# ---------------------------------------------------------------------------------------------
# uWSGI behind nginx: the protocol and the request size


@pytest.mark.parametrize("ini, location, rule", [
    ("socket = 127.0.0.1:3031", "proxy_pass http://127.0.0.1:3031;", "app-protocol-mismatch"),
    ("http-socket = 127.0.0.1:3031", "include uwsgi_params; uwsgi_pass 127.0.0.1:3031;", "app-protocol-mismatch"),
    ("socket = 127.0.0.1:3031", "include uwsgi_params; uwsgi_pass 127.0.0.1:3031;", "uwsgi-buffer-size"),
    ("http-socket = 127.0.0.1:3031", "proxy_pass http://127.0.0.1:3031;", None),
    ("socket = 127.0.0.1:3031\nbuffer-size = 32768", "include uwsgi_params; uwsgi_pass 127.0.0.1:3031;", None),
    ("socket = 127.0.0.1:4000", "proxy_pass http://127.0.0.1:3031;", None),     # another app
])
def test_uwsgi_socket_kind_and_buffer_size(tmp_path, ini, location, rule):
    write(tmp_path, {"nginx.conf": f"server {{\n    location / {{ {location} }}\n}}\n", "app.ini": f"[uwsgi]\n{ini}\n"})
    found = [f for f in findings(tmp_path / "nginx.conf") if f.rule in ("app-protocol-mismatch", "uwsgi-buffer-size")]
    assert [f.rule for f in found] == ([rule] if rule else []), found
    if rule:
        assert (found[0].line, found[0].col) == (2, 18 if "include" not in location else 40)


@pytest.mark.parametrize("pass_to", ["http://127.0.0.1:3031", "http://app"])
def test_http_to_a_uwsgi_protocol_socket_is_the_protocol_finding_alone(tmp_path, pass_to):
    # Set 25's Impact-Website: proxy_pass to uWSGI's `socket`; every request fails, so a pool
    # (upstream-no-keepalive, proxy-pass-no-upstream) is a note until the protocols agree.
    write(tmp_path, {"nginx.conf": "upstream app { server 127.0.0.1:3031; }\n"
                                   f"server {{\n    location / {{ proxy_pass {pass_to}; }}\n}}\n",
                     "app.ini": "[uwsgi]\nsocket = 127.0.0.1:3031\nmodule = app.wsgi\n"})
    result = confgen.lint_project([str(tmp_path / "nginx.conf")], nginx_version="1.22.1")
    assert [f.rule for f in result.findings] == ["app-protocol-mismatch"], result.findings
    assert any("speaks the uwsgi protocol there, not HTTP (app-protocol-mismatch)" in n for n in result.notes)


MANIFEST = """apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: web, namespace: shop}
spec:
  ingressClassName: nginx
  rules:
    - http:
        paths:
          - path: /
            pathType: Prefix
            backend: {service: {name: web, port: {number: 80}}}
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: shop}
spec:
  selector: {app: web}
  ports: [{port: 80, targetPort: 8000}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
        - name: web
          image: registry.example.com/shop/web:1.0
          ports: [{containerPort: 8000}]
"""


@pytest.mark.parametrize("cmd, racing", [
    ('CMD ["gunicorn", "-k", "gthread", "--threads", "4", "-b", "0.0.0.0:8000", "app:app"]', True),
    ('CMD ["gunicorn", "-k", "gthread", "--threads", "4", "--keep-alive", "75", "-b", "0.0.0.0:8000", "app:app"]', False),
    ('CMD uvicorn app:app --host 0.0.0.0 --port 8000', True),
])
def test_a_container_without_a_command_runs_its_dockerfiles_cmd(tmp_path, cmd, racing):
    write(tmp_path, {"k8s/app.yaml": MANIFEST, "web/Dockerfile": f"FROM python:3.12\nCOPY . /app\n{cmd}\n"})
    result = confgen.lint_project([str(tmp_path)])
    found = [f for f in result.findings if f.rule == "chain-keepalive-race"]
    assert bool(found) == racing, (found, result.notes)
    if racing:
        assert (found[0].file, found[0].line) == (str(tmp_path / "web/Dockerfile"), 3)
        assert "ingress-nginx" in found[0].message and "60s" in found[0].message
    assert not any("web/Dockerfile: no nginx config is paired" in note for note in result.notes)


@pytest.mark.parametrize("image, read", [
    ("registry.example.com/shop/web:1.0", True),
    ("trucv/nginxweb:1.0", False),       # set 24's K8s flask: the nginx image, built from nginx/Dockerfile
    ("example/nginx:latest", False),
])
def test_the_only_app_dockerfile_is_not_taken_for_a_proxy_image(tmp_path, image, read):
    cmd = 'CMD ["gunicorn", "-k", "gthread", "--threads", "4", "-b", "0.0.0.0:8000", "app:app"]'
    write(tmp_path, {"k8s/app.yaml": MANIFEST.replace("registry.example.com/shop/web:1.0", image),
                     "web/Dockerfile": f"FROM python:3.12\nCOPY . /app\n{cmd}\n"})
    result = confgen.lint_project([str(tmp_path)])
    assert bool([f for f in result.findings if f.rule == "chain-keepalive-race"]) is read
    assert any("its image's CMD is read from" in note for note in result.notes) is read


def test_a_container_whose_image_runs_a_script_that_starts_uvicorn(tmp_path):
    write(tmp_path, {"k8s/app.yaml": MANIFEST, "web/main.py": MAIN_PY.format(extra=""),
                     "web/Dockerfile": 'FROM python:3.12\nCOPY . /app\nCMD ["python", "/app/main.py"]\n'})
    result = confgen.lint_project([str(tmp_path)])
    [found] = [f for f in result.findings if f.rule == "chain-keepalive-race"]
    assert "ingress-nginx" in found.message and "main.py:8" in found.message, found.message


# ---------------------------------------------------------------------------------------------
# Gateway API


FIXTURES_K8S = Path(__file__).parent / "fixtures" / "k8s"


def test_an_httproute_through_nginx_gateway_fabric_races_uvicorn(tmp_path):
    result = confgen.lint_project([str(FIXTURES_K8S / "gateway-ngf")])
    [race] = [f for f in result.findings if f.rule == "chain-keepalive-race"]
    assert (race.line, race.col) == (77, 11)       # the container's command
    assert "NGINX Gateway Fabric" in race.message and "keepAlive.timeout 60s" in race.message
    assert any("HTTPRoute shop/api -> Service shop/api" in note for note in result.notes)


@pytest.mark.parametrize("edit, rules", [
    (("timeout: 60s", "timeout: 4s"), set()),                                # the pool gives up first
    (("connections: 32", "connections: 0"), set()),                          # no pool at all
    (("gateway.nginx.org/nginx-gateway-controller", "example.com/other"), set()),   # another implementation
    (('command: ["uvicorn", "api.main:app",', 'command: ["gunicorn", "-k", "sync", "--timeout", "60", "api.main:app",'),
     {"chain-timeout-order"}),                                               # the route gives up at 30 s, the worker at 60 s
])
def test_gateway_api_cases(tmp_path, edit, rules):
    text = (FIXTURES_K8S / "gateway-ngf" / "app.yaml").read_text().replace(*edit)
    (tmp_path / "app.yaml").write_text(text)
    found = {f.rule for f in confgen.lint_project([str(tmp_path / "app.yaml")]).findings
             if f.rule.startswith("chain-")}
    assert found == rules


def test_gateway_api_durations():
    from confgen.manifests.gateway import duration

    assert [duration(t) for t in ("10s", "1m30s", "500ms", "1h", "", "10", "1d", "1h2m3s4ms")] == \
        [10, 90, 0.5, 3600, None, None, None, 3723.004]


# ---------------------------------------------------------------------------------------------
# docker compose: each upstream paired with the service its host name names


COMPOSE_NGINX = """events {}
http {
    upstream web { server web:8000; keepalive 16; }
    upstream api { server api:8000; keepalive 16; }
    server {
        listen 80;
        location / { proxy_pass http://web; proxy_http_version 1.1; proxy_set_header Connection ""; }
        location /api/ { proxy_pass http://api; proxy_http_version 1.1; proxy_set_header Connection ""; }
    }
}
"""
COMPOSE = """services:
  nginx:
    image: nginx:1.27
  web:
    command: gunicorn -k gthread --threads 4 -b 0.0.0.0:8000 --keep-alive {web_keepalive} web.wsgi
  api:
    command: uvicorn api.main:app --host 0.0.0.0 --port 8000 --timeout-keep-alive {api_keepalive}
  worker:
    command: celery -A web worker
"""


@pytest.mark.parametrize("environment, racing", [
    ("", True),                                                            # uvicorn's 5 s
    ("    environment:\n      UVICORN_TIMEOUT_KEEP_ALIVE: 75\n", False),
    ("    environment:\n      - UVICORN_TIMEOUT_KEEP_ALIVE=${KEEP}\n", False),   # interpolated by compose: unknown
])
def test_the_variables_a_compose_service_sets_reach_its_app_server(tmp_path, environment, racing):
    compose = "services:\n  api:\n    command: uvicorn api.main:app --host 0.0.0.0 --port 8000\n" + environment
    write(tmp_path, {"nginx.conf": COMPOSE_NGINX, "docker-compose.yml": compose})
    result = confgen.lint_project([str(tmp_path / "nginx.conf")], nginx_version="1.22.1")
    assert bool([f for f in result.findings if f.rule == "chain-keepalive-race"]) == racing


@pytest.mark.parametrize("web_keepalive, api_keepalive, racing", [
    (75, 75, set()),
    (2, 75, {("app-keepalive-race", 3)}),         # the web service's gunicorn closes first: at upstream web
    (75, 5, {("chain-keepalive-race", 4)}),       # the api service's uvicorn closes first: at upstream api
    (2, 5, {("app-keepalive-race", 3), ("chain-keepalive-race", 4)}),
])
def test_two_services_on_one_port_are_told_apart_by_name(tmp_path, web_keepalive, api_keepalive, racing):
    write(tmp_path, {"nginx.conf": COMPOSE_NGINX,
                     "docker-compose.yml": COMPOSE.format(web_keepalive=web_keepalive, api_keepalive=api_keepalive)})
    result = confgen.lint_project([str(tmp_path / "nginx.conf")], nginx_version="1.22.1")
    found = {(f.rule, f.line) for f in result.findings if f.rule.endswith("keepalive-race")}
    assert found == racing, (found, result.notes)
    assert any("compose service web" in note for note in result.notes)
    assert any("compose service api" in note for note in result.notes)
    assert not any("which of them is this app cannot be told" in note for note in result.notes)


def test_a_compose_service_is_read_through_its_shell_string_script_and_dockerfile(tmp_path):
    """What each service runs, wherever the compose file leaves it: a `sh -c` string, a script
    named by its container path (/app/scripts/start.sh is scripts/start.sh in the build context),
    or, with no command written, the CMD of the Dockerfile it is built from."""
    compose = """services:
  web:
    build: ./backend
    command: sh -c "python manage.py migrate && gunicorn -k gthread --threads 4 -b 0.0.0.0:8000 --keep-alive 2 web.wsgi"
  api:
    build:
      context: ./api
      dockerfile: Dockerfile.prod
"""
    write(tmp_path, {"nginx.conf": COMPOSE_NGINX, "docker-compose.yml": compose,
                     "api/Dockerfile.prod": 'FROM python:3.12\nCMD ["uvicorn", "api.main:app", "--host", "0.0.0.0", '
                                            '"--port", "8000"]\n'})
    result = confgen.lint_project([str(tmp_path / "nginx.conf")], nginx_version="1.22.1")
    found = {(f.rule, f.line) for f in result.findings if f.rule.endswith("keepalive-race")}
    assert found == {("app-keepalive-race", 3), ("chain-keepalive-race", 4)}, result.notes
    assert any(f"{tmp_path / 'api' / 'Dockerfile.prod'}:2 (compose service api" in note for note in result.notes)

    (tmp_path / "backend" / "scripts").mkdir(parents=True)
    (tmp_path / "backend" / "scripts" / "start.sh").write_text(
        "#!/bin/sh\npython manage.py migrate\nexec gunicorn -k gthread --threads 4 -b 0.0.0.0:8000 "
        "--keep-alive 75 web.wsgi\n")
    (tmp_path / "docker-compose.yml").write_text(compose.replace(
        'sh -c "python manage.py migrate && gunicorn -k gthread --threads 4 -b 0.0.0.0:8000 --keep-alive 2 web.wsgi"',
        "bash /app/scripts/start.sh"))
    result = confgen.lint_project([str(tmp_path)], nginx_version="1.22.1")
    found = {(f.rule, f.line) for f in result.findings if f.rule.endswith("keepalive-race")}
    assert found == {("chain-keepalive-race", 4)}, result.notes
    assert any("start.sh:3 (compose service web" in note for note in result.notes)
    assert not any("no nginx config is paired with it" in note for note in result.notes)


def test_each_compose_service_gets_the_pool_advice_of_its_own_app_once(tmp_path):
    """Two services behind one nginx: each upstream is advised once, from its own app (the sync
    gunicorn's a note, uvicorn's a finding), not also generically from the other service's view."""
    nginx = COMPOSE_NGINX.replace(" keepalive 16;", "")
    compose = COMPOSE.format(web_keepalive=2, api_keepalive=75).replace("-k gthread --threads 4 ", "")
    write(tmp_path, {"nginx.conf": nginx, "docker-compose.yml": compose})
    result = confgen.lint_project([str(tmp_path / "nginx.conf")], nginx_version="1.22.1")
    pools = [f for f in result.findings if f.rule == "upstream-no-keepalive"]
    assert [f.line for f in pools] == [4] and "if the app behind" not in pools[0].message
    assert any(note.startswith(f"{tmp_path / 'nginx.conf'}:3: upstream web has no `keepalive`") and
               "sync worker" in note for note in result.notes)


def test_two_replicas_behind_one_upstream_get_its_pool_advice_once(tmp_path):
    """fastapi-sqlalchemy-asyncpg: api1 and api2 run the same uvicorn behind `upstream lb`: one
    cause at one line, one finding, though each service is paired and checked."""
    service = "    build: .\n    command: uvicorn app.main:app --host 0.0.0.0 --port 8080\n"
    write(tmp_path, {"nginx.conf": "upstream lb {\n    server api1:8080;\n    server api2:8080;\n}\n"
                                   "server {\n    listen 80;\n    location / { proxy_pass http://lb; }\n}\n",
                     "docker-compose.yml": f"services:\n  api1:\n{service}  api2:\n{service}"})
    result = confgen.lint_project([str(tmp_path / "nginx.conf")], nginx_version="1.22.1")
    assert [(f.rule, f.line) for f in result.findings if f.rule == "upstream-no-keepalive"] == \
        [("upstream-no-keepalive", 1)]
    assert sum("paired uvicorn" in note for note in result.notes) == 2


def test_each_program_of_a_supervisor_config_is_checked_against_the_upstream_it_binds(tmp_path):
    """hypothesis/h's supervisord.conf runs the web app (sync worker) and a WebSocket server:
    the web upstream gets the sync worker's note and its timeout check, each pairing is named,
    and the [supervisord] environment reaches every program."""
    nginx = """events {}
http {
  upstream web { server 127.0.0.1:5000; }
  upstream ws { server 127.0.0.1:5001; }
  map $http_upgrade $connection_upgrade { default upgrade; '' close; }
  server { listen 80;
    location / { proxy_pass http://web; proxy_read_timeout 10s; proxy_set_header Host $host; }
    location /ws { proxy_pass http://ws; proxy_http_version 1.1; proxy_set_header Upgrade $http_upgrade;
                   proxy_set_header Host $host;
                   proxy_set_header Connection $connection_upgrade; } } }
"""
    supervisor = ("[supervisord]\nenvironment=PORT_WEB=\"5000\"\n\n[program:web]\ncommand=gunicorn -b 127.0.0.1:${PORT_WEB} h:app\n\n"
                  "[program:websocket]\ncommand=gunicorn -k h.websocket.Worker -b 127.0.0.1:5001 h.websocket:app\n")
    write(tmp_path, {"nginx.conf": nginx, "supervisord.conf": supervisor.replace("${PORT_WEB}", "5000")})
    result = confgen.lint_project([str(tmp_path / "nginx.conf")], nginx_version="1.22.1")
    assert {(f.rule, f.line) for f in result.findings if f.rule.startswith(("app-", "upstream-"))} == \
        {("app-timeout-exceeds-proxy", 7)}
    assert sum("one of 2 programs" in note for note in result.notes) == 2
    assert any(note.startswith(f"{tmp_path / 'nginx.conf'}:3: upstream web has no `keepalive`") for note in result.notes)
    from confgen.gunicorn import sources

    programs = sources.supervisor_programs(str(tmp_path / "supervisord.conf"), supervisor)
    assert [p.line for p in programs] == [5, 8] and programs[0].env["PORT_WEB"] == "5000"


@pytest.mark.parametrize("upstream, paired", [("web:8000", True), ("backend:8000", False)])
def test_a_compose_file_above_the_nginx_folder_is_paired_by_the_service_its_upstreams_name(tmp_path, upstream, paired):
    """kuma: nginx's image is built from docker/images/nginx/, the compose file is at the root."""
    nginx = COMPOSE_NGINX.replace("upstream web { server web:8000;", f"upstream django {{ server {upstream};") \
        .replace("proxy_pass http://web;", "proxy_pass http://django;")
    write(tmp_path, {"docker/images/nginx/nginx.conf": nginx,
                     "docker-compose.yml": COMPOSE.format(web_keepalive=2, api_keepalive=5)})
    result = confgen.lint_project([str(tmp_path / "docker/images/nginx/nginx.conf")], nginx_version="1.22.1")
    assert any("compose service api" in note for note in result.notes)      # named in either case
    assert any("compose service web" in note for note in result.notes) is paired
