"""Reading a server's command-line options: ``--name value``, ``--name=value``, ``-x value``,
flags without a value; the last one given wins (``append`` options collect every one)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Spec:
    name: str                # the server's own setting name (its config/env spelling)
    takes_value: bool = True
    value: object = True     # what a flag without a value sets
    append: bool = False


def parse(args: list[str], specs: dict[str, Spec]) -> tuple[dict[str, tuple[object, str]], list[str]]:
    """({setting: (value, flag as written)}, positional words). Unknown options are skipped
    (their value, if any, is taken as positional and left alone)."""
    found: dict[str, tuple[object, str]] = {}
    positional: list[str] = []
    index = 0
    while index < len(args):
        word = args[index]
        index += 1
        flag, inline = (word.split("=", 1) + [None])[:2] if word.startswith("--") else (word, None)
        spec = specs.get(flag)
        if spec is None:
            if not word.startswith("-"):
                positional.append(word)
            continue
        if spec.takes_value:
            if inline is None:
                if index >= len(args):
                    break
                inline = args[index]
                index += 1
            if spec.append:
                previous = found.get(spec.name, ([], flag))[0]
                found[spec.name] = ([*previous, inline], flag)
            else:
                found[spec.name] = (inline, flag)
        else:
            found[spec.name] = (spec.value, flag)
    return found, positional


def number(text: object) -> float | None:
    try:
        return float(str(text).strip())
    except ValueError:
        return None
