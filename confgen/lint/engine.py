"""The rule engine: which rules run, inline suppressions, the snippet focus, and running them.

Rules register themselves with :mod:`confgen.lint.registry`; this module imports the families
(:mod:`confgen.lint.rules`), loads the inputs, runs what is selected on a
:class:`~confgen.lint.context.LintContext`, and applies suppressions and project settings.
"""

from __future__ import annotations

import contextlib
import dataclasses
import gc
import io
import os
import re
import sys
import tokenize
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

from confgen.errors import ConfgenError
from confgen.lint.context import LintContext
from confgen.project_config import PRESETS
from confgen.lint.registry import GROUPS, SEVERITIES, Finding, LintResult, Rule, lookup, registered

STDIN = "-"
STDIN_LABEL = "<stdin>"

# "confgen: disable=a,b -- reason" / "confgen: disable-file=a -- reason" inside a comment.
_SUPPRESSION_RE = re.compile(r"^\s*confgen:\s*(disable|disable-file)\s*=\s*(.*?)\s*$")


def _load_rule_modules() -> None:
    import confgen.lint.rules  # noqa: F401  (importing registers every rule family)


def all_rules() -> list[Rule]:
    """Every registered rule, in code order."""
    _load_rule_modules()
    return sorted(registered().values(), key=lambda r: r.code)


def get_rule(name_or_code: str) -> Rule:
    """A rule by kebab name or code (case-insensitive); ConfgenError when there is none."""
    found = find_rule(name_or_code)
    if found is None:
        raise ConfgenError(f"{name_or_code}: no such rule (rules are named like keepalive-needs-http11 "
                           f"or coded like CG101)")
    return found


def find_rule(name_or_code: str) -> Rule | None:
    _load_rule_modules()
    key = name_or_code.strip()
    return lookup(key)


# ---------------------------------------------------------------------------------------------
# Suppressions


@dataclass
class _Suppressions:
    """Which rule codes are switched off per file and per line, and the findings about the
    suppression comments themselves (no reason, unknown rule)."""

    per_file: dict[str, set[str]] = field(default_factory=dict)
    per_line: dict[tuple[str, int], set[str]] = field(default_factory=dict)
    problems: list[tuple[str, "_Comment", str]] = field(default_factory=list)  # (rule, the comment, msg)

    def covers(self, finding: Finding) -> bool:
        return (finding.code in self.per_file.get(finding.file, ())
                or finding.code in self.per_line.get((finding.file, finding.line), ()))

    def add_comment(self, file: str, line: int, match: re.Match, next_statement: int | None) -> None:
        """One suppression comment; ``next_statement`` is the line a comment on its own line
        covers (None for a comment after a statement)."""
        kind, rest = match.groups()
        comment = _Comment(file, line, "#" + match.string)
        names_part, _, reason = rest.partition("--")
        names = [n.strip() for n in names_part.split(",") if n.strip()]
        codes = set()
        for name in names:
            found = find_rule(name)
            if found is None:
                self.problems.append(("suppression-unknown-rule", comment,
                                      f"`confgen: {kind}` names {name!r}, which is not a rule; nothing is suppressed by it"))
            else:
                codes.add(found.code)
        if not names:
            self.problems.append(("suppression-unknown-rule", comment,
                                  f"`confgen: {kind}=` names no rule"))
        if not reason.strip():
            self.problems.append(("suppression-without-reason", comment,
                                  f"`confgen: {kind}={','.join(names)}` gives no reason; add ` -- why` "
                                  f"so the next reader knows why the rule does not apply"))
        if kind == "disable-file":
            self.per_file.setdefault(file, set()).update(codes)
            return
        self.per_line.setdefault((file, line), set()).update(codes)
        if next_statement is not None:
            # A comment on its own line covers the next statement line (other comments between
            # them allowed), so a reason can run over several comment lines.
            self.per_line.setdefault((file, next_statement), set()).update(codes)


@dataclass(frozen=True)
class _Comment:
    """A suppression comment as a finding's anchor (not a ``(file, line)`` tuple): its ``name``
    (the comment from its ``#``) places the finding's column where the comment starts, also
    after a statement."""

    file: str
    line: int
    name: str
    column: int = 0


def _python_comments(path: str) -> dict[int, str]:
    """The ``#`` comments of a Python file (gunicorn.conf.py) by line, via tokenize, where one
    may be a suppression: a file whose text holds no ``confgen:`` has none, and is not tokenized
    (tokenize compiles its regular expressions on first use: ~2.5 ms of linting a pair)."""
    from confgen.files import overlaid_text

    stand_in = overlaid_text(path)
    try:
        if stand_in is not None:
            data = stand_in.encode("utf-8")
        else:
            with open(path, "rb") as handle:
                data = handle.read()
    except OSError:
        return {}
    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
        if "confgen:" not in data.decode(encoding):
            return {}
    except (SyntaxError, LookupError, UnicodeDecodeError):
        pass  # tokenize meets the same problem below, and keeps the comments before it
    comments: dict[int, str] = {}
    try:
        for token in tokenize.tokenize(io.BytesIO(data).readline):
            if token.type == tokenize.COMMENT:
                comments[token.start[0]] = token.string[1:]
    except (SyntaxError, tokenize.TokenError, UnicodeDecodeError):
        pass
    return comments


# ---------------------------------------------------------------------------------------------
# Selection


ALL = "ALL"


def resolve_rule_names(names: Iterable[str], option: str) -> set[str]:
    """Codes of the rules named by kebab names, codes, code prefixes such as ``CG1``, a group
    (``hardening``, ``default``) or ``ALL``; ConfgenError naming ``option`` for anything that
    matches no rule."""
    codes, unknown = set(), []
    rules = all_rules()
    for name in names:
        found = find_rule(name)
        if name.strip().upper() == ALL:
            codes.update(r.code for r in rules)
        elif name.strip().lower() in GROUPS:
            codes.update(r.code for r in rules if r.group == name.strip().lower())
        elif found is not None:
            codes.add(found.code)
        elif re.fullmatch(r"CG\d{0,2}", name.strip().upper()) and any(r.code.startswith(name.strip().upper()) for r in rules):
            codes.update(r.code for r in rules if r.code.startswith(name.strip().upper()))
        else:
            unknown.append(name)
    if unknown:
        raise ConfgenError(f"{option}: no such rule: {', '.join(unknown)} "
                           f"(rules are named like keepalive-needs-http11 or coded like CG101; "
                           f"groups: {', '.join(GROUPS)}, or ALL)")
    return codes


def _selected_rules(select: Iterable[str], ignore: Iterable[str]) -> list[Rule]:
    """``select`` (empty: the default group) minus ``ignore``; parse problems always run."""
    rules = all_rules()
    select = list(select) or list(PRESETS["default"])
    selected = resolve_rule_names(select, "--select")
    ignored = resolve_rule_names(ignore, "--ignore")
    unignorable = sorted(r.name for r in rules if r.always and r.code in ignored)
    if unignorable:
        raise ConfgenError(f"--ignore: {', '.join(unignorable)} cannot be ignored: a file that does not "
                           f"parse is not linted, so it must not pass")
    return [r for r in rules if r.always or (r.code in selected and r.code not in ignored)]


def check_rule_options(options: dict[str, Any] | None, label: str = "") -> dict[str, dict[str, Any]]:
    """``[tool.confgen.rules]`` checked against what each rule declares: rule name or code ->
    {option: value}, keyed by rule name. One line per problem, naming the file and key, for an
    unknown rule, an option the rule does not have, or a value of the wrong type or range."""
    where = label  # "pyproject.toml: [tool.confgen] ", or "" for options given in code
    checked: dict[str, dict[str, Any]] = {}
    problems = []
    for key, values in (options or {}).items():
        found = find_rule(key)
        if found is None:
            problems.append(f"{where}rules.{key}: no such rule")
            continue
        if not isinstance(values, dict):
            problems.append(f"{where}rules.{key}: expected a table of options")
            continue
        declared = {o.name: o for o in found.options}
        for name, value in values.items():
            if name not in declared:
                known = ", ".join(declared) or "none"
                problems.append(f"{where}rules.{key}.{name}: {found.name} has no option {name!r} "
                                f"(its options: {known})")
                continue
            problem = declared[name].check(value)
            if problem:
                problems.append(f"{where}rules.{key}.{name}: {problem}")
            else:
                checked.setdefault(found.name, {})[name] = float(value) if declared[name].type is float else value
    if problems:
        raise ConfgenError(*problems)
    return checked


# ---------------------------------------------------------------------------------------------
# Running


def lint(paths: list[str], *, gunicorn=None, gunicorn_cmd=None, profile=None, root=None,
         nginx_version=None, select=(), ignore=(), progress: Callable[[int, int, str], None] | None = None,
         rule_options: dict[str, Any] | None = None, options_label: str = "",
         contexts: list | None = None, mapped: Callable[[str], Any] | None = None,
         mapped_to: Callable[[str], list[str]] | None = None, behind=None) -> LintResult:
    """Lint nginx files (``"-"`` reads stdin), each tree with its own app side, and an optional
    profile. A gunicorn.conf.py or command file among ``paths`` stands for the nginx trees
    paired with it. ``mapped``/``mapped_to``: the project's pairing, from an nginx file to its
    app side and back (see confgen.lint.pairing). ``behind``: the balancer in front
    (confgen.hops.Hop), whose chain with nginx or, for an app linted alone, with the app is
    checked. ``select`` empty runs the default group;
    ``rule_options`` are ``[tool.confgen.rules]`` (``options_label`` starts their errors, e.g.
    ``"pyproject.toml: [tool.confgen] "``).

    ConfgenError for what the user must fix before linting can start: missing or unreadable
    files, a directory, an unknown rule name or option, a bad version or profile, --gunicorn
    given for several trees.
    """
    from confgen.lint.discovery import is_manifest
    from confgen.lint.pairing import Pairing, check_explicit, is_app_side, trees_of_app
    from confgen.nginx.versions import adopt_syntax_version

    if not paths:
        raise ConfgenError("confgen lint: give at least one nginx file (or - for stdin)")
    rules = _selected_rules(select, ignore)
    options = check_rule_options(rule_options, options_label)
    _check_version(nginx_version)
    _check_readable([p for p in paths if p != STDIN and not os.path.isdir(p)] + ([root] if root else [])
                    + ([gunicorn] if gunicorn else []))

    notes: list[str] = []
    paths = _expand_directories(paths, notes)
    nginx_paths: list[str] = []
    apps_alone: list[str] = []
    unpaired: list[str] = []   # app-side files no tree names as its own (a tree may reach one through compose)
    used: set[str] = set()     # the app-side files the trees were checked with
    manifests: list[str] = []
    for path in paths:
        if path != STDIN and is_manifest(path):
            manifests.append(path)
            continue
        if path == STDIN or not is_app_side(path):
            nginx_paths.append(path)
            continue
        trees = trees_of_app(path, mapped_to)
        if not trees and behind is not None:
            apps_alone.append(path)
        elif not trees:
            unpaired.append(path)
        nginx_paths.extend(trees)
    nginx_paths = list(dict.fromkeys(nginx_paths))
    pairing = Pairing(gunicorn=gunicorn, gunicorn_cmd=gunicorn_cmd, mapped=mapped)
    # A path is loaded here; render's self-check passes the Profile it rendered from.
    profile_obj = _load_profile(profile) if isinstance(profile, (str, os.PathLike)) else profile

    findings: list[Finding] = []
    files: list[str] = []
    with _collector_paused():
        configs = _load_configs(nginx_paths, root=root, progress=progress,
                                nginx_version=None if nginx_version is None else str(nginx_version))
        check_explicit(pairing, [config.main_file for config, _, _, _ in configs])
        for config, focus, stdin_text, given in configs:
            if config.main_file in config.unrendered:
                notes.extend(note for note in config.notes if note not in notes)   # says why: not linted
                continue
            if nginx_version is None:
                adopt_syntax_version(config)  # lint for the version the config's own syntax needs
            # One context per app the tree reaches (several services of one compose file).
            apps = pairing.apps_for_tree(config, given)
            # A line reported for one app is not reported again for the next (two replicas of one
            # service behind one upstream): one cause, one finding, one fix.
            reported: set[tuple] = set()
            for app in apps:
                used.update(_normal(source.path) for source in (getattr(app.config, "command", None),
                                                                getattr(app.server, "command", None)) if source)
                notes.extend(note for note in app.notes() if note not in notes)
                ctx = LintContext(config, app.config, profile_obj, gunicorn_label=app.label, options=options)
                ctx.app_server, ctx.app_hop, ctx.behind, ctx.app_hosts = app.server, app.hop(), behind, app.hosts
                ctx.other_app_hosts = tuple(host for other in apps if other is not app for host in other.hosts)
                ctx.other_app_binds = tuple(bind for other in apps if other is not app and not other.hosts
                                            for bind in other.bind_list())
                # The text of files not on this disk: a dump's parts, or the config given on stdin.
                texts = dict(config.texts)
                if stdin_text is not None and not texts:
                    texts[config.main_file] = stdin_text
                for file, text in texts.items():
                    ctx._lines.set_text(file, text)
                app_path = getattr(app.config, "path", None) or getattr(app.server, "file", None)
                tree_focus = focus | {_normal(app_path)} if focus is not None and app_path else focus
                found = [f for f in _run(ctx, rules, tree_focus)
                         if (f.file, f.line, f.col, f.code) not in reported]
                reported.update((f.file, f.line, f.col, f.code) for f in found)
                findings.extend(found)
                if contexts is not None:  # --fix: each config's context with its findings
                    contexts.append((ctx, found))
                files.extend(f for f in config.files if f not in files)
                if app_path and app_path not in files:
                    files.append(app_path)
                notes.extend(note for note in [*config.notes, *ctx.notes] if note not in notes)
        for path in unpaired:
            if _normal(path) not in used:
                notes.append(f"{path}: no nginx config is paired with it (none beside it, none mapped to it "
                             f"under [tool.confgen] gunicorn) and no balancer is declared in front (--behind): "
                             f"nothing to check it against")
        for chain in _manifest_chains(manifests, notes, [p for p in paths if p != STDIN and is_app_side(p)],
                                      nginx_version):
            ctx = _chain_context(chain, options, profile_obj, nginx_version)
            found = _run(ctx, rules, None)
            findings.extend(found)
            if contexts is not None:
                contexts.append((ctx, found))
            files.extend(f for f in (chain.anchor[0], chain.entry_where[0], *ctx.nginx.files) if f not in files)
            notes.extend(note for note in [*ctx.nginx.notes, *ctx.notes] if note not in notes)
        for path in apps_alone:
            try:
                ctx = _app_alone(path, pairing, behind, options, profile_obj, nginx_version)
            except ConfgenError as error:
                notes.append(f"not checked: {error}")
                continue
            found = _run(ctx, rules, None)
            findings.extend(found)
            if contexts is not None:
                contexts.append((ctx, found))
            files.append(path)
            notes.extend(note for note in ctx.notes if note not in notes)

    unique = list(dict.fromkeys(findings))
    order = {f: i for i, f in enumerate(files)}
    unique.sort(key=lambda f: (order.get(f.file, len(order)), f.file, f.line, f.col, f.code, f.message))
    return LintResult(findings=unique, files=files, notes=notes)


def _manifest_chains(paths: list[str], notes: list[str], app_files: list[str], nginx_version=None) -> list:
    """The chains Kubernetes manifests describe (Ingress/Service -> pods -> the app server); a
    container without a command runs the CMD of the Dockerfile among ``app_files`` that builds it.
    Such a Dockerfile is then paired: the note that it was not is dropped."""
    if not paths:
        return []
    from confgen.gunicorn import sources
    from confgen.manifests.chains import chains

    images = []
    for path in app_files:
        if sources.kind_of(path) == "dockerfile":
            try:
                images.append(sources.read_source(path))
            except ConfgenError:
                continue
    found = chains(paths, notes, images, None if nginx_version is None else str(nginx_version))
    used = {chain.image for chain in found if chain.image}
    notes[:] = [note for note in notes if not any(note.startswith(f"{path}: no nginx config is paired") for path in used)]
    if not found:
        notes.append(f"{len(paths)} manifest file(s): no Ingress or LoadBalancer Service reaching a Python app "
                     f"server in them")
    return found


def _chain_context(chain, options, profile, nginx_version) -> LintContext:
    """A manifest chain linted as a tree with its app: the pod's nginx (from a ConfigMap) with
    the app container it forwards to, else the app alone behind the ingress or balancer the
    manifests declare. The pod's shutdown is there for the rolling-update rule."""
    from confgen.nginx.model import Block, Directive, NginxConfig
    from confgen.nginx.parse import _target_version
    from confgen.nginx.versions import adopt_syntax_version

    file = chain.anchor[0]
    config = chain.nginx or NginxConfig(root=Directive("main", [], file, 0, None, Block()), main_file=file,
                                        nginx_version=_target_version(None if nginx_version is None
                                                                      else str(nginx_version)))
    if chain.nginx is not None and nginx_version is None:
        adopt_syntax_version(config)
    ctx = LintContext(config, chain.gunicorn, profile, gunicorn_label=f"{chain.workload} ({chain.container})",
                      options=options)
    ctx.app_server, ctx.app_hop, ctx.behind = chain.app_server, chain.app_hop, chain.front
    ctx.app_only = chain.nginx is None
    ctx.manifest_pod = chain.pod
    hops = [chain.entry] if chain.service else [f"{chain.entry} (nothing in the input routes to it)"]
    hops += [chain.service] if chain.service and chain.service != chain.entry else []  # a LoadBalancer Service is both
    hops += [f"nginx ({config.main_file})"] if chain.nginx is not None else []
    ctx.note(f"{' -> '.join(hops)} -> {chain.workload} container {chain.container}: "
             f"{chain.server or 'no app server read'}")
    for note in chain.notes:
        ctx.note(note)
    return ctx


def _expand_directories(paths: list[str], notes: list[str]) -> list[str]:
    """A directory stands for every nginx config and app-side file under it (a note says what
    was found); one that holds none of them is a usage error."""
    from confgen.lint.discovery import inputs_under

    expanded: list[str] = []
    for path in paths:
        if path == STDIN or not os.path.isdir(path):
            expanded.append(path)
            continue
        found = inputs_under(path)
        notes.extend(found.notes)
        if found.empty:
            raise ConfgenError(f"{path}: is a directory with no nginx config, app-server config or command "
                               f"file under it; give the nginx files themselves (e.g. {path}/*.conf)")
        notes.append(f"{path}: {len(found.nginx)} nginx file(s), {len(found.apps)} app-side file(s) and "
                     f"{len(found.manifests)} Kubernetes manifest file(s) found")
        expanded.extend(found.nginx + found.apps + found.manifests)
    return list(dict.fromkeys(expanded))


def _app_alone(path: str, pairing, behind, options, profile, nginx_version) -> LintContext:
    """The context of an app with no nginx in front, behind a declared balancer: an empty nginx
    model, the app's hop, and only the chain rules to run."""
    from confgen.nginx.model import Block, Directive, NginxConfig
    from confgen.nginx.parse import _target_version

    app = pairing.app_file(path)
    config = NginxConfig(root=Directive("main", [], path, 0, None, Block()), main_file=path,
                         nginx_version=_target_version(None if nginx_version is None else str(nginx_version)))
    ctx = LintContext(config, app.config, profile, gunicorn_label=app.label, options=options)
    ctx.app_server, ctx.app_hop, ctx.behind, ctx.app_only = app.server, app.hop(), behind, True
    for note in app.notes():
        ctx.note(note)
    return ctx


@contextlib.contextmanager
def _collector_paused():
    """Python's cycle collector paused while a lint runs. A lint builds a tree of hundreds of
    thousands of directives and frees none of it before it ends, so every full collection would
    walk the whole, growing tree again for nothing: on a 200 000-line config that made the time
    grow faster than the size. Whatever state the collector was in is restored afterwards."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def adjust_findings(result: LintResult, *, severity: dict[str, str], ignored_for: Callable[[str], Iterable[str]],
                    min_severity: str = "info", config_label: str = "") -> LintResult:
    """Project-level adjustments: per-rule severity overrides, per-file ignores, and a floor on
    each finding's own severity. Parse problems (``always`` rules) are never dropped or lowered:
    a file that did not parse was not linted and must not pass."""
    if min_severity not in SEVERITIES:
        raise ConfgenError(f"--min-severity: {min_severity!r} is not one of {', '.join(SEVERITIES)}")
    where = f"{config_label}: " if config_label else ""
    overrides: dict[str, str] = {}
    for name, level in severity.items():
        for code in resolve_rule_names([name], f"{where}severity"):
            overrides[code] = level
    floor = SEVERITIES.index(min_severity)
    ignored_cache: dict[str, set[str]] = {}
    kept = []
    for finding in result.findings:
        meta = find_rule(finding.code)
        if not meta.always:
            if finding.file not in ignored_cache:
                ignored_cache[finding.file] = resolve_rule_names(ignored_for(finding.file), f"{where}per-file-ignores")
            if finding.code in ignored_cache[finding.file]:
                continue
            if finding.code in overrides:
                finding = dataclasses.replace(finding, severity=overrides[finding.code])
            if SEVERITIES.index(finding.severity) > floor:
                continue
        kept.append(finding)
    return LintResult(findings=kept, files=result.files, notes=result.notes)


def _run(ctx: LintContext, rules: list[Rule], focus: set[str] | None) -> list[Finding]:
    wanted = {r.code for r in rules}
    suppressions = _collect_suppressions(ctx)
    found: list[Finding] = []

    for problem in ctx.nginx.problems:
        meta = find_rule(problem.kind) or get_rule("syntax-error")
        ctx.rule = meta
        found.append(ctx.finding((problem.file, problem.line), problem.message))
    if ctx.gunicorn is not None:
        ctx.rule = get_rule("gunicorn-config-error")
        silenced = sorted(r.name for r in rules if r.check is not None and "gunicorn" in r.needs) \
            if ctx.gunicorn.unreadable else []
        for line, message in ctx.gunicorn.problems:
            if silenced:
                message += f"; its settings are unknown, so these rules did not run: {', '.join(silenced)}"
            found.append(ctx.finding((ctx.gunicorn.path or ctx.gunicorn_label or "<gunicorn>", line), message))

    for file_rule, comment, message in suppressions.problems:
        ctx.rule = get_rule(file_rule)
        found.append(ctx.finding(comment, message))

    for candidate in rules:
        if candidate.check is None or not _requirements_met(candidate, ctx):
            continue
        if ctx.app_only and "chain" not in candidate.needs:
            continue
        ctx.rule = candidate
        found.extend(candidate.check(ctx))
    ctx.rule = None

    kept = []
    for finding in found:
        meta = find_rule(finding.code)
        if meta.always:
            kept.append(finding)
            continue
        if finding.code not in wanted or suppressions.covers(finding):
            continue
        if focus is not None and _normal(finding.file) not in focus:
            continue
        kept.append(finding)
    # A file included in several places is linted in each, but a problem at one of its lines is
    # one problem, fixed by one edit: reported once, as found first.
    unique: dict[tuple, Finding] = {}
    for finding in ctx.with_columns(kept):
        unique.setdefault((finding.file, finding.line, finding.col, finding.code), finding)
    return _tuning_as_notes(ctx, list(unique.values()))


def _tuning_as_notes(ctx: LintContext, findings: list[Finding]) -> list[Finding]:
    """In a development setup, throughput and capacity advice as notes (confgen.lint.development)."""
    from confgen.lint.development import TUNING_RULES, development_setup

    tuning = [f for f in findings if f.rule in TUNING_RULES]
    why = development_setup(ctx) if tuning else None
    if why is None:
        return findings
    for finding in tuning:
        ctx.note(f"{finding.file}:{finding.line}: {finding.rule}: {finding.message} (a note: {why}, a development "
                 f"setup)")
    return [f for f in findings if f.rule not in TUNING_RULES]


def _requirements_met(candidate: Rule, ctx: LintContext) -> bool:
    if "gunicorn" in candidate.needs and (ctx.gunicorn is None or ctx.gunicorn.unreadable):
        return False
    if "profile" in candidate.needs and ctx.profile is None:
        return False
    if "full" in candidate.needs and not ctx.nginx.is_full:
        return False
    return True


def _collect_suppressions(ctx: LintContext) -> _Suppressions:
    by_file = dict(ctx.nginx.comments or {})
    path = getattr(ctx.gunicorn, "path", None)
    if path and os.path.isfile(path):
        by_file[path] = _python_comments(path)
    suppressions = _Suppressions()
    for file, comments in by_file.items():
        matches = {line: match for line, text in comments.items() if (match := _SUPPRESSION_RE.match(text))}
        if not matches:
            continue
        next_statements = ctx._lines.next_statements(file, matches)
        for line, match in matches.items():
            suppressions.add_comment(file, line, match, next_statements.get(line))
    return suppressions


# ---------------------------------------------------------------------------------------------
# Inputs


def _normal(path: str) -> str:
    return path if path.startswith("<") else os.path.normcase(os.path.realpath(path))


def _check_version(nginx_version) -> tuple[int, int, int] | None:
    if nginx_version is None:
        return None
    from confgen.nginx.versions import parse_version

    try:
        return parse_version(str(nginx_version))
    except ValueError as error:
        raise ConfgenError(f"--nginx-version: {error}") from None


def _check_readable(paths: list[str]) -> None:
    problems = []
    for path in paths:
        if os.path.isdir(path):
            problems.append(f"{path}: is a directory; give the nginx files themselves (e.g. {path}/*.conf)")
        elif not os.path.exists(path):
            problems.append(f"{path}: no such file")
        elif not os.access(path, os.R_OK):
            problems.append(f"{path}: not readable (permission denied)")
    if problems:
        raise ConfgenError(*problems)


def _load_profile(path: str):
    from confgen.profile.loading import load_profile

    _check_readable([path])
    return load_profile(path)


def _load_configs(paths: list[str], *, root, nginx_version,
                  progress: Callable[[int, int, str], None] | None = None
                  ) -> list[tuple[Any, set[str] | None, str | None, str]]:
    """One nginx model per input that is not already part of another input's config, with the
    files to report on (None: all files of that config), for stdin the text read, and the path
    as given."""
    from confgen.nginx.parse import load_nginx

    loaded: list[tuple[Any, set[str] | None, str]] = []
    stdin_text = None
    unique_paths = list(dict.fromkeys(paths))
    for number, path in enumerate(unique_paths, 1):
        if progress is not None:
            progress(number, len(unique_paths), path)
        if path == STDIN:
            stdin_text = sys.stdin.read()
            config = load_nginx(stdin_text, nginx_version=nginx_version, root=root)
        else:
            config = load_nginx(path, nginx_version=nginx_version, root=root)
        focus = getattr(config, "focus_files", None)
        if root is not None or focus:
            focus_set = {_normal(f) for f in (focus or [])} | {_normal(config.main_file if path == STDIN else path)}
        else:
            focus_set = None
        loaded.append((config, focus_set, path))

    # `confgen lint nginx.conf conf.d/*.conf`: the snippets were already linted in place inside
    # nginx.conf; linting them again on their own would repeat findings without their context.
    # Files that include each other (a cycle) are both kept; equal findings are merged later.
    file_sets = [{_normal(f) for f in config.files} for config, _, _ in loaded]
    kept = []
    for index, (config, focus, path) in enumerate(loaded):
        own = _normal(path) if path != STDIN else None
        included_elsewhere = own is not None and focus is None and any(
            other != index and own in file_sets[other] and _normal(loaded[other][2]) not in file_sets[index]
            for other in range(len(loaded)) if loaded[other][2] != STDIN)
        if included_elsewhere:
            continue
        if own is not None and root is None and config.context != "main":
            config, focus = _in_place(config, path, nginx_version)
        kept.append((config, focus, stdin_text if path == STDIN else None, path))
    return kept


def _in_place(snippet, path: str, nginx_version) -> tuple[Any, set[str] | None]:
    """A snippet linted on its own: the file in its tree that includes it is found first, and
    the snippet linted in place there, with the values it inherits; else alone, with a note
    that names ``--root``."""
    from confgen.nginx.parse import find_includer, load_nginx

    includer = find_includer(path, nginx_version=nginx_version)
    if includer is None:
        snippet.notes.append(f"{path} is a snippet (written for a {snippet.context} block) and no file "
                             f"in its tree includes it: linted on its own; pass --root MAIN.conf to "
                             f"lint it with the values it inherits")
        return snippet, None
    config = load_nginx(path, nginx_version=nginx_version, root=includer)
    config.notes.append(f"{path} is included by {includer}: linted in place there, with the values it "
                        f"inherits (--root chooses another main file)")
    focus = {_normal(f) for f in (config.focus_files or [])} | {_normal(path)}
    return config, focus
