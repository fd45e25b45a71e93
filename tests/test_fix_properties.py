"""Fixes never break a config: over the fuzz corpus (fixtures and rendered profiles) and the
corpus of published configs, every tree that real `nginx -t` accepts before `--fix` (safe and
unsafe fixes, every rule) is accepted after; every gunicorn.conf.py a fix edited still compiles
and passes `gunicorn --check-config`; and no rule reports more than it did before."""

from __future__ import annotations

import collections
import random
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from confgen.lint.fixes import apply
from confgen.nginx.parse import load_nginx
from conftest import find_binary, require_binary
from fuzz_support import REPO, Tree, corpus, mutate
from test_fix import gunicorn_check

CORPUS = REPO / "tests" / "corpus"


def published() -> list[Tree]:
    trees = []
    for entry in sorted(CORPUS.glob("*/nginx.conf")) if CORPUS.is_dir() else []:
        files = {str(p.relative_to(entry.parent)): p.read_text("utf-8", errors="replace")
                 for p in sorted(entry.parent.rglob("*")) if p.is_file() and p.name != "expected.txt"}
        trees.append(Tree(f"corpus/{entry.parent.name}", files))
    return trees


MUTANTS_PER_TREE = 2


def mutants(trees: list[Tree]) -> list[Tree]:
    """Seeded mutations of each tree's main file: those nginx still accepts reach the fixes with
    directives missing, repeated or moved."""
    found = []
    for index, tree in enumerate(trees):
        rng = random.Random(1500 + index)
        for number in range(MUTANTS_PER_TREE):
            text, what = mutate(tree.files[tree.main], rng)
            found.append(Tree(f"{tree.label}~{number}({what})", {**tree.files, tree.main: text}, tree.main))
    return found


TREES = corpus() + published()
TREES = TREES + mutants(TREES)


def installed_nginx_version() -> str:
    nginx = find_binary("nginx")
    if nginx is None:
        return "1.22.1"
    output = subprocess.run([nginx, "-v"], capture_output=True, text=True).stderr
    return output.strip().rsplit("/", 1)[-1] or "1.22.1"


# The blocks a snippet may be written for; the first that nginx accepts before --fix is kept after.
WRAPPERS = (None, "events {{}}\nhttp {{\n{}\n}}\n",
            "events {{}}\nhttp {{\nserver {{ listen 127.0.0.1:8080; {} }}\n}}\n",
            "events {{}}\nhttp {{\nserver {{ listen 127.0.0.1:8080; location / {{ {} }} }}\n}}\n")
PARAMS = ("mime.types", "uwsgi_params", "fastcgi_params", "fastcgi.conf", "scgi_params", "proxy_params")
_HOST_RE = re.compile(r"(?m)^(\s*(?:server|proxy_pass|uwsgi_pass|fastcgi_pass|grpc_pass)\s+(?:[a-z]+://)?)"
                      r"([A-Za-z][\w.-]*)(?=[:/;\s])")
_CERT_RE = re.compile(r"(?m)^(\s*)(ssl_certificate|ssl_certificate_key|ssl_trusted_certificate|"
                      r"ssl_client_certificate)\s+[^;]*;")
_DROPPED_RE = re.compile(r"(?m)^\s*(user|load_module|ssl_dhparam|ssl_stapling_file|pid)\s+[^;]*;")


def machine_independent(text: str, cert: tuple[str, str]) -> str:
    """What only this machine lacks, made present, the same way before and after --fix: the
    config's users, certificates, modules and host names (nginx resolves them at start)."""
    upstream_names = set(re.findall(r"\bupstream\s+([\w.-]+)\s*\{", text))
    text = _DROPPED_RE.sub("", text)
    text = _CERT_RE.sub(lambda m: f"{m.group(1)}{m.group(2)} {cert[1] if m.group(2).endswith('_key') else cert[0]};",
                        text)

    def host(match: re.Match) -> str:
        name = match.group(2)
        keep = name in upstream_names or name == "unix" or name == "localhost"
        return match.group(0) if keep else match.group(1) + "127.0.0.1"
    return _HOST_RE.sub(host, text)


def nginx_t(nginx: str, root: Path, main: str, cert: tuple[str, str], wrapper: str | None = "any"):
    """(accepted, output, wrapper) of `nginx -t` on a copy of the tree made machine-independent,
    a snippet inside the blocks it is written for (``wrapper``; "any": the first that works)."""
    check = root.parent / f"{root.name}-checked"
    shutil.rmtree(check, ignore_errors=True)
    shutil.copytree(root, check)
    for path in check.rglob("*"):
        if path.is_file() and path.suffix not in (".py", ".txt"):
            path.write_text(machine_independent(path.read_text("utf-8", errors="replace"), cert))
    for name in PARAMS:
        if not (check / name).exists() and Path("/etc/nginx", name).exists():
            shutil.copy(Path("/etc/nginx", name), check / name)
    (check / "logs").mkdir(exist_ok=True)
    output = ""
    for candidate in (WRAPPERS if wrapper == "any" else (wrapper,)):
        target = check / main
        if candidate is not None:
            target = check / "_wrapper.conf"
            target.write_text(candidate.format(f"include {check / main};"))
        result = subprocess.run([nginx, "-t", "-q", "-p", str(check), "-c", str(target)],
                                capture_output=True, text=True, timeout=60)
        output = result.stderr
        if result.returncode == 0:
            return True, output, candidate
    return False, output, None


@pytest.fixture(scope="module")
def cert(tmp_path_factory):
    openssl = require_binary("openssl")
    directory = tmp_path_factory.mktemp("cert")
    cert_path, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run([openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost",
                    "-keyout", str(key), "-out", str(cert_path)], check=True, capture_output=True, timeout=60)
    return str(cert_path), str(key)


@pytest.mark.parametrize("tree", TREES, ids=lambda t: t.label)
def test_fixes_keep_a_config_nginx_accepts_and_add_no_finding(tmp_path, tree, cert):
    nginx = require_binary("nginx")
    root = tmp_path / "tree"
    tree.write(root)
    main = str(root / tree.main)
    version = installed_nginx_version()
    accepted_before, _, wrapper = nginx_t(nginx, root, tree.main, cert)
    gunicorn_conf = root / "gunicorn.conf.py"
    app_before = gunicorn_conf.read_text() if gunicorn_conf.exists() else None
    app_ok_before = gunicorn_check(gunicorn_conf)[0] if app_before is not None else False
    before, _ = apply.lint_with_contexts([main], select=["ALL"], nginx_version=version)
    run = apply.fix_in_place([main], unsafe=True, select=["ALL"], nginx_version=version)
    internal = [reason for plan in run.plans for _, reason in plan.unfixable if reason.startswith("internal error")]
    assert not internal, internal
    if accepted_before:
        accepted_after, output, _ = nginx_t(nginx, root, tree.main, cert, wrapper)
        assert accepted_after, f"{tree.label}: nginx -t passed before --fix and fails after:\n{output}"
    if app_before is not None and gunicorn_conf.read_text() != app_before:
        compile(gunicorn_conf.read_text(), str(gunicorn_conf), "exec")
        if app_ok_before:
            ok, output = gunicorn_check(gunicorn_conf)
            assert ok, f"{tree.label}: gunicorn --check-config fails after --fix:\n{output}"
    counts_before = collections.Counter(f.rule for f in before.findings)
    counts_after = collections.Counter(f.rule for f in run.result.findings)
    grown = {rule: (counts_before.get(rule, 0), n) for rule, n in counts_after.items() if n > counts_before.get(rule, 0)}
    assert not grown, f"{tree.label}: rules that report more after --fix: {grown}"
    again = apply.fix([main], unsafe=True, select=["ALL"], nginx_version=version)
    assert not again.edits, f"{tree.label}: --fix is not idempotent:\n{again.diff()}"
    assert not [reason for _, reason in again.unfixable if reason.startswith("internal error")]


@pytest.mark.parametrize("tree", TREES, ids=lambda t: t.label)
def test_every_directive_of_the_model_is_found_in_its_text(tmp_path, tree):
    """The scanner fixes rely on reads each file as crossplane does: every directive of the
    model (in a file that parses) is located at its line, with its name."""
    from confgen.lint.fixes.edits import Unfixable
    from confgen.lint.fixes.nginx_source import Source

    tree.write(tmp_path)
    config = load_nginx(str(tmp_path / tree.main), nginx_version="1.22.1")
    broken = {p.file for p in config.problems if p.kind == "syntax-error"}
    sources: dict[str, Source] = {}
    missing = []
    for directive in config.walk():
        if directive.file in broken or directive.file.startswith("<") or not Path(directive.file).is_file():
            continue
        if directive.file not in sources:
            sources[directive.file] = Source(directive.file, Path(directive.file).read_text("utf-8"))
        try:
            statement = sources[directive.file].statement_for(directive)
        except Unfixable:
            # The blocks a snippet is placed under (http, server at line 1) are not in its text.
            if not (directive.is_block and directive.line == 1 and directive.name in ("http", "server", "location")):
                missing.append((directive.file, directive.line, directive.name))
            continue
        assert statement.opens == directive.is_block or directive.name.endswith("_by_lua_block")
    assert not missing, missing[:5]


def test_the_scanner_reads_tokens_and_lines_as_crossplane_does():
    """Token by token against crossplane's own lexer, on every tree and many seeded mutations of
    it (broken quotes, stray backslashes, ${...}): same values, same lines."""
    import crossplane.lexer

    from confgen.lint.fixes.nginx_source import Source

    texts = [text for tree in TREES for name, text in tree.files.items() if not name.endswith(".py")]
    rng = random.Random(15)
    texts += [mutate(text, rng)[0] for text in texts for _ in range(3)]
    compared = 0
    for text in texts:
        if "_by_lua" in text:
            continue  # Lua bodies: parse.py's own lexer, not crossplane's
        try:
            expected = [(token, line) for token, line, quoted in crossplane.lexer._lex_file_object((text,))
                        if quoted or not token.startswith("#")]
        except Exception:  # crossplane gives up on an unclosed quote at the end of the text
            continue
        found = [(token.value, token.line) for token, _ in Source("x", text)._tokens()]
        # crossplane drops a last token that never ends (an unclosed quote): a syntax error anyway.
        assert found[:len(expected)] == expected, next((f, e) for f, e in zip(found, expected) if f != e)
        assert len(found) - len(expected) in (0, 1)
        compared += 1
    assert compared > 100
