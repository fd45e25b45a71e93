"""Planning, showing and writing fixes.

:func:`plan` asks each finding's fixer for its edits and keeps those that fit together (an edit
overlapping one already taken waits for the next pass); :func:`write` writes every changed file
at once, all old or all new, after checking none is a symlink, read-only, or changed since it
was read. ``confgen lint --fix`` repeats plan + write until nothing is left to fix (a fix can
make another rule's fix possible), at most :data:`MAX_PASSES` times, then lints once more.
"""

from __future__ import annotations

import collections
import dataclasses
import difflib
import os
from dataclasses import dataclass, field

from confgen.errors import ConfgenError
from confgen.lint.fixes.base import FIXERS, Fixer, FixContext
from confgen.lint.fixes.edits import Edit, Unfixable, apply_edits, overlaps

MAX_PASSES = 4


def load_fixers() -> dict[str, Fixer]:
    """Every fixer, by rule name (importing the fixer families registers them)."""
    import confgen.lint.fixes.gunicorn  # noqa: F401
    import confgen.lint.fixes.nginx  # noqa: F401
    import confgen.lint.fixes.pair  # noqa: F401
    return FIXERS


def finding_key(finding) -> tuple:
    """What identifies a finding across the engine and the project's adjustments (which may
    change its severity)."""
    return (finding.code, finding.file, finding.line, finding.message)


@dataclass
class FixPlan:
    edits: list[Edit] = field(default_factory=list)
    fixed: list = field(default_factory=list)                 # findings whose edits are in ``edits``
    unfixable: list[tuple[object, str]] = field(default_factory=list)
    unsafe: list = field(default_factory=list)                # fixable with --unsafe-fixes only
    deferred: list = field(default_factory=list)              # overlapped another fix: next pass
    originals: dict[str, str] = field(default_factory=dict)   # file -> its text when read

    def new_texts(self) -> dict[str, str]:
        by_file: dict[str, list[Edit]] = {}
        for edit in self.edits:
            by_file.setdefault(edit.file, []).append(edit)
        return {file: apply_edits(self.originals[file], edits) for file, edits in by_file.items()}

    def diff(self) -> str:
        chunks = []
        for file, new in sorted(self.new_texts().items()):
            chunks.extend(difflib.unified_diff(self.originals[file].splitlines(keepends=True),
                                               new.splitlines(keepends=True), fromfile=file, tofile=f"{file} (fixed)"))
            if chunks and not chunks[-1].endswith("\n"):
                chunks[-1] += "\n\\ No newline at end of file\n"
        return "".join(chunks)

    def fixable_keys(self) -> set[tuple]:
        return {finding_key(f) for f in self.fixed + self.deferred}


def plan(contexts: list[tuple[object, list]], wanted: list, *, unsafe: bool = False) -> FixPlan:
    """The edits that fix ``wanted`` findings (those the lint reports after project settings),
    each finding's fixer run on the context it was found in."""
    fixers = load_fixers()
    keys = {finding_key(f) for f in wanted}
    result = FixPlan()
    done: set[tuple] = set()
    texts: dict[str, str] = {}
    for ctx, findings in contexts:
        fx = FixContext(ctx, texts=texts)
        broken = next((p for p in ctx.nginx.problems if p.kind == "syntax-error"), None)
        for finding in findings:
            if broken is not None and finding.rule in fixers and finding_key(finding) in keys:
                # A file nginx cannot parse is not edited: where its statements are is a guess.
                result.unfixable.append((finding, f"{broken.file}:{broken.line}: a syntax error; fix it first"))
                continue
            key = finding_key(finding)
            if key not in keys or key in done or finding.rule not in fixers:
                continue
            done.add(key)
            entry = fixers[finding.rule]
            try:
                fix = entry.fn(fx, finding)
            except Unfixable as why:
                result.unfixable.append((finding, why.reason))
                continue
            except (ConfgenError, ValueError, LookupError, AttributeError, TypeError, RecursionError) as error:
                # A fixer's bug must not fail the lint that only asked which findings are fixable.
                result.unfixable.append((finding, f"internal error in the fixer: {type(error).__name__}: {error}"))
                continue
            if not fix.edits:
                result.unfixable.append((finding, "the fix found nothing to change"))
                continue
            if (entry.kind == "unsafe" or not fix.safe) and not unsafe:
                result.unsafe.append(finding)
                continue
            taken = {_place(e) for e in result.edits}
            new = list({_place(e): dataclasses.replace(e, rule=finding.rule)
                        for e in fix.edits if _place(e) not in taken}.values())
            if any(overlaps(a, b) for a in new for b in result.edits) or any(
                    overlaps(a, b) for i, a in enumerate(new) for b in new[i + 1:]):
                result.deferred.append(finding)
                continue
            result.edits.extend(new)
            result.fixed.append(finding)
    result.originals = {e.file: texts[e.file] for e in result.edits}
    return result


def _place(edit: Edit) -> tuple:
    """An edit without the rule that asked for it: two rules asking for one change make one edit."""
    return (edit.file, edit.start, edit.end, edit.new)


def check_writable(files: list[str]) -> None:
    """Refuse, before anything is written, what a fix must not write through: a symlink (the
    link would be replaced by a file), a read-only file or directory."""
    problems = []
    for file in files:
        if os.path.islink(file):
            problems.append(f"{file}: is a symbolic link to {os.path.realpath(file)}; not fixed "
                            f"(run --fix on the file it points to)")
        elif not os.access(file, os.W_OK) or not os.stat(file).st_mode & 0o222:
            # No write bit: read-only on purpose, even for root, who could write it anyway.
            problems.append(f"{file}: read-only (permission denied); not fixed")
        elif not os.access(os.path.dirname(os.path.abspath(file)), os.W_OK | os.X_OK):
            problems.append(f"{file}: its directory is read-only; not fixed")
    if problems:
        raise ConfgenError(*[p + "; nothing was written" for p in problems])


def write(fix_plan: FixPlan) -> list[str]:
    """Write the planned fixes: every changed file or none."""
    from confgen.files import write_files_atomically

    texts = fix_plan.new_texts()
    if not texts:
        return []
    check_writable(list(texts))
    written = write_files_atomically(texts, expected=fix_plan.originals)
    return [str(path) for path in written]


def lint_with_contexts(paths, **options):
    """``confgen.lint_project`` that also returns each config's context and findings."""
    from confgen.lint.project import lint_project

    contexts: list = []
    result = lint_project(paths, contexts=contexts, **options)
    return result, contexts


def fix(paths, *, unsafe: bool = False, **options) -> FixPlan:
    """The fixes for what linting ``paths`` finds, without writing anything."""
    result, contexts = lint_with_contexts(paths, **options)
    return plan(contexts, result.findings, unsafe=unsafe)


@dataclass
class FixRun:
    plans: list[FixPlan]
    result: object              # the lint after the last pass
    written: list[str]
    contexts: list = field(default_factory=list)  # of that lint, for what is still fixable

    @property
    def applied(self) -> int:
        return sum(len(p.fixed) for p in self.plans)


def fix_in_place(paths, *, unsafe: bool = False, **options) -> FixRun:
    """Fix, write, lint again; repeated while a pass fixes something (MAX_PASSES at most)."""
    plans, written = [], []
    result, contexts = lint_with_contexts(paths, **options)
    before = collections.Counter(f.rule for f in result.findings)
    for _ in range(MAX_PASSES):
        current = plan(contexts, result.findings, unsafe=unsafe)
        if not current.edits:
            break
        plans.append(current)
        written.extend(w for w in write(current) if w not in written)
        result, contexts = lint_with_contexts(paths, **options)
    # A fix must never leave a new finding behind; should one do so, say it (it is a bug).
    after = collections.Counter(f.rule for f in result.findings)
    grown = sorted(rule for rule, count in after.items() if count > before.get(rule, 0))
    if grown:
        result.notes.append(f"after --fix, {', '.join(grown)} report(s) more than before: a confgen bug, "
                            f"please report it with the config")
    return FixRun(plans, result, written, contexts)
