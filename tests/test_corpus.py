"""The corpus of published configs (tests/corpus/): every finding confgen reports there is listed,
with a verdict judged by hand, in the entry's expected.txt. A rule change that adds or removes a
finding on a real config fails here, showing the difference and the command that rewrites the
file; the verdicts of unchanged findings are kept, new ones must be reviewed."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))
import corpus_expectations as corpus  # noqa: E402

ENTRIES = corpus.entries()
MIN_CONFIGS = 60
MAX_BYTES = 2 * 1024 * 1024


def _shown(keys) -> str:
    return "\n".join(f"    {file}:{line} {rule}" for file, line, rule in sorted(keys))


@pytest.mark.parametrize("entry", ENTRIES, ids=[e.name for e in ENTRIES])
def test_findings_match_the_reviewed_expectations(entry):
    expected = corpus.read_expected(entry)
    now = set(corpus.lint_entry(entry))
    before = {e.key for e in expected}
    if now != before:
        parts = [f"confgen's findings on tests/corpus/{entry.name} changed:"]
        if now - before:
            parts.append(f"  new (not in expected.txt):\n{_shown(now - before)}")
        if before - now:
            parts.append(f"  expected but gone:\n{_shown(before - now)}")
        parts.append(f"  rewrite with `{corpus.REGENERATE} {entry.name}`, then judge every 'unreviewed' line "
                     f"(right, or wrong -- why); a wrong finding that disappeared is a fix")
        pytest.fail("\n".join(parts), pytrace=False)
    unreviewed = [e.render() for e in expected if e.verdict == "unreviewed"]
    assert not unreviewed, f"judge these by hand in tests/corpus/{entry.name}/expected.txt:\n" + "\n".join(unreviewed)


def test_the_corpus_is_big_enough_small_in_bytes_and_every_entry_has_its_source():
    assert len(ENTRIES) >= MIN_CONFIGS
    size = sum(p.stat().st_size for p in corpus.CORPUS.rglob("*") if p.is_file())
    assert size < MAX_BYTES, size
    sources = (corpus.CORPUS / "SOURCES.md").read_text()
    listed = set(re.findall(r"^\| `([^`]+)` \|", sources, re.MULTILINE))
    names = {e.name for e in ENTRIES}
    assert names - listed == set(), "entries without a row in SOURCES.md"
    assert listed - names == set(), "SOURCES.md rows without an entry"


def test_expectation_lines_are_read_strictly(tmp_path):
    good = corpus.parse_line("a/nginx.conf:12 host-spoofing wrong -- the default server", "x")
    assert (good.file, good.line, good.rule, good.verdict, good.why) == (
        "a/nginx.conf", 12, "host-spoofing", "wrong", "the default server")
    for bad in ("a/nginx.conf:12 host-spoofing maybe",          # not a verdict
                "a/nginx.conf:12 host-spoofing wrong",          # wrong without a reason
                "a/nginx.conf host-spoofing right"):            # no line
        with pytest.raises(ValueError):
            corpus.parse_line(bad, "x")


def test_regenerating_keeps_verdicts_and_marks_new_findings_unreviewed(tmp_path):
    entry = tmp_path / "demo"
    entry.mkdir()
    (entry / corpus.EXPECTED).write_text(
        corpus.HEADER
        + "demo/nginx.conf:3 worker-processes wrong -- deliberate in a one-core container\n"
        + "demo/nginx.conf:9 gone-rule right\n")
    keys = [("demo/nginx.conf", 3, "worker-processes"), ("demo/nginx.conf", 5, "version-disclosure")]
    merged = corpus.merged(entry, keys)
    assert [(e.key, e.verdict) for e in merged] == [(keys[0], "wrong"), (keys[1], "unreviewed")]
    assert merged[0].why == "deliberate in a one-core container"
    corpus.write_expected(entry, merged)
    assert corpus.read_expected(entry) == merged
