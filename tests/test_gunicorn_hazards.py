"""gunicorn.conf.py hazards: files that would run code, recurse, import what is not there, are
not Python, are huge or deeply nested, or ask the evaluator for gigabytes. They are read with
``ast`` and never executed: every side effect such a file would have is checked not to happen,
in this process and in a separate one (where ``atexit`` and ``__del__`` would run at exit)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

import pytest

from confgen.gunicorn.reader import UNKNOWN, read_gunicorn_file
from fuzz_support import REPO, assert_clean_exit, run_cli

NGINX = "events {}\nhttp {\n  server {\n    listen 80;\n    location / { proxy_pass http://127.0.0.1:8000; }\n  }\n}\n"

# Each writes the marker file {marker} if it ever runs; a few would end or hang the process.
CODE_THAT_MUST_NOT_RUN = {
    "os-system": "import os\nos.system('touch {marker}')\nworkers = 2\n",
    "open-write": "open('{marker}', 'w').write('ran')\nworkers = 2\n",
    "subprocess": "import subprocess\nsubprocess.run(['touch', '{marker}'])\nworkers = 2\n",
    "dunder-import": "__import__('os').system('touch {marker}')\nworkers = 2\n",
    "exec": "exec(\"open('{marker}', 'w').close()\")\nworkers = 2\n",
    "eval-in-a-value": "workers = eval(\"open('{marker}', 'w').close() or 2\")\n",
    "setting-from-a-call": "workers = __import__('pathlib').Path('{marker}').write_text('ran')\n",
    "del-at-exit": ("class Bomb:\n    def __del__(self):\n        open('{marker}', 'w').close()\n"
                    "keep = Bomb()\nworkers = 2\n"),
    "atexit": "import atexit\natexit.register(lambda: open('{marker}', 'w').close())\nworkers = 2\n",
    "hook-bodies": "def on_starting(server):\n    open('{marker}', 'w').close()\nworkers = 2\n",
    "default-argument": "def when_ready(server, _=open('{marker}', 'w')):\n    pass\nworkers = 2\n",
    "decorator": "def mark(f):\n    open('{marker}', 'w').close()\n    return f\n@mark\ndef post_fork(s, w):\n    pass\n",
    "class-body": "class Settings:\n    open('{marker}', 'w').close()\nworkers = 2\n",
    "lambda-in-a-setting": "workers = (lambda: open('{marker}', 'w').close() or 2)()\n",
    "walrus": "workers = (m := open('{marker}', 'w')) and 2\n",
    "comprehension": "workers = [open('{marker}', 'w') for _ in range(1)] and 2\n",
    "format-spec": "workers = f\"{{open('{marker}', 'w')!r:>2}}\"\n",
    "getattr-builtins": "getattr(__builtins__, 'open')('{marker}', 'w')\nworkers = 2\n",
    "infinite-loop": "while True:\n    pass\nworkers = 2\n",
    "recursion": "def again():\n    return again()\nworkers = again()\n",
    "exit": "import sys\nsys.exit(3)\nworkers = 2\n",
    "kill-self": "import os, signal\nos.kill(os.getpid(), signal.SIGKILL)\nworkers = 2\n",
    "missing-module": "import confgen_no_such_module_xyz\nfrom confgen_no_such_pkg import x\nworkers = 2\n",
    "antigravity": "import antigravity\nworkers = 2\n",
}
WORKERS_FROM_CODE = {"eval-in-a-value", "setting-from-a-call", "lambda-in-a-setting", "walrus", "comprehension",
                     "format-spec", "recursion"}


def write(tmp_path: Path, source: str) -> tuple[Path, Path]:
    marker = tmp_path / "MARKER"
    path = tmp_path / "gunicorn.conf.py"
    path.write_text(source.format(marker=marker))
    (tmp_path / "nginx.conf").write_text(NGINX)
    return path, marker


@pytest.mark.parametrize("name", sorted(CODE_THAT_MUST_NOT_RUN))
def test_code_in_the_file_is_never_run(tmp_path, name):
    path, marker = write(tmp_path, CODE_THAT_MUST_NOT_RUN[name])
    modules = set(sys.modules)
    outcome = run_cli(["lint", str(tmp_path / "nginx.conf"), "--gunicorn", str(path), "--nginx-version", "1.22.1"],
                      seconds=5, what=name)
    assert_clean_exit(outcome, name)
    assert outcome.result.exit_code in (0, 1)
    assert not marker.exists()
    imported = set(sys.modules) - modules
    assert not {m for m in imported if m.startswith(("confgen_no_such", "antigravity", "webbrowser"))}
    # What the file computes by calling something is not known, never a guess.
    if name in WORKERS_FROM_CODE:
        assert read_gunicorn_file(path).get("workers") is UNKNOWN


@pytest.mark.parametrize("name", [n for n in CODE_THAT_MUST_NOT_RUN if n != "antigravity"])  # would open a browser
def test_code_in_the_file_is_never_run_even_at_process_exit(tmp_path, name):
    """A separate `confgen lint` process per file: __del__ and atexit would run as it exits,
    sys.exit or SIGKILL would end it early. (antigravity is covered in-process.)"""
    source = CODE_THAT_MUST_NOT_RUN[name]
    directory = tmp_path / name
    directory.mkdir()
    path, marker = write(directory, source)
    result = subprocess.run([sys.executable, "-m", "confgen", "lint", str(directory / "nginx.conf"),
                             "--gunicorn", str(path), "--nginx-version", "1.22.1", "-q"],
                            capture_output=True, text=True, timeout=30, cwd=REPO,
                            env={**os.environ, "PYTHONPATH": str(REPO)})
    assert result.returncode in (0, 1), (name, result.stderr)
    assert result.stderr == "", (name, result.stderr)
    assert not marker.exists(), name


@pytest.mark.parametrize("source, line", [
    ("workers = 4\nthreads = = 2\n", 2),
    ("workers = 4\n\n\ndef broken(:\n    pass\n", 4),
    ("workers = (\n", 1),
    ("workers = 4\n\tthreads = 2\n", 2),
    ("workers = 4\nprint 'python 2'\n", 2),
    ("x = 1\n" * 50 + "workers = " + "(" * 10_000 + "1" + ")" * 10_000 + "\n", 51),
    ("x = 1\nworkers = " + "[" * 10_000 + "]" * 10_000 + "\n", 2),
], ids=["double-equals", "def-colon", "unclosed", "indent", "print-statement", "parens-10k", "brackets-10k"])
def test_a_syntax_error_is_a_finding_with_its_line(tmp_path, source, line):
    path = tmp_path / "gunicorn.conf.py"
    path.write_text(source)
    (tmp_path / "nginx.conf").write_text(NGINX)
    outcome = run_cli(["lint", str(tmp_path / "nginx.conf"), "--gunicorn", str(path), "--nginx-version", "1.22.1",
                       "--format", "json"], seconds=5)
    assert_clean_exit(outcome, source[:80])
    errors = [f for f in json.loads(outcome.result.stdout) if f["rule"] == "gunicorn-config-error"]
    assert outcome.result.exit_code == 1
    assert [(Path(f["file"]).name, f["line"]) for f in errors] == [("gunicorn.conf.py", line)]


@pytest.mark.parametrize("source", [
    "workers = " + "+".join(["1"] * 200_000) + "\n",       # an expression 200k deep for ast
    "workers = " + "-" * 300_000 + "1\n",                  # unary operators nested 300k deep
    "workers = " + "not " * 100_000 + "1\n",
    "x = 1\n" * 150_000,                                   # 900 KB of statements
], ids=["plus-chain", "unary-chain", "not-chain", "many-statements"])
def test_deep_or_long_files_are_read_in_bounded_time(tmp_path, source):
    path = tmp_path / "gunicorn.conf.py"
    path.write_text(source)
    started = time.monotonic()
    config = read_gunicorn_file(path)
    assert time.monotonic() - started < 40     # a hang guard, not a speed goal: ~3 s on an idle machine
    assert config.get("workers") in (UNKNOWN, 1) and all(isinstance(m, str) for _, m in config.problems)


@pytest.mark.parametrize("source", [
    "workers = (1,) * 10000 * 10000\n",
    "workers = [0] * 10 ** 9\n",
    "workers = ('a' * 10000) * 10000 * 100\n",
    "x = 10 ** 64\nx = x ** 64\nx = x ** 64\nworkers = x ** 64\n",
    "x = 7\n" + "x = x * x\n" * 40 + "workers = x\n",
    "x = 'a' * 10000\n" + "x = x + x\n" * 40 + "workers = x\n",
    "workers = '%999999999d' % 1\nbind = '%*d' % (999999999, 1)\n",
    "a = [0] * 100000\nb = [a] * 100000\nworkers = str(b)\nbind = f'{b}'\n",
    "a = 'x' * 100000\n" + "".join(f"v{n} = a + 'y'\n" for n in range(2000)) + "workers = 1\n",
], ids=["tuple-repeat", "list-repeat", "str-repeat", "power-chain", "squaring", "doubling", "format-width",
        "nested-repr", "many-large-values"])
def test_arithmetic_bombs_are_unknown_within_time_and_memory(tmp_path, source):
    path = tmp_path / "gunicorn.conf.py"
    path.write_text(source)
    tracemalloc.start()
    started = time.monotonic()
    try:
        config = read_gunicorn_file(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert time.monotonic() - started < 5
    assert peak < 64 * 2**20, f"peak {peak / 2**20:.0f} MiB"
    assert config.get("workers") in (UNKNOWN, 1)


@pytest.mark.parametrize("source", [
    "workers = 'a'\nworkers /= 'b'\n",      # found by the gunicorn fuzzing: a TypeError escaped
    "workers = 2\nworkers |= 1\n",          # an operator the evaluator does not know
    "workers = 2\nworkers <<= 99999999\n",
    "workers = 2\nworkers //= 0\n",
    "workers = 2\nworkers **= 99999999\n",
    "workers = [1]\nworkers *= 10 ** 12\n",
], ids=["div-str", "or", "shift", "zero-division", "power", "list-repeat"])
def test_augmented_assignments_never_raise(tmp_path, source):
    path = tmp_path / "gunicorn.conf.py"
    path.write_text(source)
    assert read_gunicorn_file(path).get("workers") is UNKNOWN


def test_ordinary_arithmetic_is_still_evaluated(tmp_path):
    path = tmp_path / "gunicorn.conf.py"
    path.write_text("import os\nworkers = 2 * 4 + 1\nbind = '0.0.0.0:%s' % 8000\nkeepalive = 2 ** 3\n"
                    "threads = min(4, 8)\ntimeout = int(os.environ.get('TIMEOUT', '60'))\n"
                    "forwarded_allow_ips = ','.join(['a'])\nraw_env = [f'X={workers}'] * 2\n")
    config = read_gunicorn_file(path)
    assert (config.get("workers"), config.get("bind"), config.get("keepalive"), config.get("threads"),
            config.get("timeout")) == (9, "0.0.0.0:8000", 8, 4, 60)
    assert config.get("raw_env") == ["X=9", "X=9"]
    path.write_text("workers = 2\nworkers *= 3\nworkers += 1\n")
    assert read_gunicorn_file(path).get("workers") == 7


@pytest.mark.parametrize("content, message", [
    (b"workers = 2\n" + b"#" * (2 * 2**20) + b"\n", "MiB; not read"),
    (b"workers = 2  # caf\xe9\n", "not UTF-8"),
])
def test_huge_or_undecodable_files_are_one_line_errors(tmp_path, content, message):
    path = tmp_path / "gunicorn.conf.py"
    path.write_bytes(content)
    (tmp_path / "nginx.conf").write_text(NGINX)
    outcome = run_cli(["lint", str(tmp_path / "nginx.conf"), "--gunicorn", str(path)], seconds=5)
    assert_clean_exit(outcome, message)
    assert outcome.result.exit_code == 2 and message in outcome.result.stderr


def test_compiler_warnings_do_not_reach_stderr(tmp_path):
    """ast.parse warns about odd literals ("\\d", 8include); a lint run prints findings only."""
    path = tmp_path / "gunicorn.conf.py"
    path.write_text("workers = 2\nbind = '\\d'\nthreads = 8include\n")
    (tmp_path / "nginx.conf").write_text(NGINX)
    outcome = run_cli(["lint", str(tmp_path / "nginx.conf"), "--gunicorn", str(path)], seconds=5)
    assert_clean_exit(outcome, "warnings")  # asserts an empty stderr for exit 0/1
    assert outcome.result.exit_code == 1 and "gunicorn-config-error" in outcome.result.stdout
