"""bench/versus_gixy.py keeps one mapping table: every gixy check is either mapped to confgen
rules that exist or listed with the reason it is not mirrored."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))
import versus_gixy  # noqa: E402

from confgen.lint.engine import find_rule  # noqa: E402


def test_mapped_rules_exist_and_unmapped_checks_say_why():
    for check, targets in versus_gixy.MAPPING.items():
        if targets is None:
            assert versus_gixy.NOT_MIRRORED.get(check), check
            continue
        for name, _ in targets:
            assert find_rule(name) is not None, (check, name)


@pytest.mark.skipif(importlib.util.find_spec("gixy") is None, reason="gixy-next not installed")
def test_every_installed_gixy_check_is_in_the_table():
    plugins = Path(importlib.util.find_spec("gixy").origin).parent / "plugins"
    checks = {p.stem for p in plugins.glob("*.py") if p.stem not in ("__init__", "plugin")}
    assert checks <= set(versus_gixy.MAPPING), sorted(checks - set(versus_gixy.MAPPING))


@pytest.mark.skipif(importlib.util.find_spec("gixy") is None, reason="gixy-next not installed")
def test_false_positive_cases_are_clean_in_confgen_and_the_comparison_runs(tmp_path):
    for name, text in versus_gixy.FP_INCLUDES.items():
        (tmp_path / name).write_text(text)
    configs = []
    for name, body in versus_gixy.FALSE_POSITIVE_CASES.items():
        (tmp_path / name).write_text(versus_gixy.whole(body))
        configs.append(tmp_path / name)
    for path in configs:
        security = [f for f in versus_gixy.run_confgen(path, "1.30.0")
                    if f.code.startswith(("CG6", "CG7", "CG8"))]
        assert security == [], (path.name, security)
    report = versus_gixy.compare(configs[:1], "1.30.0")
    alias = next(r for r in report["rows"] if r["check"] == "alias_traversal")
    assert alias["confgen_count"] == 0


def test_gixy_verdicts_name_corpus_files_and_are_judged():
    verdicts = versus_gixy.read_verdicts(versus_gixy.GIXY_VERDICTS)
    assert verdicts, "tests/corpus/gixy-verdicts.txt is empty"
    corpus_dir = versus_gixy.GIXY_VERDICTS.parent
    for (file, line, check), verdict in verdicts.items():
        assert (corpus_dir / file).is_file(), file
        assert check in versus_gixy.MAPPING, check
        assert verdict.verdict in ("right", "wrong"), verdict.render()


@pytest.mark.skipif(importlib.util.find_spec("gixy") is None, reason="gixy-next not installed")
def test_corpus_comparison_says_who_is_right_where_the_tools_disagree():
    import corpus_expectations as corpus

    entry = corpus.CORPUS / "gunicorn-example"
    report = versus_gixy.corpus_compare([entry])
    assert report["configs"] == 1 and report["gixy_findings"] >= 1
    rows = {row["check"]: row for row in report["rows"]}
    # gixy flags $http_host in the only server on port 80, where $host is the client's choice too
    spoofing = rows["host_spoofing"]
    assert spoofing["gixy"] == spoofing["gixy_wrong"] == 1 and spoofing["confgen_count"] == 0
    assert [d["who_is_right"] for d in spoofing["disagreements"]] == ["confgen (silent, rightly)"]
    # both report the missing worker_rlimit_nofile
    assert rows["worker_rlimit_nofile_vs_connections"]["disagreements"] == []
