"""confgen lint against gixy-next on the same configs: per gixy check, how many findings each tool
reports, where they disagree, and who is right.

    python bench/versus_gixy.py                    # the published corpus (tests/corpus/), judged
    python bench/versus_gixy.py --update-verdicts  # add gixy's new findings to tests/corpus/gixy-verdicts.txt
    python bench/versus_gixy.py --generated [--nginx-version 1.22.1] [--keep DIR] [--json]

The default run lints the corpus of published configs (tests/corpus/, see SOURCES.md) with both
tools. Every finding there carries a verdict judged by hand: confgen's in each entry's
expected.txt, gixy's in tests/corpus/gixy-verdicts.txt (same line format: FILE:LINE CHECK right,
or wrong -- why). Where only one tool reports a finding in a file, its verdict says who is right:
a right finding the other tool lacks is a miss of the other tool; a wrong one means the silent
tool was right. Findings are compared per (file, line, check) once each; the two tools anchor some
findings on different lines (gixy often on the enclosing block), so disagreement is per file.

``--generated`` compares on the project's fixture configs, the configs ``confgen render`` makes
from ``profiles/*.yaml``, every confgen rule's Bad and Good documentation example and the cases
gixy's users reported as false positives (counts only, no verdicts). Installs nothing: when
gixy-next is not importable it says so and exits 0 (``pip install -e '.[bench]'`` brings it).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import shutil
import subprocess
import sys
import tempfile
import textwrap
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))
GIXY_VERDICTS = ROOT / "tests" / "corpus" / "gixy-verdicts.txt"

# gixy check -> the confgen rules that cover it, each optionally narrowed to findings whose
# message contains a text (known-cve-pattern covers several gixy checks, one CVE each).
# None: deliberately not mirrored; the reason is in NOT_MIRRORED.
MAPPING: dict[str, tuple[tuple[str, str | None], ...] | None] = {
    "add_header_content_type": (("add-header-content-type", None),),
    "add_header_multiline": (("add-header-multiline", None),),
    "add_header_redefinition": (("add-header-inheritance", None), ("add-header-redefinition", None)),
    "alias_traversal": (("alias-traversal", None),),
    "allow_without_deny": (("allow-without-deny", None),),
    "default_server_flag": (("default-server-missing", None),),
    "error_log_off": (("error-log-off", None),),
    "filesystem_root_exposure": (("filesystem-root-exposure", None),),
    "hash_without_default": (("map-without-default", None),),
    "host_spoofing": (("host-spoofing", None),),
    "http_splitting": (("http-splitting", None),),
    "if_is_evil": (("if-is-evil", None),),
    "invalid_regex": (("invalid-capture-reference", None),),
    "low_keepalive_requests": (("low-keepalive-requests", None),),
    "missing_worker_processes": (("worker-processes", None),),
    "origins": (("origins-regex", None),),
    "overlapping_captures": (("known-cve-pattern", "CVE-2026-9256"),),
    "proxy_buffering_off": (("proxy-buffering-sync-worker", None),),
    "proxy_pass_normalized": (("proxy-pass-normalized", None),),
    "proxy_set_header_redefinition": (("proxy-header-inheritance", None),),
    "regex_redos": (("regex-redos", None),),
    "resolver_external": (("resolver-external", None),),
    "return_bypasses_allow_deny": (("return-bypasses-allow-deny", None),),
    "ssl_ecdh_curve": (("ssl-ecdh-curve-pq", None),),
    "ssl_stapling_letsencrypt": (("ssl-stapling-letsencrypt", None),),
    "ssl_stapling_without_resolver": (("ssl-stapling-no-resolver", None),),
    "ssrf": (("ssrf", None),),
    "status_page_exposed": (("status-page-exposed", None),),
    "unanchored_regex": (("unanchored-regex", None),),
    "unnamed_groups": (("known-cve-pattern", "CVE-2026-42945"),),
    "valid_referers": (("valid-referers-none", None),),
    "version_disclosure": (("version-disclosure", None),),
    "worker_rlimit_nofile_vs_connections": (("worker-connections-nofile", None),),
    "http2_misdirected_request": None,
    "mixed_case_variable": None,
    "quic_bpf_reuseport": None,
    "stale_dns_cache": None,
    "try_files_is_evil_too": None,
}

NOT_MIRRORED = {
    "http2_misdirected_request": "advice about HTTP/2 connection coalescing across servers that share a "
                                 "certificate: a deployment choice, not a defect visible in the config",
    "mixed_case_variable": "style only: nginx looks variable names up case-insensitively, so $Host and $host "
                           "behave the same",
    "quic_bpf_reuseport": "an eBPF/QUIC deployment detail outside confgen's HTTP and TLS scope (not "
                          "implemented)",
    "stale_dns_cache": "not implemented: names resolved once at start are nginx's documented behaviour, but the "
                       "corpus shows gixy right on Docker Compose service names (a recreated container gets a new "
                       "IP, nginx keeps the old one until reload); confgen reports the case that fails at once "
                       "(missing-resolver)",
    "try_files_is_evil_too": "performance advice (open_file_cache), not a defect; try_files is what nginx "
                             "recommends instead of if",
}

# Cases gixy's users reported as false positives; each should be clean in confgen.
FALSE_POSITIVE_CASES = {
    "fp-alias-single-file.conf": """
        location /favicon.ico { alias /srv/static/favicon.ico; }
        location = /robots.txt { alias /srv/static/robots.txt; }
    """,
    "fp-headers-readded-by-include.conf": """
        add_header Strict-Transport-Security "max-age=31536000" always;
        location /static/ {
            include fp-security-headers.inc;
            add_header Cache-Control public;
        }
    """,
    "fp-add-header-inherit-merge.conf": """
        add_header_inherit merge;
        add_header Strict-Transport-Security "max-age=31536000" always;
        location /static/ { add_header Cache-Control public; }
    """,
    "fp-tls-catch-all-reject-handshake.conf": """
        listen 443 ssl default_server;
        ssl_reject_handshake on;
        return 444;
    """,
}
FP_INCLUDES = {"fp-security-headers.inc": 'add_header Strict-Transport-Security "max-age=31536000" always;\n'}
STREAM_CASE = """
events {}
stream {
    server { listen 5432; proxy_pass $upstream_db; }
    server { listen 6379; proxy_pass 10.0.0.5:6379; }
}
"""


def whole(server_body: str) -> str:
    return ("worker_processes auto;\nevents {}\nhttp {\n    server_tokens off;\n    server {\n        listen 80 "
            "default_server;\n" + textwrap.indent(textwrap.dedent(server_body).strip("\n"), " " * 8) + "\n    }\n}\n")


def build_corpus(folder: Path) -> list[Path]:
    """Write the corpus into ``folder``; the top-level configs to lint, one per file."""
    import confgen
    from confgen.lint.engine import all_rules

    configs: list[Path] = []
    fixtures = ROOT / "tests" / "fixtures"
    for path in sorted(fixtures.rglob("*.conf")):
        if path.name == "nginx.conf" or path.parent == fixtures / "nginx":
            target = folder / "fixtures" / path.relative_to(fixtures)
            shutil.copytree(path.parent, target.parent, dirs_exist_ok=True)
            configs.append(target)
    for profile in sorted((ROOT / "profiles").glob("*.yaml")):
        out = folder / "rendered" / profile.stem
        out.mkdir(parents=True)
        for name, text in confgen.render_profile(profile).items():
            (out / name).write_text(text)
        shutil.copy(fixtures / "lint" / "article" / "mime.types", out / "mime.types")
        configs.append(out / "nginx.conf")
    examples = folder / "examples"
    examples.mkdir()
    for rule in all_rules():
        for which in ("bad", "good"):
            text = getattr(rule.doc, which)
            if text.strip():
                path = examples / f"{rule.name}.{which}.conf"
                path.write_text(text)
                configs.append(path)
    generated = folder / "false-positives"
    generated.mkdir()
    for name, text in FP_INCLUDES.items():
        (generated / name).write_text(text)
    for name, body in FALSE_POSITIVE_CASES.items():
        (generated / name).write_text(whole(body))
        configs.append(generated / name)
    (generated / "fp-stream-proxy-pass.conf").write_text(STREAM_CASE)
    configs.append(generated / "fp-stream-proxy-pass.conf")
    return configs


def run_gixy(path: Path) -> list[dict]:
    completed = subprocess.run([sys.executable, "-m", "gixy", "-f", "json", str(path)], capture_output=True,
                               text=True, timeout=120, cwd=path.parent)
    try:
        return json.loads(completed.stdout or "[]")
    except json.JSONDecodeError:
        return []


def run_confgen(path: Path, version: str) -> list:
    from confgen.lint.engine import lint
    from confgen.errors import ConfgenError

    try:
        return lint([str(path)], nginx_version=version).findings
    except ConfgenError:
        return []


def compare(configs: list[Path], version: str) -> dict:
    gixy_found: dict[str, Counter] = defaultdict(Counter)      # check -> file -> count
    confgen_found: dict[str, Counter] = defaultdict(Counter)
    for path in configs:
        label = str(path)
        for issue in run_gixy(path):
            gixy_found[issue["plugin"]][label] += 1
        findings = run_confgen(path, version)
        for check, targets in MAPPING.items():
            if not targets:
                continue
            seen = {(f.file, f.line) for f in findings
                    if any(f.rule == rule and (text is None or text in f.message) for rule, text in targets)}
            if seen:
                confgen_found[check][label] += len(seen)
    rows = []
    for check in sorted(set(MAPPING) | set(gixy_found)):
        gixy_files, confgen_files = gixy_found.get(check, Counter()), confgen_found.get(check, Counter())
        only_gixy = sorted(f for f in gixy_files if not confgen_files.get(f))
        only_confgen = sorted(f for f in confgen_files if not gixy_files.get(f))
        rows.append({"check": check,
                     "confgen": ", ".join(r for r, _ in MAPPING[check]) if MAPPING.get(check) else None,
                     "gixy": sum(gixy_files.values()), "confgen_count": sum(confgen_files.values()),
                     "only_gixy": only_gixy, "only_confgen": only_confgen,
                     "not_mirrored": NOT_MIRRORED.get(check)})
    return {"files": len(configs), "nginx_version": version, "rows": rows}


def print_report(report: dict, base: Path) -> None:
    def short(path: str) -> str:
        return str(Path(path).relative_to(base)) if path.startswith(str(base)) else path

    print(f"{report['files']} configs, confgen targeting nginx {report['nginx_version']}\n")
    print("| gixy check | confgen rule(s) | gixy | confgen | files only gixy | files only confgen |")
    print("|---|---|---|---|---|---|")
    for row in report["rows"]:
        if row["confgen"] is None:
            continue
        print(f"| {row['check']} | {row['confgen']} | {row['gixy']} | {row['confgen_count']} | "
              f"{len(row['only_gixy'])} | {len(row['only_confgen'])} |")
    print("\nWhere they differ (files reported by one tool only):")
    for row in report["rows"]:
        if row["confgen"] is None or not (row["only_gixy"] or row["only_confgen"]):
            continue
        print(f"- {row['check']}:")
        for label, files in (("gixy only", row["only_gixy"]), ("confgen only", row["only_confgen"])):
            if files:
                print(f"    {label}: {', '.join(short(f) for f in files)}")
    print("\nNot mirrored on purpose:")
    for row in report["rows"]:
        if row["confgen"] is None:
            reason = row["not_mirrored"] or "a gixy check this script does not know yet: add it to MAPPING"
            print(f"- {row['check']} ({row['gixy']} findings): {reason}")


# --- the published corpus, judged ---------------------------------------------------------------

def gixy_keys(entry: Path) -> set[tuple[str, int, str]]:
    """(file relative to the corpus, line, check) of gixy's findings on one corpus entry; findings
    in files outside the corpus (this machine's /etc/nginx) are left out."""
    import corpus_expectations as corpus

    keys = set()
    for issue in run_gixy(entry / "nginx.conf"):
        path = Path(issue.get("file") or issue.get("path") or entry / "nginx.conf").resolve()
        try:
            label = path.relative_to(corpus.CORPUS.resolve()).as_posix()
        except ValueError:
            continue
        keys.add((label, int(issue.get("line") or 0), issue["plugin"]))
    return keys


def read_verdicts(path: Path) -> dict:
    """(file, line, check) -> the judged Expectation, from a file in expected.txt's line format."""
    import corpus_expectations as corpus

    if not path.is_file():
        return {}
    lines = path.read_text().splitlines()
    return {e.key: e for e in (corpus.parse_line(t.strip(), f"{path.name}:{n}")
                               for n, t in enumerate(lines, 1) if t.strip() and not t.startswith("#"))}


def judged(keys, verdicts: dict) -> list:
    """The findings with their hand verdicts; a finding nobody judged yet is 'unreviewed'."""
    import corpus_expectations as corpus

    return [verdicts.get(key) or corpus.Expectation(*key, "unreviewed") for key in sorted(keys)]


def gixy_version() -> str:
    import importlib.metadata

    try:
        return importlib.metadata.version("gixy-next")
    except importlib.metadata.PackageNotFoundError:
        return "(version unknown)"


def corpus_compare(entries: list[Path] | None = None) -> dict:
    """Both tools on the corpus entries (default: all), each finding with its verdict, grouped per
    gixy check."""
    import corpus_expectations as corpus

    entries = corpus.entries() if entries is None else entries
    gixy_verdicts = read_verdicts(GIXY_VERDICTS)
    gixy_all, confgen_all = [], []
    for entry in entries:
        gixy_all += judged(gixy_keys(entry), gixy_verdicts)
        confgen_all += corpus.merged(entry, corpus.lint_entry(entry))
    rows = []
    for check in sorted(set(MAPPING) | {e.rule for e in gixy_all}):
        targets = MAPPING.get(check)
        rules = {rule for rule, _ in targets or ()}
        gixy = [e for e in gixy_all if e.rule == check]
        # a rule narrowed to one CVE (known-cve-pattern) is counted for every check it covers
        ours = [e for e in confgen_all if e.rule in rules]
        gixy_files, our_files = {e.file for e in gixy}, {e.file for e in ours}
        disagreements = []
        for side, findings, other_files in (("gixy", gixy, our_files), ("confgen", ours, gixy_files)):
            for e in findings:
                if e.file in other_files:
                    continue
                other = "confgen" if side == "gixy" else "gixy"
                missed = f"a miss of {other}" if targets else "confgen does not check this"
                right = {"right": f"{side} ({missed})", "wrong": f"{other} (silent, rightly)"}
                disagreements.append({"only": side, "finding": f"{e.file}:{e.line} {e.rule}",
                                      "verdict": e.verdict, "why": e.why,
                                      "who_is_right": right.get(e.verdict, "not judged yet")})
        rows.append({"check": check, "confgen": ", ".join(sorted(rules)) or None,
                     "not_mirrored": NOT_MIRRORED.get(check),
                     "gixy": len(gixy), "gixy_wrong": sum(e.verdict == "wrong" for e in gixy),
                     "confgen_count": len(ours), "confgen_wrong": sum(e.verdict == "wrong" for e in ours),
                     "disagreements": disagreements})
    return {"configs": len(entries), "gixy_version": gixy_version(), "nginx_version": corpus.NGINX_VERSION,
            "rows": rows,
            "gixy_findings": len(gixy_all), "gixy_wrong": sum(e.verdict == "wrong" for e in gixy_all),
            "gixy_unreviewed": [e.render() for e in gixy_all if e.verdict == "unreviewed"],
            "confgen_findings": len(confgen_all), "confgen_wrong": sum(e.verdict == "wrong" for e in confgen_all)}


def update_gixy_verdicts() -> int:
    """Rewrite gixy-verdicts.txt from gixy's current findings, keeping the verdicts already given."""
    import corpus_expectations as corpus
    from confgen.files import write_atomically

    verdicts = read_verdicts(GIXY_VERDICTS)
    found = judged({k for entry in corpus.entries() for k in gixy_keys(entry)}, verdicts)
    header = ("# gixy-next's findings on tests/corpus/, one a line: FILE:LINE CHECK VERDICT, judged by hand:\n"
              "# right, or wrong -- why. Rewrite with `python bench/versus_gixy.py --update-verdicts`.\n")
    write_atomically({GIXY_VERDICTS.name: header + "".join(e.render() + "\n" for e in found)}, GIXY_VERDICTS.parent)
    print(f"{len(found)} gixy findings, {sum(e.verdict == 'unreviewed' for e in found)} unreviewed")
    return 0


def share(wrong: int, total: int) -> str:
    return f"{wrong}/{total} ({wrong / total:.0%})" if total else "0/0"


def print_corpus_report(report: dict) -> None:
    print(f"# confgen and gixy-next on the published corpus\n\n{report['configs']} configs from "
          f"tests/corpus/ (SOURCES.md); confgen with every rule, nginx {report['nginx_version']}; every finding "
          f"judged by hand (confgen: each entry's expected.txt, gixy: gixy-verdicts.txt). Judged wrong: the "
          f"claim is false there, following the advice changes nothing or breaks the config, it flags a "
          f"deliberate idiom, or it repeats a problem already reported.\n")
    print(f"- gixy-next {report['gixy_version']}: {report['gixy_findings']} findings, judged wrong "
          f"{share(report['gixy_wrong'], report['gixy_findings'])}")
    print(f"- confgen (every rule): {report['confgen_findings']} findings, judged wrong "
          f"{share(report['confgen_wrong'], report['confgen_findings'])}\n")
    print("| gixy check | confgen rule(s) | gixy findings (wrong) | confgen findings (wrong) | "
          "only gixy: gixy right / wrong | only confgen: confgen right / wrong |")
    print("|---|---|---|---|---|---|")
    for row in report["rows"]:
        if not row["gixy"] and not row["confgen_count"]:
            continue
        tally = Counter((d["only"], d["who_is_right"].split(" ")[0]) for d in row["disagreements"])
        print(f"| {row['check']} | {row['confgen'] or 'not mirrored'} | {row['gixy']} ({row['gixy_wrong']}) | "
              f"{row['confgen_count']} ({row['confgen_wrong']}) | "
              f"{tally['gixy', 'gixy']} / {tally['gixy', 'confgen']} | "
              f"{tally['confgen', 'confgen']} / {tally['confgen', 'gixy']} |")
    print("\n## Where they disagree, and who is right\n")
    for row in report["rows"]:
        if row["disagreements"]:
            print(f"### {row['check']}" + (f" (not mirrored: {row['not_mirrored']})" if row["not_mirrored"] else ""))
            for d in row["disagreements"]:
                why = f" ({d['why']})" if d["why"] else ""
                print(f"- only {d['only']}: `{d['finding']}`, judged {d['verdict']}{why}; right: {d['who_is_right']}")
            print()
    if report["gixy_unreviewed"]:
        print(f"{len(report['gixy_unreviewed'])} gixy findings not judged yet: run --update-verdicts and judge them")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nginx-version", default="1.22.1", help="the version confgen lints for (default 1.22.1)")
    parser.add_argument("--keep", metavar="DIR", help="write the corpus here and keep it")
    parser.add_argument("--json", action="store_true", help="print the comparison as JSON")
    parser.add_argument("--generated", action="store_true",
                        help="compare on fixtures, rendered profiles and rule examples instead of the published corpus")
    parser.add_argument("--update-verdicts", action="store_true",
                        help="add gixy's new findings on the corpus to tests/corpus/gixy-verdicts.txt (unreviewed)")
    args = parser.parse_args(argv)
    if importlib.util.find_spec("gixy") is None:
        print("gixy-next is not installed (pip install -e '.[bench]'); nothing to compare")
        return 0
    if args.update_verdicts:
        return update_gixy_verdicts()
    if not args.generated:
        report = corpus_compare()
        if args.json:
            print(json.dumps(report, indent=2))
        else:
            print_corpus_report(report)
        return 0
    base = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="versus-gixy-"))
    try:
        base.mkdir(parents=True, exist_ok=True)
        report = compare(build_corpus(base), args.nginx_version)
        if args.json:
            print(json.dumps(report, indent=2))
        else:
            print_report(report, base)
    finally:
        if not args.keep:
            shutil.rmtree(base, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
