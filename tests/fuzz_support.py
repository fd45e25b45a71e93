"""Helpers for the robustness tests: a corpus of real configs, mutators, and the checks every
run of ``confgen lint`` must pass (a clean exit code, findings or one-line errors, no traceback,
within a time limit)."""

from __future__ import annotations

import collections

import contextlib
import random
import re
import signal
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from click.testing import CliRunner, Result

from confgen.cli import main

REPO = Path(__file__).resolve().parent.parent
FIXTURES = REPO / "tests" / "fixtures"
PROFILES = sorted((REPO / "profiles").glob("*.yaml"))

# Long enough for a slow shared CI machine, short enough that a hang fails the case, not the run.
CASE_SECONDS = 10

# Words, whitespace runs and the characters nginx's lexer treats specially, each a token of its
# own, so a mutation can remove exactly one brace, quote or semicolon.
_TOKEN_RE = re.compile(r"\s+|[{};\"'#\\$()]|[^\s{};\"'#\\$()]+")
_SPECIALS = ["{", "}", ";", '"', "'", "#", "\\", "$", "(", ")", "\n", "${", "include ", "\x00", "\ufffd"]


class CaseTimeout(AssertionError):
    """A case ran past its time limit: confgen hangs or is unbounded on that input."""


@contextlib.contextmanager
def time_limit(seconds: float, what: str):
    """Fail with CaseTimeout when the block runs longer than ``seconds`` (SIGALRM, main thread);
    elsewhere only measure, and fail after the fact."""
    started = time.monotonic()
    armed = threading.current_thread() is threading.main_thread() and hasattr(signal, "setitimer")

    def expire(signum, frame):
        raise CaseTimeout(f"{what}: still running after {seconds}s")

    if armed:
        previous = signal.signal(signal.SIGALRM, expire)
        signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        if armed:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)
    elapsed = time.monotonic() - started
    if elapsed > seconds:
        raise CaseTimeout(f"{what}: took {elapsed:.1f}s (limit {seconds}s)")


# ---------------------------------------------------------------------------------------------
# The corpus


@dataclass
class Tree:
    """A config as it lives on disk: files by relative path, and the one ``confgen lint`` is given.
    Mutating any file of the tree reaches includes and, through a gunicorn.conf.py beside the main
    file, the rules that pair nginx with gunicorn."""

    label: str
    files: dict[str, str]
    main: str = "nginx.conf"

    def write(self, directory: Path) -> None:
        for name, text in self.files.items():
            path = directory / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, "utf-8")


def corpus() -> list[Tree]:
    """Every real config the repo has: the fixture trees and what the bundled profiles render.
    Mutations of real configs reach far deeper into the rules than random text does."""
    import confgen

    trees = []
    for main_file in sorted(FIXTURES.rglob("*.conf")):
        if main_file.name != "nginx.conf" and main_file.parent.name != "nginx":
            continue  # a snippet: part of its tree
        root = main_file.parent
        files = {str(p.relative_to(root)): p.read_text("utf-8", errors="replace")
                 for p in sorted(root.rglob("*")) if p.is_file() and (p.parent == root or main_file.name == "nginx.conf")}
        if main_file.name != "nginx.conf":
            files = {main_file.name: files[main_file.name]}
        trees.append(Tree(str(main_file.relative_to(REPO)), files, main_file.name))
    for profile in PROFILES:
        trees.append(Tree(f"render({profile.name})", confgen.render_profile(str(profile))))
    return trees


# ---------------------------------------------------------------------------------------------
# Mutations


def tokens(text: str) -> list[str]:
    return _TOKEN_RE.findall(text)


def _structural(pieces: list[str]) -> list[int]:
    return [i for i, piece in enumerate(pieces) if piece in ("{", "}", ";", '"', "'")]


# Values that sit at the edges of what rules parse: sizes, times, numbers, addresses, variables.
ODD_VALUES = ["0", "-1", "1", "99999999999999999999999", "1.1", "1.0", "off", "on", "1m 30s", "1h1m1s1ms", "",
              "1k", "1g", "1e9", "99999999d", "-5s", "0x10", "nan", "inf", "unix:/tmp/x.sock", "unix:", "$x",
              "${x}", "http://", "http://[::1", "http://app:99999", "localhost:0", "[::1]:8000", "*", "/",
              "max_fails=", "weight=0", "backup", "keepalive", "Connection", "\"\"", "é", "\u00e9", "\\",
              "None", "True", "[]", "{}", "()", "os.environ['X']", "1 if x else 2", "lambda: 0"]


def mutate(text: str, rng: random.Random) -> tuple[str, str]:
    """One to four edits of ``text``: (mutated text, what was done, for the failure message).

    Token edits (a brace, quote or semicolon removed, tokens swapped, the text cut short) mostly
    give syntax errors, which test the parser; line and value edits keep the syntax and reach
    the rules with directives missing, repeated, misplaced or holding odd values."""
    done = []
    for _ in range(rng.randint(1, 4)):
        level = rng.random()
        if level < 0.45:
            text, what = _mutate_tokens(text, rng)
        elif level < 0.7:
            text, what = _mutate_lines(text, rng)
        else:
            text, what = _mutate_value(text, rng)
        done.append(what)
    return text, ",".join(done)


def _mutate_tokens(text: str, rng: random.Random) -> tuple[str, str]:
    pieces = tokens(text) or [rng.choice(_SPECIALS)]
    kind = rng.choice(("delete", "delete-structural", "duplicate", "swap", "insert", "truncate", "duplicate-span"))
    index = rng.randrange(len(pieces))
    if kind == "delete-structural" and _structural(pieces):
        index = rng.choice(_structural(pieces))
        del pieces[index]
    elif kind in ("delete", "delete-structural"):
        del pieces[index]
    elif kind == "duplicate":
        pieces.insert(index, pieces[index])
    elif kind == "swap":
        other = rng.randrange(len(pieces))
        pieces[index], pieces[other] = pieces[other], pieces[index]
    elif kind == "insert":
        pieces.insert(index, rng.choice(_SPECIALS))
    elif kind == "truncate":
        pieces = pieces[:index]
    else:
        end = min(len(pieces), index + rng.randint(1, 40))
        pieces[index:index] = pieces[index:end]
    return "".join(pieces), f"{kind}@{index}"


def _mutate_lines(text: str, rng: random.Random) -> tuple[str, str]:
    lines = text.splitlines(keepends=True) or ["\n"]
    kind = rng.choice(("delete-line", "duplicate-line", "swap-lines", "move-line"))
    index = rng.randrange(len(lines))
    other = rng.randrange(len(lines))
    if kind == "delete-line":
        del lines[index]
    elif kind == "duplicate-line":
        lines.insert(other, lines[index])
    elif kind == "swap-lines":
        lines[index], lines[other] = lines[other], lines[index]
    else:
        lines.insert(other, lines.pop(index))
    return "".join(lines), f"{kind}@{index + 1}/{other + 1}"


def _mutate_value(text: str, rng: random.Random) -> tuple[str, str]:
    pieces = tokens(text)
    words = [i for i, piece in enumerate(pieces) if piece.strip() and piece not in _SPECIALS and not piece.startswith("#")]
    if not words:
        return _mutate_tokens(text, rng)
    index = rng.choice(words)
    pieces[index] = rng.choice(ODD_VALUES + [pieces[w] for w in rng.sample(words, min(3, len(words)))])
    return "".join(pieces), f"value@{index}={pieces[index]!r}"


def hostile_bytes(rng: random.Random) -> tuple[bytes, str]:
    """Input no config would hold: random bytes, NULs, broken UTF-8, a huge line, deep nesting."""
    kind = rng.choice(("random", "nul", "latin1", "surrogates", "huge-line", "deep-braces",
                       "deep-unclosed", "many-closing", "bom-crlf"))
    if kind == "random":
        data = bytes(rng.randrange(256) for _ in range(rng.randint(0, 2000)))
    elif kind == "nul":
        data = b"http {\x00 server { listen 80\x00; }\x00}\n" * rng.randint(1, 20)
    elif kind == "latin1":
        data = "http { server { server_name caf\xe9; # r\xe9sum\xe9\n } }\n".encode("latin-1")
    elif kind == "surrogates":
        data = b"http { add_header X \"\xed\xa0\x80\xff\xfe\"; }\n"
    elif kind == "huge-line":
        data = b"http { server_name " + b"a" * rng.randint(10_000, 200_000) + b"; }\n"
    elif kind == "deep-braces":
        depth = rng.choice((100, 1000, 10_000))  # 100k: test_the_largest_hostile_inputs
        data = b"location / {" * depth + b"}" * depth + b"\n"
    elif kind == "deep-unclosed":
        data = b"http {" * rng.choice((100, 1000, 10_000))
    elif kind == "many-closing":
        data = b"}" * rng.randint(1, 100_000)
    else:
        data = b"\xef\xbb\xbfhttp {\r\n  server {\r\n    listen 80;\r\n  }\r\n}\r\n"
    return data, kind


# ---------------------------------------------------------------------------------------------
# Running and judging


@dataclass
class Outcome:
    result: Result
    elapsed: float


def run_cli(args: list[str], *, seconds: float = CASE_SECONDS, what: str = "") -> Outcome:
    started = time.monotonic()
    with time_limit(seconds, what or " ".join(args)):
        result = CliRunner().invoke(main, args, catch_exceptions=True)
    return Outcome(result, time.monotonic() - started)


def assert_clean_exit(outcome: Outcome, what: str, *, single_input: bool = True) -> None:
    """Exit 0/1 with findings (or none), or exit 2 with one-line messages; never a traceback."""
    result = outcome.result
    context = f"{what}\nexit {result.exit_code}\nstdout:\n{result.stdout[-2000:]}\nstderr:\n{result.stderr[-2000:]}"
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        import traceback

        trace = "".join(traceback.format_exception(result.exception))
        raise AssertionError(f"{context}\nuncaught exception:\n{trace}")
    assert result.exit_code in (0, 1, 2), context
    assert "Traceback" not in result.output, context
    if result.exit_code == 2:
        lines = result.stderr.splitlines()
        assert lines and all(line.strip() for line in lines), context
        if single_input:
            assert len(lines) == 1, context
        assert result.stdout == "", context
    else:
        assert result.stderr == "", context


def directives_of(text: str) -> collections.Counter:
    """Every directive of one file's text (includes not followed), with the blocks around it."""
    from confgen.nginx.parse import SyntaxProblem, parse_text

    try:
        top = parse_text(text, "<file>").directives
    except SyntaxProblem:
        return collections.Counter()
    found: collections.Counter = collections.Counter()
    stack = [((), d) for d in top]
    while stack:
        path, directive = stack.pop()
        found[(path, directive.name, tuple(directive.args))] += 1
        inner = path + ((directive.name, tuple(directive.args)),)
        stack.extend((inner, child) for child in directive.block or ())
    return found


def assert_only_named_directives_changed(run, texts_before: dict[str, str]) -> None:
    """Per nginx file, the directives after --fix are those before plus what the applied edits say
    they add, minus what they say they remove: nothing else added, removed or moved to
    another block, no argument changed that no fix names."""
    declared: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    for step in run.passes:
        for edit in step.edits:
            for sign, path, name, args in edit.changes:
                declared[edit.file][(path, name, tuple(args))] += 1 if sign == "+" else -1
    for file, old in texts_before.items():
        if file.endswith(".py") or file not in run.texts:
            continue
        before, after = directives_of(old), directives_of(run.texts[file])
        if not before:
            continue
        actual = {key: after[key] - before[key] for key in set(before) | set(after) if after[key] != before[key]}
        named = {key: count for key, count in declared[file].items() if count}
        assert actual == named, (file, actual, named)
