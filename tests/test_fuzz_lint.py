"""Lint fuzzing: mutated real configs and hostile bytes through `confgen lint` and `confgen.lint`.

Every run must end with exit 0/1 and findings, or exit 2 and a one-line message: never a
traceback, never a hang (each case is bounded in time). The seed is fixed, so a failure
reproduces; ``--fuzz-long`` runs many more cases.
"""

from __future__ import annotations

import json
import random
import time

import pytest

import confgen
from confgen.errors import ConfgenError
from fuzz_support import CASE_SECONDS, assert_clean_exit, corpus, hostile_bytes, mutate, run_cli, time_limit

SEED = 20240508
SUITE_CASES = 2500
LONG_CASES = 60_000
NGINX_VERSIONS = ["1.18.0", "1.22.1", "1.25.1", "1.29.7"]
# Every this many cases, the Python API is called too (it must raise nothing but ConfgenError).
API_EVERY = 10


@pytest.fixture(scope="module")
def trees(tmp_path_factory):
    """Each corpus tree written once; cases mutate one file and restore it afterwards."""
    written = []
    for index, tree in enumerate(corpus()):
        directory = tmp_path_factory.mktemp(f"tree{index}")
        tree.write(directory)
        written.append((tree, directory))
    return written


def _cases(request, suite: int) -> int:
    return LONG_CASES if request.config.getoption("--fuzz-long") else suite


def _api_outcome(path: str, what: str, **options) -> str:
    with time_limit(CASE_SECONDS, what):
        try:
            findings = confgen.lint_files([path], **options)
        except ConfgenError as error:
            assert error.lines and all(line and "\n" not in line for line in error.lines), what
            return "error"
    assert all(f.severity in ("error", "warning", "info") and f.line >= 0 for f in findings), what
    return "findings"


def _fuzz(trees, cases: int, seed: int, pick_file) -> dict:
    rng = random.Random(seed)
    exits: dict[int, int] = {}
    rules: set[str] = set()
    started = time.monotonic()
    for number in range(cases):
        tree, directory = rng.choice(trees)
        name = pick_file(tree, rng)
        if name is None:
            continue
        original = tree.files[name]
        mutated, edits = mutate(original, rng)
        what = f"case {number} (seed {seed}): {tree.label}: {name}: {edits}"
        (directory / name).write_text(mutated, "utf-8", errors="surrogatepass")
        try:
            version = rng.choice(NGINX_VERSIONS)
            outcome = run_cli(["lint", str(directory / tree.main), "--nginx-version", version, "--format", "json"],
                              what=what)
            assert_clean_exit(outcome, what)
            exits[outcome.result.exit_code] = exits.get(outcome.result.exit_code, 0) + 1
            if outcome.result.exit_code != 2:
                rules.update(finding["rule"] for finding in json.loads(outcome.result.stdout))
            if number % API_EVERY == 0:
                _api_outcome(str(directory / tree.main), what, nginx_version=version)
        finally:
            (directory / name).write_text(original, "utf-8")
    return {"exits": exits, "rules": rules, "seconds": time.monotonic() - started}


def _nginx_file(tree, rng):
    return rng.choice([name for name in tree.files if not name.endswith((".py", "mime.types"))])


def _gunicorn_file(tree, rng):
    return "gunicorn.conf.py" if "gunicorn.conf.py" in tree.files else None


def test_mutated_nginx_configs_give_findings_or_one_line_errors(trees, request):
    report = _fuzz(trees, _cases(request, SUITE_CASES), SEED, _nginx_file)
    print(f"\nnginx mutations: {report['exits']} in {report['seconds']:.1f}s; rules reached: {len(report['rules'])}")
    # Mutations that keep the syntax must reach the rules, or the fuzzing tests only the parser.
    assert {"syntax-error", "include-not-found", "keepalive-needs-http11", "app-keepalive-race"} <= report["rules"]
    assert set(report["exits"]) <= {0, 1, 2} and report["exits"].get(0) and report["exits"].get(1)


def test_mutated_gunicorn_configs_give_findings_or_one_line_errors(trees, request):
    paired = [(tree, directory) for tree, directory in trees if "gunicorn.conf.py" in tree.files]
    report = _fuzz(paired, _cases(request, SUITE_CASES // 5), SEED + 1, _gunicorn_file)
    print(f"\ngunicorn mutations: {report['exits']} in {report['seconds']:.1f}s")
    assert "gunicorn-config-error" in report["rules"]


@pytest.mark.parametrize("number", range(40))
def test_hostile_bytes_give_findings_or_one_line_errors(tmp_path, number):
    data, kind = hostile_bytes(random.Random(SEED + number))
    path = tmp_path / "nginx.conf"
    path.write_bytes(data)
    what = f"hostile bytes #{number} ({kind}, {len(data)} bytes)"
    assert_clean_exit(run_cli(["lint", str(path), "--nginx-version", "1.22.1"], what=what), what)
    _api_outcome(str(path), what, nginx_version="1.22.1")


@pytest.mark.parametrize("kind", ["deep-braces", "deep-under-a-pass", "deep-unclosed", "many-closing", "huge-line"])
def test_the_largest_hostile_inputs(tmp_path, kind):
    """100k nested blocks, 30k nested under a proxying location (each one a finding's candidate: a
    rule that walks up from every block is quadratic there), 100k unclosed blocks, 100k stray
    braces, a 2 MB line."""
    data = {
        "deep-braces": b"location / {" * 100_000 + b"}" * 100_000 + b"\n",
        "deep-under-a-pass": b"location / { proxy_pass http://127.0.0.1:8000; " + b"location / {" * 30_000
                             + b"}" * 30_001 + b"\n",
        "deep-unclosed": b"http {" * 100_000,
        "many-closing": b"}" * 100_000,
        "huge-line": b"http { server_name " + b"a" * 2_000_000 + b"; }\n",
    }[kind]
    path = tmp_path / "nginx.conf"
    path.write_bytes(data)
    # A hang guard, not a speed goal (bench/ measures speed): generous for a loaded machine.
    outcome = run_cli(["lint", str(path), "--nginx-version", "1.22.1"], what=kind, seconds=40)
    assert_clean_exit(outcome, kind)
    assert outcome.result.exit_code in (0, 1)


@pytest.mark.parametrize("text", [
    "", "\n", "#", "# only a comment without a newline", ";", "{", "}", '"', "'", "\\", "${", "\x00",
    "http { server { listen 80; } }", "include;", "include a b;", "include '';", "include /;",
    "content_by_lua_block {", "if ( {", "location", "\ufeff", "\r\n\r\n",
])
def test_small_texts_on_stdin(text):
    result = run_cli(["lint", "-", "--nginx-version", "1.22.1"], what=repr(text))
    assert_clean_exit(result, repr(text))


def test_non_utf8_and_nul_bytes_name_the_line(tmp_path):
    path = tmp_path / "nginx.conf"
    path.write_bytes(b"events {}\nhttp {\n  server_name caf\xe9;\n  listen 80\x00 ;\n  }\n}\n")
    outcome = run_cli(["lint", str(path), "--nginx-version", "1.22.1", "--format", "json"])
    assert_clean_exit(outcome, "non-UTF-8")
    findings = json.loads(outcome.result.stdout)
    assert [(f["rule"], f["line"]) for f in findings if f["rule"] == "syntax-error"] == [("syntax-error", 6)]


def test_a_file_over_the_size_limit_is_one_line_not_read(tmp_path):
    from confgen.nginx import parse as nginx_parse

    path = tmp_path / "nginx.conf"
    with open(path, "wb") as handle:  # sparse: no 64 MiB written to the test machine's disk
        handle.truncate(nginx_parse.MAX_FILE_BYTES + 1)
    outcome = run_cli(["lint", str(path)], seconds=5)
    assert_clean_exit(outcome, "oversized file")
    assert outcome.result.exit_code == 2 and "MiB" in outcome.result.stderr
