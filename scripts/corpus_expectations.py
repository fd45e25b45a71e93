"""Lint the corpus of published configs (tests/corpus/) and keep its reviewed expectations.

    python scripts/corpus_expectations.py            # rewrite every expected.txt, keeping verdicts
    python scripts/corpus_expectations.py NAME ...   # only these corpus entries
    python scripts/corpus_expectations.py --report   # per-rule precision from the verdicts; writes nothing
    python scripts/corpus_expectations.py --check    # exit 1 when an expected.txt is stale or unreviewed
    python scripts/corpus_expectations.py --wrong    # the findings judged wrong, by rule: what rule owners fix

Each corpus entry is a directory holding ``nginx.conf`` (plus the files it includes), and, where
the same repository has one, ``gunicorn.conf.py`` or ``gunicorn.cmd`` (the command line its
Procfile, Dockerfile or unit runs). ``expected.txt`` beside it lists every finding confgen reports
with every rule selected, one per line::

    netbox/nginx.conf:18 proxy-pass-no-upstream right
    netbox/nginx.conf:1 hsts-missing wrong -- an include the deployment provides may set it

The verdict is a person's judgement: ``right``, or ``wrong -- why``. A finding the file does not
know yet is written as ``unreviewed``; review it by hand. Findings whose (file, line, rule) did not
change keep their verdict when the file is rewritten.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "tests" / "corpus"
EXPECTED = "expected.txt"
# The version every corpus config is linted for: current Debian stable's nginx. Fixed, so the
# expectations do not depend on the nginx installed where the suite runs.
NGINX_VERSION = "1.26.3"
VERDICTS = ("right", "wrong", "unreviewed")
REGENERATE = "python scripts/corpus_expectations.py"
HEADER = (f"# confgen lint --select ALL on this corpus entry (nginx {NGINX_VERSION}); one finding a line:\n"
          "# FILE:LINE RULE VERDICT, the verdict judged by hand: right, or wrong -- why.\n"
          f"# Regenerate with `{REGENERATE} NAME` (keeps the verdicts of unchanged findings).\n")


@dataclass(frozen=True)
class Expectation:
    file: str      # relative to tests/corpus
    line: int
    rule: str
    verdict: str   # right, wrong or unreviewed
    why: str = ""

    @property
    def key(self) -> tuple[str, int, str]:
        return (self.file, self.line, self.rule)

    def render(self) -> str:
        text = f"{self.file}:{self.line} {self.rule} {self.verdict}"
        return f"{text} -- {self.why}" if self.why else text


def entries() -> list[Path]:
    """Every corpus entry: a directory under tests/corpus with an nginx.conf."""
    return sorted(p for p in CORPUS.iterdir() if (p / "nginx.conf").is_file())


@contextlib.contextmanager
def no_system_files() -> Iterator[None]:
    """Lint as on a machine without nginx installed, so the findings do not depend on the machine:
    a relative include missing beside the config is not looked up in /etc/nginx, and an absolute
    include outside the corpus (/etc/nginx/sites-enabled/*, /run/...) finds nothing, as in a fresh
    checkout of the repository the config came from."""
    from confgen.nginx import parse

    corpus = str(CORPUS.resolve()) + os.sep
    loader = parse._Loader
    saved = parse.SYSTEM_CONF_DIRS, loader.exists, loader.glob

    def inside(path: str) -> bool:
        return os.path.abspath(path).startswith(corpus)

    def exists(self, path: str) -> bool:
        return saved[1](self, path) and (path in self.virtual or inside(path))

    def glob(self, pattern: str) -> list[str]:
        return [p for p in saved[2](self, pattern) if p in self.virtual or inside(p)]

    parse.SYSTEM_CONF_DIRS, loader.exists, loader.glob = (), exists, glob
    try:
        yield
    finally:
        parse.SYSTEM_CONF_DIRS, loader.exists, loader.glob = saved


def lint_findings(entry: Path) -> dict[tuple[str, int, str], str]:
    """(file relative to the corpus, line, rule) -> severity of every finding on one entry, once
    each. Findings in files outside the corpus (a machine's own /etc/nginx/mime.types) are left out."""
    from confgen.lint.engine import lint

    gunicorn = entry / "gunicorn.conf.py"
    command = entry / "gunicorn.cmd"
    with no_system_files():
        result = lint([str(entry / "nginx.conf")], select=["ALL"], nginx_version=NGINX_VERSION,
                      gunicorn=str(gunicorn) if gunicorn.is_file() else None,
                      gunicorn_cmd=command.read_text().strip() if command.is_file() else None)
    found: dict[tuple[str, int, str], str] = {}
    for finding in result.findings:
        path = Path(finding.file)
        if path.is_absolute():
            try:
                label = path.resolve().relative_to(CORPUS.resolve()).as_posix()
            except ValueError:
                continue
        else:
            label = os.path.relpath(path, CORPUS).replace(os.sep, "/") if path.exists() else finding.file
        found.setdefault((label, finding.line, finding.rule), finding.severity)
    return found


def lint_entry(entry: Path) -> list[tuple[str, int, str]]:
    """(file relative to the corpus, line, rule) of every finding on one entry, sorted, once each."""
    return sorted(lint_findings(entry))


def severity_table(chosen: list[Path]) -> str:
    """Findings and wrong verdicts per severity the findings have now (lints the entries again)."""
    found: Counter = Counter()
    wrong: Counter = Counter()
    for entry in chosen:
        verdicts = {e.key: e.verdict for e in read_expected(entry)}
        for key, severity in lint_findings(entry).items():
            found[severity] += 1
            wrong[severity] += verdicts.get(key) == "wrong"
    rows = [f"| {s} | {found[s]} | {wrong[s]} |" for s in ("error", "warning", "info") if found[s]]
    return "\n".join(["| severity | findings | judged wrong |", "|---|---|---|", *rows])


def parse_line(text: str, where: str) -> Expectation:
    head, _, why = text.partition(" -- ")
    parts = head.split()
    if len(parts) != 3 or ":" not in parts[0] or parts[2] not in VERDICTS:
        raise ValueError(f"{where}: expected 'FILE:LINE RULE right|wrong -- why', got {text!r}")
    file, _, line = parts[0].rpartition(":")
    if parts[2] == "wrong" and not why.strip():
        raise ValueError(f"{where}: a wrong verdict says why after ' -- '")
    return Expectation(file, int(line), parts[1], parts[2], why.strip())


def read_expected(entry: Path) -> list[Expectation]:
    path = entry / EXPECTED
    if not path.is_file():
        return []
    found = []
    for number, text in enumerate(path.read_text().splitlines(), 1):
        if text.strip() and not text.startswith("#"):
            found.append(parse_line(text.strip(), f"{path}:{number}"))
    return found


def merged(entry: Path, keys: list[tuple[str, int, str]]) -> list[Expectation]:
    """The findings lint reports now, with the verdicts already given to the same findings."""
    known = {e.key: e for e in read_expected(entry)}
    return [known.get(key) or Expectation(*key, "unreviewed") for key in keys]


def write_expected(entry: Path, expectations: list[Expectation]) -> None:
    from confgen.files import write_atomically

    text = HEADER + "".join(e.render() + "\n" for e in expectations)
    write_atomically({EXPECTED: text}, entry)


def rule_info() -> dict[str, tuple[str, str]]:
    """rule name -> (severity, group)."""
    from confgen.lint.engine import all_rules

    return {r.name: (r.severity, getattr(r, "group", "default")) for r in all_rules()}


def report(all_expectations: dict[str, list[Expectation]]) -> str:
    """A Markdown table: per rule, findings on the corpus and how many were judged wrong."""
    info = rule_info()
    found: Counter = Counter()
    wrong: Counter = Counter()
    unreviewed: Counter = Counter()
    for expectations in all_expectations.values():
        for e in expectations:
            found[e.rule] += 1
            wrong[e.rule] += e.verdict == "wrong"
            unreviewed[e.rule] += e.verdict == "unreviewed"
    lines = ["| rule | severity | group | findings | judged wrong | precision |", "|---|---|---|---|---|---|"]
    for rule in sorted(found, key=lambda r: (-found[r], r)):
        severity, group = info.get(rule, ("?", "?"))
        judged = found[rule] - unreviewed[rule]
        precision = f"{(judged - wrong[rule]) / judged:.0%}" if judged else "-"
        extra = f" ({unreviewed[rule]} unreviewed)" if unreviewed[rule] else ""
        lines.append(f"| {rule} | {severity} | {group} | {found[rule]} | {wrong[rule]}{extra} | {precision} |")
    default = [e for es in all_expectations.values() for e in es if info.get(e.rule, ("", "default"))[1] == "default"]
    every = [e for es in all_expectations.values() for e in es]

    def summary(label: str, items: list[Expectation]) -> str:
        bad = sum(e.verdict == "wrong" for e in items)
        share = f"{bad / len(items):.1%}" if items else "-"
        return f"{label}: {len(items)} findings, {bad} judged wrong ({share})"

    configs = len(all_expectations)
    lines += ["", f"{configs} configs; " + summary("default rules", default) + "; " + summary("all rules", every)]
    return "\n".join(lines)


def wrong_by_rule(all_expectations: dict[str, list[Expectation]]) -> str:
    """The findings judged wrong, grouped by rule, one `file:line -- why` a line."""
    grouped: dict[str, list[Expectation]] = {}
    for expectations in all_expectations.values():
        for e in expectations:
            if e.verdict == "wrong":
                grouped.setdefault(e.rule, []).append(e)
    lines = []
    for rule in sorted(grouped, key=lambda r: (-len(grouped[r]), r)):
        lines += ["", f"### {rule} ({len(grouped[rule])} wrong)"]
        lines += [f"- {e.file}:{e.line} -- {e.why}" for e in grouped[rule]]
    return "\n".join(lines).lstrip("\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="corpus entries (directory names); default: all")
    parser.add_argument("--report", action="store_true", help="print per-rule precision; write nothing")
    parser.add_argument("--check", action="store_true", help="exit 1 when an expected.txt is stale")
    parser.add_argument("--wrong", action="store_true", help="print the findings judged wrong, by rule")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    chosen = entries()
    if args.names:
        unknown = sorted(set(args.names) - {e.name for e in chosen})
        if unknown:
            print(f"no corpus entry: {', '.join(unknown)}", file=sys.stderr)
            return 2
        chosen = [e for e in chosen if e.name in args.names]
    if args.report or args.wrong:
        judged = {e.name: read_expected(e) for e in chosen}
        print(report(judged) + "\n\n" + severity_table(chosen) if args.report else wrong_by_rule(judged))
        return 0
    stale = 0
    for entry in chosen:
        now = merged(entry, lint_entry(entry))
        before = read_expected(entry)
        if args.check:
            if [e.key for e in now] != [e.key for e in before] or any(e.verdict == "unreviewed" for e in now):
                print(f"stale: {entry.name}")
                stale += 1
            continue
        if now != before or not (entry / EXPECTED).is_file():
            write_expected(entry, now)
            added = len({e.key for e in now} - {e.key for e in before})
            gone = len({e.key for e in before} - {e.key for e in now})
            print(f"{entry.name}: {len(now)} findings (+{added} -{gone}), "
                  f"{sum(e.verdict == 'unreviewed' for e in now)} unreviewed")
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main())
