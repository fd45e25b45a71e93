"""Planning, showing and writing fixes.

:func:`plan` takes the fixes the rules attached to their findings and keeps those that fit
together in one pass: an edit overlapping one already taken, or adding a directive another fix
adds to the same block, waits for the next pass. :func:`run` repeats lint + plan on the texts the
previous passes produced, in memory (:func:`confgen.files.overlaid`), until nothing is left to fix
(a fix can make another possible) or :data:`MAX_PASSES`; ``--diff`` shows its result and
``--fix`` writes it, all files or none, so the two always agree.
"""

from __future__ import annotations

import collections
import os
from dataclasses import dataclass, field

from confgen.errors import ConfgenError
from confgen.lint.fixes.base import FixContext
from confgen.lint.fixes.edits import Edit, Unfixable, apply_edits, overlaps

MAX_PASSES = 10


def finding_key(finding) -> tuple:
    """What identifies a finding across the engine and the project's adjustments (which may
    change its severity)."""
    return (finding.code, finding.file, finding.line, finding.message)


@dataclass
class FixPlan:
    """One pass: the edits that fit together, relative to ``originals``."""

    edits: list[Edit] = field(default_factory=list)
    fixed: list = field(default_factory=list)                 # findings whose edits are in ``edits``
    unfixable: list[tuple[object, str]] = field(default_factory=list)
    unsafe: list = field(default_factory=list)                # fixable with --unsafe-fixes only
    deferred: list = field(default_factory=list)              # conflicted with another fix: next pass
    originals: dict[str, str] = field(default_factory=dict)   # file -> its text when read

    def new_texts(self) -> dict[str, str]:
        by_file: dict[str, list[Edit]] = {}
        for edit in self.edits:
            by_file.setdefault(edit.file, []).append(edit)
        return {file: apply_edits(self.originals[file], edits) for file, edits in by_file.items()}

    def diff(self) -> str:
        return _diff(self.originals, self.new_texts())

    def fixable_keys(self) -> set[tuple]:
        return {finding_key(f) for f in self.fixed + self.deferred}


def plan(contexts: list[tuple[object, list]], wanted: list, *, unsafe: bool = False,
         texts: dict | None = None) -> FixPlan:
    """The edits that fix ``wanted`` findings (those the lint reports after project settings),
    each built on the context it was found in."""
    keys = {finding_key(f) for f in wanted}
    result = FixPlan()
    done: set[tuple] = set()
    texts = {} if texts is None else texts
    added: set[tuple] = set()
    for ctx, findings in contexts:
        fx = FixContext(ctx, texts=texts)
        broken = next((p for p in ctx.nginx.problems if p.kind == "syntax-error"), None)
        for finding in findings:
            key = finding_key(finding)
            if finding.fix is None or key not in keys or key in done:
                continue
            done.add(key)
            if broken is not None:
                # A file nginx cannot parse is not edited: where its statements are is a guess.
                result.unfixable.append((finding, f"{broken.file}:{broken.line}: a syntax error; fix it first"))
                continue
            if not finding.fix.safe and not unsafe:
                result.unsafe.append(finding)
                continue
            try:
                edits = finding.fix.edits(fx)
            except Unfixable as why:
                result.unfixable.append((finding, why.reason))
                continue
            except (ConfgenError, ValueError, LookupError, AttributeError, TypeError, RecursionError) as error:
                # A fix's bug must not fail the lint that only asked which findings are fixable.
                result.unfixable.append((finding, f"internal error in the fix: {type(error).__name__}: {error}"))
                continue
            if not edits:
                result.unfixable.append((finding, "the fix found nothing to change"))
                continue
            broken_manifest = _breaks_manifest(edits, texts)
            if broken_manifest:
                result.unfixable.append((finding, broken_manifest))
                continue
            taken = {_place(e) for e in result.edits}
            new = list({_place(e): _with_rule(e, finding.rule) for e in edits if _place(e) not in taken}.values())
            adds = set().union(*(e.adds() for e in new)) if new else set()
            if adds & added or any(overlaps(a, b) for a in new for b in result.edits) or any(
                    overlaps(a, b) for i, a in enumerate(new) for b in new[i + 1:]):
                result.deferred.append(finding)
                continue
            added |= adds
            result.edits.extend(new)
            result.fixed.append(finding)
    result.originals = {e.file: texts[e.file].text for e in result.edits}
    return result


def _breaks_manifest(edits: list[Edit], texts: dict) -> str | None:
    """Why the edits of one fix would break a Kubernetes manifest they touch, or None. The
    result must still be YAML with the same objects; edits inside a ConfigMap's values (an nginx
    fix in the pod's config) may change nothing but the ConfigMaps' data."""
    for file in {e.file for e in edits}:
        if not file.lower().endswith((".yaml", ".yml")):
            continue
        import yaml  # only a manifest pays for it

        old = texts[file].text
        mine = [e for e in edits if e.file == file]
        new = apply_edits(old, mine)
        try:
            values = _config_map_values(old)
            before, after = list(yaml.safe_load_all(old)), list(yaml.safe_load_all(new))
        except yaml.YAMLError:
            return f"{file}: the edit would leave YAML that does not parse: left alone"
        if all(any(start <= e.start and e.end <= end for start, end in values) for e in mine):
            if _without_config_data(before) != _without_config_data(after):
                return f"{file}: the edit would change more of the manifest than the value it is about: left alone"
        elif [_identity(d) for d in before] != [_identity(d) for d in after]:
            return f"{file}: the edit would change the manifest's objects: left alone"
    return None


def _config_map_values(text: str) -> list[tuple[int, int]]:
    """The spans of the ConfigMaps' data values in a manifest's text."""
    import yaml

    spans = []
    for root in yaml.compose_all(text, Loader=yaml.SafeLoader):
        if not isinstance(root, yaml.MappingNode):
            continue
        fields = {key.value: value for key, value in root.value if isinstance(key, yaml.ScalarNode)}
        kind, data = fields.get("kind"), fields.get("data")
        if isinstance(kind, yaml.ScalarNode) and kind.value == "ConfigMap" and isinstance(data, yaml.MappingNode):
            spans += [(value.start_mark.index, value.end_mark.index) for _, value in data.value]
    return spans


def _identity(document) -> tuple:
    metadata = document.get("metadata") if isinstance(document, dict) else None
    return (document.get("kind") if isinstance(document, dict) else None,
            metadata.get("name") if isinstance(metadata, dict) else None)


def _without_config_data(documents: list) -> list:
    return [{k: v for k, v in d.items() if k != "data"} if isinstance(d, dict) and d.get("kind") == "ConfigMap" else d
            for d in documents]


def _with_rule(edit: Edit, rule: str) -> Edit:
    import dataclasses

    return dataclasses.replace(edit, rule=rule)


def _place(edit: Edit) -> tuple:
    """An edit without the rule that asked for it: two rules asking for one change make one edit."""
    return (edit.file, edit.start, edit.end, edit.new)


def _diff(originals: dict[str, str], texts: dict[str, str]) -> str:
    from confgen.files import unified_diff

    return "".join(unified_diff(originals[file], new, file) for file, new in sorted(texts.items())
                   if new != originals[file])


# ---------------------------------------------------------------------------------------------
# Passes


@dataclass
class FixRun:
    """Every pass of fixes on the files, in memory until :func:`write`."""

    passes: list[FixPlan]
    result: object              # the lint of the fixed texts
    contexts: list              # of that lint, for what is still fixable
    originals: dict[str, str]   # file -> its text on disk before the first pass
    texts: dict[str, str]       # file -> its text after the last pass
    last: FixPlan               # the plan on the fixed texts: what is left (unsafe, unfixable)
    written: list[str] = field(default_factory=list)

    @property
    def applied(self) -> int:
        return sum(len(p.fixed) for p in self.passes)

    @property
    def fixed(self) -> list:
        return [finding for p in self.passes for finding in p.fixed]

    @property
    def edits(self) -> list[Edit]:
        """Every pass's edits, in order; each pass's are relative to the texts before it."""
        return [edit for p in self.passes for edit in p.edits]

    @property
    def unsafe(self) -> list:
        return self.last.unsafe

    @property
    def unfixable(self) -> list:
        return self.last.unfixable

    def changed(self) -> dict[str, str]:
        return {file: text for file, text in self.texts.items() if text != self.originals[file]}

    def new_texts(self) -> dict[str, str]:
        return self.changed()

    def diff(self) -> str:
        return _diff(self.originals, self.changed())


def lint_with_contexts(paths, **options):
    """``confgen.lint_project`` that also returns each config's context and findings."""
    from confgen.lint.project import lint_project

    contexts: list = []
    result = lint_project(paths, contexts=contexts, **options)
    return result, contexts


def run(paths, *, unsafe: bool = False, **options) -> FixRun:
    """Lint, plan, apply in memory, lint again, while a pass fixes something; nothing written."""
    from confgen.files import overlaid

    passes: list[FixPlan] = []
    originals: dict[str, str] = {}
    texts: dict[str, str] = {}
    result, contexts = lint_with_contexts(paths, **options)
    before = collections.Counter(f.rule for f in result.findings)
    current = plan(contexts, result.findings, unsafe=unsafe)
    for _ in range(MAX_PASSES):
        if not current.edits:
            break
        passes.append(current)
        for file, text in current.originals.items():
            originals.setdefault(file, text)
        texts.update(current.new_texts())
        with overlaid(texts):
            result, contexts = lint_with_contexts(paths, **options)
            current = plan(contexts, result.findings, unsafe=unsafe)
    # A fix must never leave a new finding behind; should one do so, say it (it is a bug).
    after = collections.Counter(f.rule for f in result.findings)
    grown = sorted(rule for rule, count in after.items() if count > before.get(rule, 0))
    if grown:
        result.notes.append(f"after --fix, {', '.join(grown)} report(s) more than before: a confgen bug, "
                            f"please report it with the config")
    return FixRun(passes, result, contexts, originals, texts, current)


def check_writable(files: list[str]) -> None:
    """Refuse, before anything is written, what a fix must not write through: a symlink (the
    link would be replaced by a file), a read-only file or directory."""
    from confgen.files import unwritable_reason

    problems = []
    for file in files:
        reason = unwritable_reason(file)
        if reason is not None:
            hint = " (run --fix on the file it points to)" if os.path.islink(file) else ""
            problems.append(f"{file}: {reason}; not fixed{hint}")
    if problems:
        raise ConfgenError(*[p + "; nothing was written" for p in problems])


def write(fixes) -> list[str]:
    """Write what a FixRun (or one FixPlan) changed: every changed file or none."""
    from confgen.files import write_files_atomically

    texts = fixes.new_texts()
    if not texts:
        return []
    check_writable(list(texts))
    written = write_files_atomically(texts, expected={file: fixes.originals[file] for file in texts})
    return [str(path) for path in written]


def fix(paths, *, unsafe: bool = False, **options) -> FixRun:
    """The fixes for what linting ``paths`` finds, every pass, without writing anything."""
    return run(paths, unsafe=unsafe, **options)


def fix_in_place(paths, *, unsafe: bool = False, **options) -> FixRun:
    """:func:`run`, then write the result."""
    fixes = run(paths, unsafe=unsafe, **options)
    fixes.written = write(fixes)
    return fixes
