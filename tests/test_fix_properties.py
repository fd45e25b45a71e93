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
from fuzz_support import REPO, Tree, assert_only_named_directives_changed, corpus, mutate
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


def assert_patch_yields(diff: str, texts_before: dict[str, str], root: Path, copy: Path) -> None:
    """``patch`` applies ``diff`` to a copy of the files as they were, giving the files on disk."""
    if not diff:
        return
    for path, text in texts_before.items():
        target = copy / Path(path).relative_to(root)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(text.encode("utf-8"))
    relative = diff.replace(f"{root}/", "")  # patch refuses absolute names
    result = subprocess.run(["patch", "-p0", "--forward", "--batch", "--silent"], input=relative, capture_output=True, text=True,
                            cwd=copy, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    for path in texts_before:
        assert Path(path.replace(str(root), str(copy))).read_bytes() == Path(path).read_bytes(), path


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
    texts_before = {str(p): p.read_bytes().decode("utf-8") for p in root.rglob("*") if p.is_file()}
    preview = apply.run([main], unsafe=True, select=["ALL"], nginx_version=version)
    run = apply.fix_in_place([main], unsafe=True, select=["ALL"], nginx_version=version)
    internal = [reason for plan in run.passes for _, reason in plan.unfixable if reason.startswith("internal error")]
    assert not internal, internal
    # --diff shows what --fix writes: the same findings, and a diff that patch applies to exactly it.
    assert (preview.applied, preview.diff()) == (run.applied, run.diff())
    assert_patch_yields(preview.diff(), texts_before, root, tmp_path / "patched")
    assert_only_named_directives_changed(run, texts_before)
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
    """Each directive's span, read from the line and column the lexer recorded, holds its name
    and arguments, its block's braces where the model says (every file that parses)."""
    from confgen.nginx.positions import FileText

    tree.write(tmp_path)
    config = load_nginx(str(tmp_path / tree.main), nginx_version="1.22.1")
    broken = {p.file for p in config.problems if p.kind == "syntax-error"}
    texts: dict[str, FileText] = {}
    for directive in config.walk():
        if directive.file in broken or directive.file.startswith("<") or not Path(directive.file).is_file():
            continue
        if not directive.column:
            # Only the blocks a snippet is placed under (at line 1) are not in its text.
            assert directive.parent is None or (directive.line == 1 and directive.is_block) \
                or directive.name.startswith("\\\n"), directive
            continue
        if directive.file not in texts:
            texts[directive.file] = FileText(directive.file, Path(directive.file).read_text("utf-8"))
        text = texts[directive.file]
        span = text.span(directive)
        assert span.name.value == directive.name and text.line_of(span.start) == directive.line
        if directive.name != "if":  # nginx drops the parentheses around an if's condition
            assert [token.value for token in span.args] == list(directive.args), directive
        if directive.is_block and not directive.name.endswith("_by_lua_block"):
            assert text.text[span.end - 1] == "{" and text.text[span.close] == "}", directive


def test_the_lexer_places_every_token_at_its_text():
    """The offsets parse.lex derives from crossplane's tokens are exact: an unquoted token is its
    text, a quoted one spans its quotes, a Lua body its braces; on every tree and many seeded
    mutations of it (broken quotes, stray backslashes, ${...})."""
    from confgen.nginx.parse import lex

    texts = [text for tree in TREES for name, text in tree.files.items() if not name.endswith(".py")]
    rng = random.Random(15)
    texts += [mutate(text, rng)[0] for text in texts for _ in range(3)]
    compared = 0
    for text in texts:
        previous = 0
        try:
            for token, line, quoted, begin, end in lex(text):
                if begin >= len(text):
                    break  # the end-of-file sentinel
                assert previous <= begin <= end <= len(text)
                # Between two tokens only blanks (and the escaped newline that ends a comment).
                assert not text[previous:begin].replace("\\\n", "").strip() or begin == end
                if not quoted:
                    # (a backslash ending the text escapes the end-of-file sentinel into its token)
                    assert text[begin:end] == token or (begin == end and token == ";") \
                        or (end == len(text) and token.startswith(text[begin:end])), (token, text[begin:end])
                elif text[begin] in "\"'":
                    assert text[end - 1] == text[begin] and len(token) <= end - begin - 2
                else:
                    assert text[begin] == "{" and text[end - 1] == "}" and text[begin + 1:end - 1] == token
                assert text.count("\n", 0, begin) + 1 <= line + text[begin:end].count("\n")
                previous = end
        except Exception as error:  # an unclosed quote or Lua block: a syntax error the parser reports
            if type(error).__name__ not in ("NgxParserSyntaxError", "SyntaxProblem", "StopIteration", "RuntimeError"):
                raise
        compared += 1
    assert compared > 100
