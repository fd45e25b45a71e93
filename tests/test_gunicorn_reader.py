"""The gunicorn reader: gunicorn.conf.py read statically (never imported, never run), command
lines as written in a Procfile or a systemd ExecStart, gunicorn's own defaults and worker rules."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from confgen.errors import ConfgenError
from confgen.gunicorn.reader import DEFAULTS, UNKNOWN, GunicornConfig, read_gunicorn_cmd, read_gunicorn_file

FIXTURES = Path(__file__).parent / "fixtures" / "gunicorn"


def read(tmp_path: Path, source: str) -> GunicornConfig:
    path = tmp_path / "gunicorn.conf.py"
    path.write_text(textwrap.dedent(source).lstrip("\n"))
    return read_gunicorn_file(path)


def values(config: GunicornConfig) -> dict:
    return {name: setting.value for name, setting in config.settings.items()}


# ---------------------------------------------------------------------------------------------
# gunicorn's defaults


def test_defaults_equal_the_installed_gunicorns():
    # In a child with a clean environment: gunicorn computes two defaults from the environment
    # when gunicorn.config is imported (WEB_CONCURRENCY, FORWARDED_ALLOW_IPS).
    script = textwrap.dedent("""
        import json, sys
        from gunicorn.config import Config
        names = json.loads(sys.argv[1])
        settings = Config().settings
        print(json.dumps({n: settings[n].default for n in names if n in settings}))
    """)
    env = {k: v for k, v in os.environ.items() if k not in ("WEB_CONCURRENCY", "FORWARDED_ALLOW_IPS")}
    result = subprocess.run([sys.executable, "-c", script, json.dumps(list(DEFAULTS))],
                            capture_output=True, text=True, env=env, timeout=60, check=True)
    gunicorn_defaults = json.loads(result.stdout)
    assert set(gunicorn_defaults) == set(DEFAULTS), "a setting confgen knows is not gunicorn's"
    assert {name: DEFAULTS[name] for name in gunicorn_defaults} == gunicorn_defaults


def test_unset_settings_are_gunicorns_defaults_with_source_default(tmp_path):
    config = read(tmp_path, "workers = 3\n")
    for name, default in DEFAULTS.items():
        if name == "workers":
            continue
        setting = config.setting(name)
        assert (setting.value, setting.source, setting.file, setting.line) == (default, "default", None, None)
    assert config.get("keepalive") == 2 and config.get("timeout") == 30
    assert config.worker_class == "sync" and config.get("threads") == 1
    assert config.setting("workers").source == "file"
    assert config.setting("no_such_setting").value is None


# ---------------------------------------------------------------------------------------------
# What the file reader understands


def test_a_realistic_file_is_read_with_lines_and_notes():
    path = FIXTURES / "full.conf.py"
    config = read_gunicorn_file(path)
    assert config.problems == [] and config.path == str(path)
    assert values(config) | {} == {
        "bind": ["0.0.0.0:8000", "unix:/run/app/gunicorn.sock"],
        "workers": UNKNOWN,
        "worker_class": "uvicorn.workers.UvicornWorker",
        "threads": 1,
        "keepalive": 75,
        "timeout": 60,
        "graceful_timeout": 30,
        "max_requests": 1000,
        "max_requests_jitter": 100,
        "limit_request_line": 8190,
        "limit_request_fields": 200,
        "forwarded_allow_ips": "*",
        "backlog": 2048,
        "accesslog": "-",
        "loglevel": UNKNOWN,       # set only when $DEBUG is: unknown, not "info"
        "proc_name": UNKNOWN,      # "app" or None, depending on an import
        "post_fork": UNKNOWN,      # a hook: a function, never called
    }
    keepalive = config.setting("keepalive")
    assert (keepalive.source, keepalive.file, keepalive.line) == ("file", str(path), 10)
    assert "GUNICORN_KEEPALIVE" in keepalive.note
    assert "FORWARDED_ALLOW_IPS" in config.setting("forwarded_allow_ips").note
    assert config.setting("timeout").note is None
    assert config.setting("limit_request_fields").line == 15
    assert config.setting("workers").note == "depends on the CPU count"
    assert config.worker_class == "uvicorn"
    assert config.binds == ["0.0.0.0:8000", "unix:/run/app/gunicorn.sock"]
    assert config.binds_unix_socket is False  # one TCP bind: not only a socket


def test_a_file_whose_top_level_runs_commands_is_read_without_running_them(tmp_path, monkeypatch):
    canary = tmp_path / "canary"
    canary.mkdir()
    monkeypatch.setenv("CONFGEN_CANARY", str(canary))
    config = read_gunicorn_file(FIXTURES / "side_effect.conf.py")
    assert list(canary.iterdir()) == []
    assert (config.get("timeout"), config.get("keepalive")) == (45, 10)
    # The control: running the file does leave the traces, so the check above can fail.
    subprocess.run([sys.executable, str(FIXTURES / "side_effect.conf.py")], check=True, timeout=60,
                   env={**os.environ, "CONFGEN_CANARY": str(canary)}, capture_output=True)
    assert {p.name for p in canary.iterdir()} == {"system", "pathlib", "subprocess", "open", "import", "exec"}


@pytest.mark.parametrize(("source", "name", "expected"), [
    ("timeout = 120\n", "timeout", 120),
    ("bind = '127.0.0.1:9000'\n", "bind", "127.0.0.1:9000"),
    ("bind = ('a:1', 'b:2')\n", "bind", ("a:1", "b:2")),
    ("preload_app = True\n", "preload_app", True),
    ("wsgi_app = None\n", "wsgi_app", None),
    ("timeout = 2 * 60 + 5\n", "timeout", 125),
    ("timeout = -(-30)\n", "timeout", 30),
    ("timeout = 7 // 2\n", "timeout", 3),
    ("timeout = 7 % 4\n", "timeout", 3),
    ("backlog = 2 ** 10\n", "backlog", 1024),
    ("keepalive = 10 // 2\n", "keepalive", 5),
    ("forwarded_allow_ips = '10.0.0.1' + ',' + '10.0.0.2'\n", "forwarded_allow_ips", "10.0.0.1,10.0.0.2"),
    ("accesslog = '%s.log' % 'app'\n", "accesslog", "app.log"),
    ("BASE = 30\ntimeout = BASE * 2\n", "timeout", 60),
    ("a = b = 7\ntimeout = a + b\n", "timeout", 14),
    ("PORT = 8080\nbind = f'0.0.0.0:{PORT}'\n", "bind", "0.0.0.0:8080"),
    ("host = 'h'\nbind = [f'{host}:{1 + 1}']\n", "bind", ["h:2"]),
    ("timeout = int('90')\n", "timeout", 90),
    ("keepalive = max(5, 65)\n", "keepalive", 65),
    ("keepalive = min(5, 65)\n", "keepalive", 5),
    ("raw_env = ['A=1', 'B=2']\n", "raw_env", ["A=1", "B=2"]),
    ("secure_scheme_headers = {'X-FORWARDED-PROTO': 'https'}\n", "secure_scheme_headers",
     {"X-FORWARDED-PROTO": "https"}),
    ("timeout: int = 45\n", "timeout", 45),
    ("timeout = 30\ntimeout += 15\n", "timeout", 45),
    ("timeout = 30\ntimeout *= 3\n", "timeout", 90),
    ("workers, threads = 3, 4\n", "threads", 4),
    ("[workers, threads] = (3, 4)\n", "workers", 3),
    ("(workers, (threads, timeout)) = (3, (4, 5))\n", "timeout", 5),
])
def test_values_the_reader_computes(tmp_path, source, name, expected):
    config = read(tmp_path, source)
    assert config.problems == []
    assert config.get(name) == expected
    assert type(config.get(name)) is type(expected)


@pytest.mark.parametrize(("source", "name"), [
    ("import multiprocessing\nworkers = multiprocessing.cpu_count() * 2 + 1\n", "workers"),
    ("import os\nworkers = os.cpu_count()\n", "workers"),
    ("from multiprocessing import cpu_count\nworkers = cpu_count()\n", "workers"),
    ("import os\ntimeout = os.environ['TIMEOUT']\n", "timeout"),
    ("import os\ntimeout = os.environ.get('TIMEOUT')\n", "timeout"),
    ("import os\ntimeout = int(os.getenv('TIMEOUT'))\n", "timeout"),
    ("timeout = undefined_name\n", "timeout"),
    ("timeout = compute()\n", "timeout"),
    ("timeout = int('90', base=10)\n", "timeout"),
    ("timeout = 1 / 0\n", "timeout"),
    ("timeout = 'a' + 1\n", "timeout"),
    ("workers, threads = 1\n", "threads"),
    ("workers, threads = 1, 2, 3\n", "workers"),
    ("bind = [f'0.0.0.0:{PORT}']\n", "bind"),
    ("bind = f'{1:>5}'\n", "bind"),
    ("bind = f'{\"x\"!r}'\n", "bind"),
    ("import os\nif os.environ.get('DEV'):\n    workers = 1\n", "workers"),
    ("timeout *= 3\n", "timeout"),  # a NameError for gunicorn: its defaults are not variables
    ("workers = 4\ntry:\n    import gevent\n    worker_class = 'gevent'\nexcept ImportError:\n    pass\n",
     "worker_class"),
    ("timeout = 30\nwith open('x') as f:\n    timeout = int(f.read())\n", "timeout"),
    ("timeout = 30\nwhile False:\n    timeout = 1\n", "timeout"),
    ("timeout = 30\nfor _ in range(2):\n    timeout += 1\n", "timeout"),
    ("def timeout():\n    return 30\n", "timeout"),
])
def test_what_needs_running_code_is_unknown(tmp_path, source, name):
    config = read(tmp_path, source)
    assert config.problems == []
    assert config.get(name) is UNKNOWN
    assert config.setting(name).source == "file"


def test_env_default_is_used_and_noted(tmp_path, monkeypatch):
    monkeypatch.setenv("TIMEOUT", "999")  # the environment of the linting machine is not the server's
    config = read(tmp_path, """
        import os
        from os import environ, getenv
        timeout = int(os.environ.get("TIMEOUT", "45"))
        keepalive = getenv("KEEPALIVE", 5)
        workers = environ.get("WORKERS", 3)
        threads = 2
    """)
    assert (config.get("timeout"), config.get("keepalive"), config.get("workers")) == (45, 5, 3)
    assert config.setting("timeout").note == "the default of environment variable TIMEOUT"
    assert "KEEPALIVE" in config.setting("keepalive").note and "WORKERS" in config.setting("workers").note
    assert config.setting("threads").note is None


def test_a_later_plain_assignment_clears_the_env_note(tmp_path):
    config = read(tmp_path, "import os\ntimeout = os.getenv('T', 45)\ntimeout = 60\n")
    assert config.get("timeout") == 60 and config.setting("timeout").note is None
    assert config.setting("timeout").line == 3


def test_a_value_derived_from_an_env_default_keeps_the_note(tmp_path):
    config = read(tmp_path, """
        import os
        timeout = int(os.environ.get("TIMEOUT", "45"))
        graceful_timeout = timeout * 2
        timeout += 5
    """)
    assert config.get("timeout") == 50 and config.get("graceful_timeout") == 90
    assert "TIMEOUT" in (config.setting("graceful_timeout").note or "")
    assert "TIMEOUT" in (config.setting("timeout").note or "")


def test_names_that_are_not_settings_are_not_reported(tmp_path):
    config = read(tmp_path, "PORT = 8000\nhelper = 'x'\nbind = f':{PORT}'\n")
    assert set(config.settings) == {"bind"}


def test_hooks_are_functions_never_called(tmp_path):
    config = read(tmp_path, """
        timeout = 30
        def on_starting(server):
            global timeout
            timeout = 1
        class Hooks:
            timeout = 2
    """)
    assert config.get("timeout") == 30


def test_the_last_assignment_wins_and_names_its_line(tmp_path):
    config = read(tmp_path, "keepalive = 5\n\nkeepalive = 65\n")
    assert (config.get("keepalive"), config.setting("keepalive").line) == (65, 3)


@pytest.mark.parametrize("source", [
    "x = 'a' * 10**9\n",
    "x = (1,) * 10**9\n",
    "x = 10 ** 10 ** 10\n",
    "x = 2\n" + "x = x ** 64\n" * 20,
    "x = '%999999999d' % 1\n",
    "x = 'ab'\n" + "x = x + x\n" * 60,
])
def test_hostile_arithmetic_is_unknown_not_a_hang(tmp_path, source):
    config = read(tmp_path, source + "timeout = 31\n")
    assert config.get("timeout") == 31


# ---------------------------------------------------------------------------------------------
# Things gunicorn does with the values that the reader must also do


@pytest.mark.parametrize(("source", "worker_class"), [
    ("", "sync"),
    ("threads = 1\n", "sync"),
    ("threads = 2\n", "gthread"),
    ("worker_class = 'sync'\nthreads = 8\n", "gthread"),
    ("worker_class = 'gunicorn.workers.sync.SyncWorker'\nthreads = 4\n", "gthread"),
    ("worker_class = 'egg:gunicorn#sync'\n", "sync"),
    ("worker_class = 'gthread'\n", "gthread"),
    ("worker_class = 'gunicorn.workers.gthread.ThreadWorker'\n", "gthread"),
    ("worker_class = 'gevent'\nthreads = 4\n", "gevent"),
    ("worker_class = 'gunicorn.workers.ggevent.GeventWorker'\n", "gevent"),
    ("worker_class = 'gevent_pywsgi'\n", "gevent"),
    ("worker_class = 'eventlet'\n", "eventlet"),
    ("worker_class = 'tornado'\n", "tornado"),
    ("worker_class = 'asgi'\n", "asgi"),
    ("worker_class = 'uvicorn.workers.UvicornWorker'\n", "uvicorn"),
    ("worker_class = 'uvicorn.workers.UvicornH11Worker'\n", "uvicorn"),
    ("worker_class = 'uvicorn_worker.UvicornWorker'\n", "uvicorn"),
    ("worker_class = 'myapp.workers.Custom'\n", "myapp.workers.Custom"),
    ("import os\nworker_class = os.environ['K']\n", UNKNOWN),
    ("import os\nthreads = os.cpu_count()\n", UNKNOWN),  # sync or gthread: cannot tell
])
def test_worker_class_is_normalized_as_gunicorn_picks_it(tmp_path, source, worker_class):
    config = read(tmp_path, source)
    assert config.worker_class == worker_class
    assert config.keeps_alive == (UNKNOWN if worker_class is UNKNOWN else worker_class != "sync")


def test_string_numbers_count_as_gunicorn_converts_them(tmp_path):
    config = read(tmp_path, "import os\nthreads = os.environ.get('THREADS', '4')\ntimeout = '45'\n")
    assert config.get("threads") == 4 and config.get("timeout") == 45
    assert config.worker_class == "gthread"


@pytest.mark.parametrize(("source", "binds", "unix_only"), [
    ("", ["127.0.0.1:8000"], False),
    ("bind = 'unix:/run/app.sock'\n", ["unix:/run/app.sock"], True),
    ("bind = ['unix:/run/a.sock', 'unix:/run/b.sock']\n", ["unix:/run/a.sock", "unix:/run/b.sock"], True),
    ("bind = ('0.0.0.0:80', 'unix:/x')\n", ["0.0.0.0:80", "unix:/x"], False),
    ("bind = []\n", [], False),
    ("import os\nbind = os.environ['BIND']\n", UNKNOWN, UNKNOWN),
    ("bind = ['a:1', 2]\n", UNKNOWN, UNKNOWN),
])
def test_binds_and_unix_sockets(tmp_path, source, binds, unix_only):
    config = read(tmp_path, source)
    assert config.binds == binds
    assert config.binds_unix_socket is unix_only if unix_only is UNKNOWN else config.binds_unix_socket == unix_only


# ---------------------------------------------------------------------------------------------
# Statements that bind a name without an assignment: the value may have changed


@pytest.mark.parametrize("source", [
    "from settings import timeout\n",
    "from settings import *\n",
    "import timeout\n",
    "import os\nmatch os.environ.get('ENV'):\n    case 'prod':\n        timeout = 90\n",
    "for timeout in (10, 20):\n    pass\n",
    "(timeout := 90)\n",
    "import os\nasync def f():\n    pass\nwith open('x') as timeout:\n    pass\n",
])
def test_names_bound_by_other_statements_are_unknown(tmp_path, source):
    config = read(tmp_path, source)
    assert config.get("timeout") is UNKNOWN


# ---------------------------------------------------------------------------------------------
# Files that are not readable gunicorn configs


def test_a_syntax_error_is_a_problem_with_its_line_and_no_crash(tmp_path):
    config = read(tmp_path, "bind = 'x'\ntimeout = 30\ndef broken(:\n    pass\n")
    assert len(config.problems) == 1
    line, message = config.problems[0]
    assert line == 3 and "syntax error" in message
    assert config.settings == {}  # nothing from a file gunicorn would refuse


def test_an_unclosed_bracket_names_where_it_opened(tmp_path):
    config = read(tmp_path, "bind = 'x'\ntimeout = (\n")
    assert [line for line, _ in config.problems] == [2]


def test_unreadable_files_are_one_line_errors(tmp_path):
    os.mkfifo(tmp_path / "fifo.py")
    (tmp_path / "dir.py").mkdir()
    (tmp_path / "latin1.py").write_bytes(b"# caf\xe9\ntimeout = 1\n")
    (tmp_path / "big.py").write_bytes(b"#" * (2 * 1024 * 1024))
    for name, words in (("missing.py", "no such file"), ("dir.py", "directory"), ("fifo.py", "not a regular file"),
                        ("latin1.py", "UTF-8"), ("big.py", "larger than")):
        with pytest.raises(ConfgenError, match=words) as caught:
            read_gunicorn_file(tmp_path / name)
        assert "\n" not in str(caught.value)
        assert str(caught.value).startswith(f"{tmp_path / name}: cannot read: ")


def test_null_bytes_and_deep_nesting_are_problems_not_crashes(tmp_path):
    (tmp_path / "nul.py").write_bytes(b"timeout = 1\x00\n")
    assert read_gunicorn_file(tmp_path / "nul.py").problems
    deep = read(tmp_path, "timeout = " + "(" * 5000 + "1" + ")" * 5000 + "\n")
    # A file Python cannot parse says nothing about any setting, not even that it keeps a default.
    assert deep.problems and deep.unreadable and deep.get("timeout") is UNKNOWN
    assert deep.get("worker_class") is UNKNOWN and deep.get("limit_request_line") is UNKNOWN


# ---------------------------------------------------------------------------------------------
# Command lines


@pytest.mark.parametrize(("cmd", "expected"), [
    ("gunicorn app:app", {}),
    ("gunicorn -w 4 app:app", {"workers": 4}),
    ("gunicorn -w4 -t60 app:app", {"workers": 4, "timeout": 60}),
    ("gunicorn --workers=3 --threads=8 app:app", {"workers": 3, "threads": 8}),
    ("gunicorn --threads 8 app:app", {"threads": 8}),
    ("gunicorn -k gthread --keep-alive 75 --timeout 90 app:app",
     {"worker_class": "gthread", "keepalive": 75, "timeout": 90}),
    ("gunicorn -kgevent app:app", {"worker_class": "gevent"}),
    ("gunicorn --worker-class=uvicorn.workers.UvicornWorker app:app", {"worker_class": "uvicorn.workers.UvicornWorker"}),
    ("gunicorn -b 127.0.0.1:8000 -b unix:/run/app.sock app:app", {"bind": ["127.0.0.1:8000", "unix:/run/app.sock"]}),
    ("gunicorn --bind=unix:/run/app.sock app:app", {"bind": ["unix:/run/app.sock"]}),
    ("gunicorn --max-requests 1000 --max-requests-jitter 50 app:app", {"max_requests": 1000, "max_requests_jitter": 50}),
    ("gunicorn --forwarded-allow-ips='*' app:app", {"forwarded_allow_ips": "*"}),
    ("gunicorn --limit-request-line 8190 --limit-request-field_size 16380 --limit-request-fields 50 app:app",
     {"limit_request_line": 8190, "limit_request_field_size": 16380, "limit_request_fields": 50}),
    ("gunicorn --graceful-timeout 10 --worker-connections 500 --backlog 64 app:app",
     {"graceful_timeout": 10, "worker_connections": 500, "backlog": 64}),
    ("gunicorn --preload app:app", {"preload_app": True}),
    # Options confgen does not know, with and without values, are skipped.
    ("gunicorn --log-level debug --reload --access-logfile - -w 2 app:app",
     {"loglevel": "debug", "reload": True, "accesslog": "-", "workers": 2}),
    ("gunicorn --statsd-prefix=x --no-such-option --other=1 -w 2 app:app", {"statsd_prefix": "x", "workers": 2}),
    ("gunicorn --keep 5 --work=2 app:app", {"keepalive": 5}),  # argparse: unique prefixes only
    ("gunicorn --no-sendfile --preload -D app:app", {"sendfile": False, "preload_app": True, "daemon": True}),
    ("gunicorn --proxy-protocol -w 2 app:app", {"proxy_protocol": "auto", "workers": 2}),
    ("gunicorn --umask 0o22 app:app", {"umask": 18}),
    # The launchers in front of gunicorn.
    ("web: gunicorn -w 2 app:app", {"workers": 2}),
    ("web: exec gunicorn -w 2 app:app", {"workers": 2}),
    ("exec env PYTHONUNBUFFERED=1 gunicorn -w 2 app:app", {"workers": 2}),
    ("DJANGO_SETTINGS_MODULE=site.prod gunicorn -w 2 site.wsgi", {"workers": 2}),
    ("/srv/venv/bin/gunicorn -w 2 app:app", {"workers": 2}),
    ("python -m gunicorn -w 2 app:app", {"workers": 2}),
    ("/usr/bin/python3.11 -m gunicorn -w 2 app:app", {"workers": 2}),
    ("/usr/bin/env gunicorn -w 2 app:app", {"workers": 2}),
    ("poetry run gunicorn -w 2 app:app", {"workers": 2}),
])
def test_command_line_options(cmd, expected):
    config = read_gunicorn_cmd(cmd)
    assert values(config) == expected
    assert all(s.source == "cli" for s in config.settings.values())


def test_command_line_names_the_app_and_normalizes_the_worker():
    config = read_gunicorn_cmd("web: gunicorn --threads 4 -b unix:/run/a.sock myproject.wsgi:application")
    assert config.app == "myproject.wsgi:application"
    assert config.worker_class == "gthread"
    assert config.binds_unix_socket is True
    assert config.get("keepalive") == DEFAULTS["keepalive"] and config.setting("keepalive").source == "default"


def test_repeated_options_the_last_wins_except_bind_which_accumulates():
    config = read_gunicorn_cmd("gunicorn -w 2 -w 5 -b a:1 --bind b:2 -b=c:3 app:app")
    assert config.get("workers") == 5
    assert config.get("bind")[:2] == ["a:1", "b:2"]


def test_config_file_from_c_is_read_relative_to_cwd_and_flags_override_it(tmp_path):
    (tmp_path / "conf").mkdir()
    (tmp_path / "conf" / "gunicorn.conf.py").write_text("timeout = 30\nkeepalive = 5\nbind = 'unix:/a.sock'\n")
    config = read_gunicorn_cmd("gunicorn -c conf/gunicorn.conf.py --timeout 90 -b 0.0.0.0:80 app:app", cwd=str(tmp_path))
    assert config.path == str(tmp_path / "conf" / "gunicorn.conf.py")
    assert (config.get("timeout"), config.setting("timeout").source) == (90, "cli")
    assert (config.get("keepalive"), config.setting("keepalive").source) == (5, "file")
    assert config.binds == ["0.0.0.0:80"]  # gunicorn replaces the file's bind, never merges them
    config = read_gunicorn_cmd("gunicorn --config=file:conf/gunicorn.conf.py app:app", cwd=str(tmp_path))
    assert config.get("keepalive") == 5
    # python:module names a module gunicorn imports: not read, so nothing unset is known.
    config = read_gunicorn_cmd("gunicorn --config=python:conf.settings -t 9 app:app", cwd=str(tmp_path))
    assert (config.get("keepalive"), config.get("timeout")) == (UNKNOWN, 9)


def test_a_given_base_config_is_overridden_by_the_command_line(tmp_path):
    base = read(tmp_path, "timeout = 30\nworkers = 2\n")
    config = read_gunicorn_cmd("gunicorn -w 8 app:app", base=base)
    assert (config.get("workers"), config.get("timeout")) == (8, 30)
    assert base.get("workers") == 2  # the base is not changed
    assert config.path == base.path


def test_a_missing_c_file_is_a_one_line_error(tmp_path):
    with pytest.raises(ConfgenError, match="no such file"):
        read_gunicorn_cmd("gunicorn -c missing.py app:app", cwd=str(tmp_path))


@pytest.mark.parametrize(("cmd", "words"), [
    ("gunicorn -w four app:app", "not a number"),
    ("gunicorn app:app -w", "needs a value"),
    ("gunicorn 'app:app", "cannot split"),
])
def test_bad_command_lines_are_one_line_errors(cmd, words):
    with pytest.raises(ConfgenError, match=words):
        read_gunicorn_cmd(cmd)


def test_shell_variables_in_options_are_env_defaults_or_unknown():
    config = read_gunicorn_cmd("web: gunicorn -w ${WEB_CONCURRENCY:-4} --timeout $TIMEOUT -b 0.0.0.0:$PORT app:app")
    assert config.get("workers") == 4 and "WEB_CONCURRENCY" in config.setting("workers").note
    assert config.get("timeout") is UNKNOWN


# ---------------------------------------------------------------------------------------------
# gunicorn's settings table: names, kinds and command-line options as the installed gunicorn has them


def test_the_settings_table_matches_the_installed_gunicorn():
    from gunicorn.config import KNOWN_SETTINGS

    from confgen.gunicorn.reader import SETTINGS

    kinds = {"validate_pos_int": "int", "validate_bool": "bool", "validate_string": "str", "validate_chdir": "str",
             "validate_list_string": "list", "validate_dict": "dict", "validate_string_to_addr_list": "addrs",
             "validate_class": "class", "_validate_callable": "hook", "validate_post_request": "hook"}
    actions = {None: "-", "store_true": "flag", "store_const": "const", "append": "append"}
    installed = {
        s.name: (kinds.get(s.validator.__name__, "other"), "optional" if s.nargs == "?" else actions[s.action],
                 tuple(s.cli or ()))
        for s in KNOWN_SETTINGS
    }
    assert {name: (spec.kind, spec.action, spec.flags) for name, spec in SETTINGS.items()} == installed


# ---------------------------------------------------------------------------------------------
# Values converted and checked as gunicorn's validators do when it loads the file


@pytest.mark.parametrize(("source", "name", "expected"), [
    ("timeout = '45'\n", "timeout", 45),
    ("timeout = ' 0x10 '\n", "timeout", 16),              # int(value, 0), as validate_pos_int
    ("threads = True\n", "threads", 1),                   # a bool is an int to gunicorn
    ("preload_app = 'True'\n", "preload_app", True),
    ("reload = ' false '\n", "reload", False),
    ("loglevel = '  debug '\n", "loglevel", "debug"),
    ("worker_class = ' gthread '\n", "worker_class", "gthread"),
    ("forwarded_allow_ips = '10.0.0.0/8, *'\n", "forwarded_allow_ips", "10.0.0.0/8, *"),
])
def test_values_are_converted_as_gunicorn_converts_them(tmp_path, source, name, expected):
    config = read(tmp_path, source)
    assert config.problems == []
    assert config.get(name) == expected and type(config.get(name)) is type(expected)


@pytest.mark.parametrize(("source", "name", "words"), [
    ("x = 1\nkeepalive = 0.5 * 10\n", "keepalive", "5.0 is not an integer"),
    ("x = 1\nworkers = -1\n", "workers", "-1 is negative"),
    ("x = 1\ntimeout = '045'\n", "timeout", "'045' is not an integer"),
    ("x = 1\npreload_app = 'yes'\n", "preload_app", "'yes' is not a boolean"),
    ("x = 1\nbind = ['0.0.0.0:80', 8000]\n", "bind", "not a list of strings"),
    ("x = 1\nforwarded_allow_ips = ['10.0.0.1']\n", "forwarded_allow_ips", "not a comma-separated string"),
    ("x = 1\nforwarded_allow_ips = '10.0.0.1/8'\n", "forwarded_allow_ips", "'10.0.0.1/8' is not an IP"),
    ("x = 1\nsecure_scheme_headers = ['X-Proto']\n", "secure_scheme_headers", "is not a dict"),
    ("x = 1\nloglevel = 10\n", "loglevel", "10 is not a string"),
])
def test_values_gunicorn_refuses_are_problems_on_their_line(tmp_path, source, name, words):
    config = read(tmp_path, source)
    assert len(config.problems) == 1
    line, message = config.problems[0]
    assert line == 2 and message.startswith(f"{name}: ") and words in message and "refuses to start" in message
    assert config.get(name) is UNKNOWN


def test_refused_values_are_refused_by_the_installed_gunicorn_too():
    from gunicorn.config import Config

    settings = Config().settings
    for name, value in (("keepalive", 5.0), ("workers", -1), ("timeout", "045"), ("preload_app", "yes"),
                        ("bind", ["0.0.0.0:80", 8000]), ("forwarded_allow_ips", "10.0.0.1/8"),
                        ("secure_scheme_headers", ["X-Proto"]), ("loglevel", 10)):
        with pytest.raises((TypeError, ValueError)):
            settings[name].set(value)


# ---------------------------------------------------------------------------------------------
# Branches: a value is known after if/try/with only when every way through agrees


@pytest.mark.parametrize(("source", "expected"), [
    ("if cond():\n    workers = 4\nelse:\n    workers = 4\n", 4),
    ("workers = 4\nif cond():\n    workers = 4\n", 4),
    ("if cond():\n    workers = 4\nelif other():\n    workers = 4\nelse:\n    workers = 4\n", 4),
    ("if cond():\n    workers = 4\nelse:\n    workers = 2\n", UNKNOWN),
    ("if cond():\n    workers = 4\n", UNKNOWN),                      # else gunicorn's default
    ("if cond():\n    workers = 4\nelse:\n    workers = 4.0\n", UNKNOWN),  # equal, not the same
    ("DEBUG = False\nworkers = 4\nif DEBUG:\n    workers = 1\n", 4),
    ("DEBUG = True\nworkers = 4\nif DEBUG:\n    workers = 1\n", 1),
    ("ENV = 'prod'\nif ENV == 'dev':\n    workers = 1\nelif ENV in ('prod', 'staging'):\n    workers = 8\n", 8),
    ("workers = 4\nif True:\n    workers = 1\n", 1),
    # A condition on an env default decides nothing: the server's environment may differ.
    ("import os\nworkers = 4\nif os.environ.get('DEV', ''):\n    workers = 1\n", UNKNOWN),
    ("try:\n    import gevent\n    workers = 4\nexcept ImportError:\n    workers = 4\n", 4),
    ("try:\n    import gevent\n    workers = 4\nexcept ImportError:\n    workers = 2\n", UNKNOWN),
    ("try:\n    workers = int(open('w').read())\nexcept OSError:\n    workers = 2\n", UNKNOWN),
    ("try:\n    import x\nexcept ImportError:\n    pass\nelse:\n    workers = 9\n", UNKNOWN),
    ("try:\n    import x\nexcept ImportError:\n    pass\nfinally:\n    workers = 9\n", 9),
    ("from contextlib import suppress\nworkers = 2\nwith suppress(Exception):\n    workers = 3\n", UNKNOWN),
    ("workers = 2\nwith open('x'):\n    pass\n", 2),
    ("workers = 4 if False else 2\n", 2),
    ("workers = 4 if cond() else 4\n", 4),
    ("workers = 4 if cond() else 2\n", UNKNOWN),
    ("workers = 0 or 3\n", 3),
    ("workers = cond() or 3\n", UNKNOWN),
    ("workers = not 0\n", 1),  # True, which gunicorn takes as 1
])
def test_branches_agree_or_are_unknown(tmp_path, source, expected):
    config = read(tmp_path, source)
    assert config.problems == []
    value = config.get("workers")
    assert value is UNKNOWN if expected is UNKNOWN else (value == expected and type(value) is type(expected))


def test_a_value_set_on_one_path_only_points_at_that_line(tmp_path):
    config = read(tmp_path, "import os\nif os.environ.get('DEBUG'):\n    loglevel = 'debug'\n")
    setting = config.setting("loglevel")
    assert (setting.value, setting.line, setting.source) == (UNKNOWN, 3, "file")


# ---------------------------------------------------------------------------------------------
# Imports, functions and code that can rebind anything


@pytest.mark.parametrize(("source", "worker_class"), [
    ("from uvicorn_worker import UvicornWorker\nworker_class = UvicornWorker\n", "uvicorn"),
    ("import uvicorn_worker\nworker_class = uvicorn_worker.UvicornH11Worker\n", "uvicorn"),
    ("from uvicorn.workers import UvicornWorker as W\nworker_class = W\n", "uvicorn"),
    ("from gunicorn.workers import gthread\nworker_class = gthread.ThreadWorker\n", "gthread"),
    ("from myapp.workers import Custom\nworker_class = Custom\n", "myapp.workers.Custom"),
])
def test_an_imported_worker_class_is_the_class_gunicorn_loads(tmp_path, source, worker_class):
    config = read(tmp_path, source)
    assert config.worker_class == worker_class


@pytest.mark.parametrize(("source", "value", "note"), [
    ("import multiprocessing as mp\nworkers = mp.cpu_count() * 2 + 1\n", UNKNOWN, "depends on the CPU count"),
    ("import os\nworkers = len(os.sched_getaffinity(0))\n", UNKNOWN, "depends on the CPU count"),
    ("import os as o\nworkers = int(o.environ.get('W', '3'))\n", 3, "the default of environment variable W"),
    ("from os import environ as e\nworkers = e.get('W', default=5)\n", 5, "the default of environment variable W"),
    ("import os\nworkers = os.environ.setdefault('W', '6')\n", "6", None),  # '6' is converted below
    ("import os\nworkers = os.environ['W']\n", UNKNOWN, "from environment variable W, no default"),
    ("import os\nworkers = os.getenv('W')\n", UNKNOWN, "from environment variable W, no default"),
    ("import os\nworkers = int(os.getenv('W', os.cpu_count() * 2))\n", UNKNOWN,
     "the default of environment variable W; depends on the CPU count"),
])
def test_machine_and_environment_lookups_are_noted(tmp_path, source, value, note):
    config = read(tmp_path, source)
    setting = config.setting("workers")
    if value == "6":
        assert setting.value == 6 and "W" in setting.note
    else:
        assert setting.value == value and setting.note == note


def test_int_of_a_name_rebound_by_the_file_is_not_the_builtin(tmp_path):
    config = read(tmp_path, "def int(x):\n    return 1\nworkers = int('5')\n")
    assert config.get("workers") is UNKNOWN


@pytest.mark.parametrize(("source", "why"), [
    ("from local_settings import *\n", "import *"),
    ("exec(open('local.py').read())\n", "exec"),
    ("globals()['timeout'] = 5\n", "globals"),
    ("globals().update(timeout=5)\n", "globals"),
    ("import sys\nsetattr(sys.modules[__name__], 'timeout', 5)\n", "setattr"),
    ("vars().update({'timeout': 5})\n", "vars"),
])
def test_code_that_can_rebind_anything_makes_unset_settings_unknown(tmp_path, source, why):
    config = read(tmp_path, "keepalive = 5\nworkers = 2\n" + source + "workers = 3\n")
    assert config.get("workers") == 3                                   # set after it: known
    assert config.get("keepalive") is UNKNOWN                           # set before it
    assert config.get("timeout") is UNKNOWN and config.setting("timeout").source == "default"
    assert why in config.setting("timeout").note and why in config.setting("keepalive").note
    assert config.get("no_such_setting") is None


def test_a_function_that_sets_globals_makes_them_unknown_once_something_is_called(tmp_path):
    source = "timeout = 30\nkeepalive = 5\ndef configure():\n    global timeout\n    timeout = 90\n"
    assert read(tmp_path, source).get("timeout") == 30  # defined, never called
    for call in ("configure()\n", "print('x')\n", "setup = [configure()]\n", "@configure\ndef hook():\n    pass\n",
                 "class X:\n    configure()\n"):
        config = read(tmp_path, source + call)
        assert config.get("timeout") is UNKNOWN, call
        assert config.get("keepalive") == 5, call  # no function declares it global
    assert read(tmp_path, source + "x = int('5') + len('ab')\n").get("timeout") == 30  # known calls


def test_global_in_a_class_body_assigns_at_once(tmp_path):
    config = read(tmp_path, "timeout = 30\nclass C:\n    global timeout\n    timeout = 90\n")
    assert config.get("timeout") is UNKNOWN


def test_del_returns_a_setting_to_gunicorns_default(tmp_path):
    config = read(tmp_path, "timeout = 90\ndel timeout\n")
    assert config.setting("timeout").source == "default" and config.get("timeout") == 30


@pytest.mark.parametrize(("source", "expected"), [
    ("bind = '{}:{}'.format('0.0.0.0', 8000)\n", "0.0.0.0:8000"),
    ("bind = '{host}:{port}'.format(host='h', port=1)\n", "h:1"),
    ("bind = '{0.__class__}'.format(1)\n", UNKNOWN),
    ("bind = '{:>9999999}'.format(1)\n", UNKNOWN),
    ("bind = ','.join(['a:1', 'b:2'])\n", "a:1,b:2"),
    ("bind = ' a:1 '.strip()\n", "a:1"),
    ("bind = 'a:1 b:2'.split()\n", ["a:1", "b:2"]),
    ("PORTS = [8000, 8001]\nbind = f'0.0.0.0:{PORTS[1]}'\n", "0.0.0.0:8001"),
    ("C = {'bind': 'x:1'}\nbind = C['bind']\n", "x:1"),
    ("C = {'bind': 'x:1'}\nbind = C['nope']\n", UNKNOWN),
    ("bind = [*['a:1']]\n", UNKNOWN),
])
def test_string_building(tmp_path, source, expected):
    assert read(tmp_path, source).get("bind") == expected


# ---------------------------------------------------------------------------------------------
# Command lines as they appear in the wild


@pytest.mark.parametrize(("cmd", "expected"), [
    ("ExecStart=/srv/app/venv/bin/gunicorn --workers 3 --bind unix:/run/app.sock app.wsgi:application",
     {"workers": 3, "bind": ["unix:/run/app.sock"]}),
    ("/srv/app/venv/bin/gunicorn \\\n    --workers 3 \\\n    --timeout 120 \\\n    app.wsgi:application",
     {"workers": 3, "timeout": 120}),
    ("cd /srv/app && exec gunicorn -w 2 app:app", {"workers": 2}),
    ("pip install gunicorn && gunicorn -w 2 app:app; echo stopped", {"workers": 2}),
    ("sh -c 'gunicorn -w 3 app:app'", {"workers": 3}),
    ("python3 -u -m gunicorn -w 2 app:app", {"workers": 2}),
    ("uv run gunicorn -w 2 app:app", {"workers": 2}),
    ("web: gunicorn -w ${WEB_CONCURRENCY:-4} -b 0.0.0.0:${PORT:-5000} app:app",
     {"workers": 4, "bind": ["0.0.0.0:5000"]}),
    ("PORT=9000 gunicorn -b 0.0.0.0:$PORT app:app", {"bind": ["0.0.0.0:9000"]}),
    ("export PORT=9001 && gunicorn -b \"0.0.0.0:${PORT}\" app:app", {"bind": ["0.0.0.0:9001"]}),
    ("gunicorn -b 0.0.0.0:$PORT app:app", {"bind": UNKNOWN}),
    ("gunicorn --timeout $TIMEOUT app:app", {"timeout": UNKNOWN}),
])
def test_command_lines_in_the_wild(cmd, expected):
    assert values(read_gunicorn_cmd(cmd)) == expected


def test_shell_defaults_are_noted():
    config = read_gunicorn_cmd("gunicorn -w ${WEB_CONCURRENCY:-4} app:app")
    assert "WEB_CONCURRENCY" in config.setting("workers").note


def test_gunicorn_cmd_args_sit_between_the_file_and_the_options(tmp_path):
    (tmp_path / "gunicorn.conf.py").write_text("timeout = 30\nkeepalive = 5\nworkers = 2\n")
    config = read_gunicorn_cmd("GUNICORN_CMD_ARGS='--timeout 60 --keep-alive 7' gunicorn --keep-alive 9 app:app",
                               cwd=str(tmp_path))
    assert (config.get("workers"), config.get("timeout"), config.get("keepalive")) == (2, 60, 9)
    assert "GUNICORN_CMD_ARGS" in config.setting("timeout").note


def test_the_default_config_file_in_cwd_is_read_only_when_cwd_is_given(tmp_path):
    (tmp_path / "gunicorn.conf.py").write_text("timeout = 77\n")
    assert read_gunicorn_cmd("gunicorn app:app", cwd=str(tmp_path)).get("timeout") == 77
    assert read_gunicorn_cmd("gunicorn app:app").setting("timeout").source == "default"


def test_variables_set_on_the_command_line_reach_the_files_lookups(tmp_path):
    (tmp_path / "g.py").write_text("import os\ntimeout = int(os.environ.get('TIMEOUT', '30'))\n"
                                   "keepalive = int(os.environ.get('KEEPALIVE', '5'))\n")
    config = read_gunicorn_cmd("TIMEOUT=90 gunicorn -c g.py app:app", cwd=str(tmp_path))
    assert (config.get("timeout"), config.get("keepalive")) == (90, 5)
    assert "TIMEOUT=90" in config.setting("timeout").note
    # A base read without them: the lookup's default is not what gunicorn would see.
    base = read_gunicorn_file(tmp_path / "g.py")
    config = read_gunicorn_cmd("TIMEOUT=90 gunicorn app:app", base=base)
    assert (config.get("timeout"), config.get("keepalive")) == (UNKNOWN, 5)


def test_a_config_file_named_through_a_variable_leaves_everything_unset_unknown():
    config = read_gunicorn_cmd("gunicorn -c $CONF -w 2 app:app")
    assert (config.get("workers"), config.get("timeout")) == (2, UNKNOWN)
