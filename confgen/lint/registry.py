"""The rule registry: findings, rules and their documentation.

A rule is a small generator function decorated with :func:`rule`; its docstring is its
documentation (summary, why, ``Bad:`` and ``Good:`` examples), read by
:mod:`confgen.lint.rule_doc` when first asked for, so docs, ``confgen rules`` and the tests never
drift from the code. The rule families import this module to register themselves; the engine
imports the families and runs what is registered, so neither imports the other.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any, Callable, Iterable

if TYPE_CHECKING:
    from confgen.lint.rule_doc import RuleDoc

SEVERITIES = ("error", "warning", "info")
# "chain": the rule reads only the hops of the chain (ctx.behind, ctx.app_hop), so it also runs
# for an app linted with no nginx in front.
NEEDS = ("gunicorn", "full", "profile", "chain")
# "default": on unless deselected; right essentially every time it fires. "hardening": advice
# that is defensible but debatable on real configs (measured on tests/corpus): opt in with
# ``--select hardening``, ``preset = "strict"`` or ``--select ALL``.
GROUPS = ("default", "hardening")

_CODE_RE = re.compile(r"^CG\d{3}$")
_NAME_RE = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")
_OPTION_NAME_RE = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")


# ---------------------------------------------------------------------------------------------
# Findings and results


@dataclass(frozen=True)
class Finding:
    code: str
    rule: str
    severity: str
    file: str
    line: int
    col: int
    message: str
    # The rule's repair, when it offers one (confgen.lint.fixes.base.Fix): not part of what the
    # finding is, so equal findings stay equal whether or not a fix is attached.
    fix: Any = field(default=None, compare=False, repr=False)

    def as_dict(self) -> dict[str, Any]:
        return {"code": self.code, "rule": self.rule, "severity": self.severity, "file": self.file,
                "line": self.line, "col": self.col, "message": self.message}


@dataclass
class LintResult:
    findings: list[Finding]
    files: list[str]
    notes: list[str] = field(default_factory=list)

    @property
    def has_problems(self) -> bool:
        """Anything at warning or above: what makes ``confgen lint`` exit 1."""
        return any(f.severity in ("error", "warning") for f in self.findings)

    def count(self, severity: str) -> int:
        return sum(1 for f in self.findings if f.severity == severity)


# ---------------------------------------------------------------------------------------------
# The registry


@dataclass(frozen=True)
class Option:
    """A rule's threshold a team may tune under ``[tool.confgen.rules.RULE-NAME]``: typed,
    bounded, with the default the rule uses when the project sets none."""

    name: str
    type: type                    # int, float, bool or str
    default: Any
    help: str
    minimum: float | None = None
    maximum: float | None = None

    def __post_init__(self):
        if not _OPTION_NAME_RE.match(self.name) or self.type not in (int, float, bool, str):
            raise ValueError(f"option {self.name!r}: kebab-case name and a type among int, float, bool, str")

    def check(self, value: Any) -> str | None:
        """Why ``value`` is not acceptable, or None. An int is a fine float; a bool is no number."""
        kinds = {int: "an integer", float: "a number", bool: "true or false", str: "a string"}
        if isinstance(value, bool) and self.type is not bool:
            return f"expected {kinds[self.type]}, got {value!r}"
        if self.type is float and not isinstance(value, (int, float)) or \
                self.type is not float and not isinstance(value, self.type):
            return f"expected {kinds[self.type]}, got {value!r}"
        if self.minimum is not None and value < self.minimum:
            return f"{value!r} is below the minimum {self.minimum:g}"
        if self.maximum is not None and value > self.maximum:
            return f"{value!r} is above the maximum {self.maximum:g}"
        return None

    def describe(self) -> str:
        bounds = ""
        if self.minimum is not None or self.maximum is not None:
            low = "" if self.minimum is None else f"{self.minimum:g}"
            high = "" if self.maximum is None else f"{self.maximum:g}"
            bounds = f", {low}..{high}"
        default = "none" if self.default is None else repr(self.default)
        return f"{self.name} ({self.type.__name__}{bounds}, default {default}): {self.help}"


@dataclass(frozen=True)
class Rule:
    code: str
    name: str
    severity: str
    needs: tuple[str, ...]
    check: Callable[..., Iterable[Finding]] | None  # fn(ctx: LintContext)
    # Findings the engine itself produces (parse problems): they cannot be deselected or
    # suppressed, because a file that did not parse was not linted and must never pass.
    always: bool = False
    group: str = "default"
    options: tuple[Option, ...] = ()

    def option(self, name: str) -> Option:
        for option in self.options:
            if option.name == name:
                return option
        raise KeyError(f"rule {self.name} declares no option {name!r}")

    @cached_property
    def doc(self) -> RuleDoc:
        # Parsed on first use, in a module of its own: `confgen lint` never shows documentation,
        # so it pays neither for the parsing nor for RuleDoc's class.
        from confgen.lint.rule_doc import parse_rule_doc

        return parse_rule_doc(self.check.__doc__ if self.check else "", self.name)


_RULES: dict[str, Rule] = {}
_BY_CODE: dict[str, Rule] = {}


def rule(*, code: str, name: str, severity: str, needs: tuple[str, ...] = (), always: bool = False,
         group: str = "default", options: Iterable[Option] = ()):
    """Register ``fn(ctx) -> Iterator[Finding]`` as a rule; the docstring is its documentation.
    ``group`` says whether it runs by default; ``options`` are its tunable thresholds."""
    if not _CODE_RE.match(code) or not _NAME_RE.match(name):
        raise ValueError(f"rule {name!r} ({code!r}): codes look like CG101, names like keepalive-needs-http11")
    if severity not in SEVERITIES or any(n not in NEEDS for n in needs) or group not in GROUPS:
        raise ValueError(f"rule {name}: severity must be one of {SEVERITIES}, needs among {NEEDS}, "
                         f"group one of {GROUPS}")
    options = tuple(options)

    def register(fn):
        if (name in _RULES and _RULES[name].code != code) or (code in _BY_CODE and _BY_CODE[code].name != name):
            raise ValueError(f"rule {name} ({code}) clashes with an already registered rule")
        registered = Rule(code=code, name=name, severity=severity, needs=tuple(needs), check=fn, always=always,
                          group=group, options=options)
        _RULES[name] = _BY_CODE[code] = registered
        fn.rule = registered
        return fn

    return register


def registered() -> dict[str, Rule]:
    """The rules registered so far, by name (the engine imports the rule families first)."""
    return _RULES


def lookup(name_or_code: str) -> Rule | None:
    """A registered rule by kebab name or code (case-insensitive)."""
    return _RULES.get(name_or_code.lower()) or _BY_CODE.get(name_or_code.upper())
