"""Project configuration: ``[tool.confgen]`` in pyproject.toml or a ``.confgen.toml``.

The nearest file up the directory tree wins, as with ruff: in each directory, ``.confgen.toml``
first, then a ``pyproject.toml`` that has a ``[tool.confgen]`` table. Paths inside are relative to
the file that names them. Command-line options override the file; the file overrides defaults.

```toml
[tool.confgen]
select = ["keepalive-needs-http11", "CG2"]        # names, codes or code prefixes
ignore = ["gzip-level-high"]
nginx-version = "1.26"
root = "deploy/nginx.conf"                          # main config when linting snippets
severity = { upstream-no-keepalive = "error" }
preset = "strict"                                   # default | strict (adds the hardening group)
per-file-ignores = { "deploy/legacy/*.conf" = ["worker-processes"] }
gunicorn = { "deploy/nginx.conf" = "deploy/gunicorn.conf.py", "deploy/worker.conf" = { cmd = "gunicorn -k gthread app:app" } }
profiles = { "deploy/profile.yaml" = "deploy" }     # profile -> output dir, for render-check
behind = "aws-alb"                                  # the balancer in front, or { name = "aws-alb", idle-timeout = 120 }

[tool.confgen.rules.gzip-level-high]                # a rule's thresholds (`confgen rule NAME`)
max-level = 7
```
"""

from __future__ import annotations

import fnmatch
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from confgen.errors import ConfgenError

SEVERITIES = ("error", "warning", "info")
# preset -> the rule groups it selects when ``select`` is not given.
PRESETS = {"default": ("default",), "strict": ("default", "hardening")}


class GunicornPairing(NamedTuple):
    config: Path | None = None
    cmd: str | None = None


@dataclass(frozen=True)
class ProjectConfig:
    path: Path | None = None
    select: tuple[str, ...] = ()
    ignore: tuple[str, ...] = ()
    severity: dict[str, str] = field(default_factory=dict)
    per_file_ignores: dict[str, tuple[str, ...]] = field(default_factory=dict)
    nginx_version: str | None = None
    root: Path | None = None
    gunicorn: dict[Path, GunicornPairing] = field(default_factory=dict)
    profiles: dict[Path, Path] = field(default_factory=dict)
    preset: str | None = None
    behind: Any = None                  # confgen.hops.Hop of the balancer in front, or None
    # rule name or code -> {option: value}; checked against the rules' declarations when linting.
    rules: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def default_select(self) -> tuple[str, ...]:
        """What runs when no ``--select`` is given: ``select``, else the preset's groups."""
        return self.select or PRESETS[self.preset or "default"]

    @property
    def key_prefix(self) -> str:
        """How errors about a key start: ``pyproject.toml: [tool.confgen] `` or ``.confgen.toml: ``."""
        if self.path is None:
            return ""
        return f"{self.path}: [tool.confgen] " if self.path.name == "pyproject.toml" else f"{self.path}: "

    def ignored_for(self, file: str | Path) -> tuple[str, ...]:
        """Rules ``per-file-ignores`` turns off for this file (globs relative to the config)."""
        base = self.path.parent if self.path else Path.cwd()
        try:
            relative = _real(file).relative_to(_real(base)).as_posix()
        except ValueError:
            relative = Path(file).as_posix()
        names: list[str] = []
        for pattern, rules in self.per_file_ignores.items():
            if fnmatch.fnmatch(relative, pattern) or fnmatch.fnmatch(Path(file).name, pattern):
                names.extend(rules)
        return tuple(names)

    def gunicorn_for(self, nginx_file: str | Path) -> GunicornPairing | None:
        """The app side ``gunicorn`` maps an nginx file to: by its path, else the first glob
        (relative to the config's directory) that matches it."""
        resolved = _real(nginx_file)
        for path, pairing in self.gunicorn.items():
            if _real(path) == resolved:
                return pairing
        base = _real(self.path.parent if self.path else Path.cwd())
        try:
            relative = resolved.relative_to(base).as_posix()
        except ValueError:
            return None
        for path, pairing in self.gunicorn.items():
            pattern = Path(path).relative_to(self.path.parent).as_posix() if self.path else str(path)
            if any(c in pattern for c in "*?[") and fnmatch.fnmatch(relative, pattern):
                return pairing
        return None

    def nginx_for(self, app_file: str | Path) -> list[str]:
        """The nginx files ``gunicorn`` maps to this gunicorn.conf.py or command file (globs
        expanded), for a lint given only the app side."""
        resolved = _real(app_file)
        found = []
        for path, pairing in self.gunicorn.items():
            if pairing.config is None or _real(pairing.config) != resolved:
                continue
            if any(c in str(path) for c in "*?["):
                found.extend(sorted(str(p) for p in Path(path).parent.glob(Path(path).name)))
            elif Path(path).is_file():
                found.append(str(path))
        return found


def _real(path: str | Path) -> Path:
    """The real path, without raising on a symlink loop (Path.resolve does): the file itself
    is reported later by the reader, as a finding or a one-line error."""
    return Path(os.path.realpath(path))


def find_project_config(start: str | Path | None = None) -> ProjectConfig:
    """The nearest configuration at or above ``start`` (a file or directory; default: cwd)."""
    directory = _real(start or Path.cwd())
    if not directory.is_dir():
        directory = directory.parent
    for folder in (directory, *directory.parents):
        dotfile = folder / ".confgen.toml"
        if dotfile.is_file():
            return load_project_config(dotfile)
        pyproject = folder / "pyproject.toml"
        if pyproject.is_file():
            table = _read_toml(pyproject).get("tool", {}).get("confgen")
            if table is not None:
                return _parse(table, pyproject, "[tool.confgen]")
    return ProjectConfig()


def load_project_config(path: str | Path) -> ProjectConfig:
    path = Path(path)
    document = _read_toml(path)
    if path.name == "pyproject.toml":
        return _parse(document.get("tool", {}).get("confgen", {}), path, "[tool.confgen]")
    return _parse(document, path, "")


def _read_toml(path: Path) -> dict[str, Any]:
    # Imported here, not at the top: a lint where no config file is found never needs a TOML
    # reader, and tomllib compiles its regular expressions when imported.
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - exercised on Python 3.10 only
        import tomli as tomllib

    try:
        with open(path, "rb") as handle:
            return tomllib.load(handle)
    except tomllib.TOMLDecodeError as error:
        raise ConfgenError(f"{path}: invalid TOML: {error}") from None
    except OSError as error:
        raise ConfgenError(f"{path}: cannot read: {error.strerror or error}") from None


_KEYS = ("select", "ignore", "severity", "per-file-ignores", "nginx-version", "root", "gunicorn", "profiles",
         "preset", "rules", "behind")


def _parse(table: Any, path: Path, where: str) -> ProjectConfig:
    prefix = f"{path}: {where + ' ' if where else ''}"
    if not isinstance(table, dict):
        raise ConfgenError(f"{prefix}expected a table")
    problems = []
    for key in table:
        if key not in _KEYS:
            import difflib

            guess = difflib.get_close_matches(key, _KEYS, n=1)
            hint = f"did you mean {guess[0]!r}?" if guess else f"known keys: {', '.join(_KEYS)}"
            problems.append(f"{prefix}unknown key {key!r}; {hint}")
    base = path.parent

    def strings(key: str) -> tuple[str, ...]:
        value = table.get(key, [])
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            problems.append(f"{prefix}{key}: expected a list of rule names or codes")
            return ()
        return tuple(value)

    def string_table(key: str) -> dict[str, Any]:
        value = table.get(key, {})
        if not isinstance(value, dict):
            problems.append(f"{prefix}{key}: expected a table")
            return {}
        return value

    severity = {}
    for rule, level in string_table("severity").items():
        if level not in SEVERITIES:
            problems.append(f"{prefix}severity.{rule}: {level!r} is not one of {', '.join(SEVERITIES)}")
        else:
            severity[rule] = level

    per_file_ignores = {}
    for pattern, rules in string_table("per-file-ignores").items():
        if isinstance(rules, str):
            rules = [rules]
        if not isinstance(rules, list) or not all(isinstance(r, str) for r in rules):
            problems.append(f"{prefix}per-file-ignores.{pattern}: expected a list of rule names or codes")
            continue
        per_file_ignores[pattern] = tuple(rules)

    gunicorn = {}
    for nginx_file, pairing in string_table("gunicorn").items():
        if isinstance(pairing, str):
            gunicorn[base / nginx_file] = GunicornPairing(config=base / pairing)
        elif isinstance(pairing, dict) and set(pairing) <= {"config", "cmd"} and pairing:
            gunicorn[base / nginx_file] = GunicornPairing(
                config=base / pairing["config"] if "config" in pairing else None, cmd=pairing.get("cmd"))
        else:
            problems.append(f"{prefix}gunicorn.{nginx_file}: expected a path or a table with config and/or cmd")

    profiles = {}
    for profile, output_dir in string_table("profiles").items():
        if not isinstance(output_dir, str):
            problems.append(f"{prefix}profiles.{profile}: expected an output directory")
            continue
        profiles[base / profile] = base / output_dir

    rules = {}
    for name, options in string_table("rules").items():
        if not isinstance(options, dict):
            problems.append(f"{prefix}rules.{name}: expected a table of options ([tool.confgen.rules.{name}])")
            continue
        rules[name] = dict(options)
    preset = table.get("preset")
    if preset is not None and preset not in PRESETS:
        problems.append(f"{prefix}preset: {preset!r} is not one of {', '.join(PRESETS)}")

    nginx_version = table.get("nginx-version")
    if nginx_version is not None and not isinstance(nginx_version, str):
        problems.append(f"{prefix}nginx-version: expected a string such as \"1.26\"")
    root = table.get("root")
    if root is not None and not isinstance(root, str):
        problems.append(f"{prefix}root: expected a path")

    behind = None
    if "behind" in table:
        from confgen.hops import balancer_hop

        declared = table["behind"]
        try:
            if isinstance(declared, str):
                behind = balancer_hop(declared, origin=f"{prefix}behind")
            elif isinstance(declared, dict) and isinstance(declared.get("name"), str) \
                    and set(declared) <= {"name", "idle-timeout"}:
                idle = declared.get("idle-timeout")
                if idle is not None and (isinstance(idle, bool) or not isinstance(idle, (int, float)) or idle <= 0):
                    problems.append(f"{prefix}behind.idle-timeout: expected a number of seconds, got {idle!r}")
                else:
                    behind = balancer_hop(declared["name"], idle_timeout=idle, origin=f"{prefix}behind")
            else:
                problems.append(f"{prefix}behind: expected a balancer name or a table with name and idle-timeout")
        except ConfgenError as error:
            problems.extend(error.lines)

    config = ProjectConfig(
        path=path,
        select=strings("select"),
        ignore=strings("ignore"),
        severity=severity,
        per_file_ignores=per_file_ignores,
        nginx_version=nginx_version if isinstance(nginx_version, str) else None,
        root=base / root if isinstance(root, str) else None,
        gunicorn=gunicorn,
        profiles=profiles,
        preset=preset if preset in PRESETS else None,
        rules=rules,
        behind=behind,
    )
    if problems:
        raise ConfgenError(*problems)
    return config
