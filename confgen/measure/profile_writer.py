"""The measured profile as YAML: the measured keys filled in, the rest from ``--profile`` (or the
starter profile ``confgen init`` writes), each measured value with a comment saying how it was
measured, and each key the log could not give saying which variables to add.

The result is validated against the profile schema before it is returned.
"""

from __future__ import annotations

import os
from typing import Any

import yaml

from confgen.measure.measurements import Measurement

# Keys no access log can give: without --profile they keep the starter profile's values.
NOT_IN_LOGS = ("cpus", "app.module", "app.kind")
STARTER_LABEL = "confgen init's starter profile"


def base_profile(profile_path: str | None) -> tuple[dict, str]:
    """(profile data, where it came from)."""
    from confgen.profile.loading import load_profile
    from confgen.render.rendering import starter_profile

    if profile_path:
        return dict(load_profile(profile_path).raw), profile_path
    text = starter_profile(name="app", cpus=os.cpu_count() or 1, kind="asgi", module="api.main:app",
                           file_name="measured.yaml")
    return yaml.safe_load(text), STARTER_LABEL


def measured_data(base: dict, results: list[Measurement]) -> dict:
    data = {key: (dict(value) if isinstance(value, dict) else value) for key, value in base.items()}
    for result in results:
        if result.in_profile and result.value is not None:
            _set(data, result.key, result.value)
    return data


def _set(data: dict, dotted: str, value: Any) -> None:
    *parents, last = dotted.split(".")
    for part in parents:
        data = data.setdefault(part, {})
    data[last] = value


def _get(data: dict, dotted: str) -> Any:
    for part in dotted.split("."):
        if not isinstance(data, dict) or part not in data:
            return None
        data = data[part]
    return data


def profile_text(base: dict, base_label: str, results: list[Measurement], *, header: list[str]) -> str:
    """The YAML text; ConfgenError (one line per problem) if the result breaks the schema."""
    from confgen.profile.loading import load_profile

    data = measured_data(base, results)
    load_profile(data, label="measured profile")
    comments: dict[str, str] = {}
    for result in results:
        if not result.in_profile:
            continue
        if result.value is not None:
            comments[result.key] = result.how
        elif _get(data, result.key) is not None:
            add = f" (add {' '.join(result.missing)} to the log_format)" if result.missing else ""
            comments[result.key] = f"not measured: {result.how}{add}; from {base_label}"
    if base_label == STARTER_LABEL:
        for key in NOT_IN_LOGS:
            comments.setdefault(key, "not in an access log: confgen init's default, set it")
    lines = [f"# {line}" for line in header]
    for key, value in _schema_order(data).items():
        block = yaml.safe_dump({key: value}, sort_keys=False, default_flow_style=False, width=1000).splitlines()
        lines.extend(_annotate(block, key, comments))
    return "\n".join(lines) + "\n"


def _annotate(block: list[str], key: str, comments: dict[str, str]) -> list[str]:
    """Comments after the YAML lines of ``key`` (and of its nested keys one level down)."""
    out = []
    for line in block:
        stripped = line.strip()
        name = stripped.split(":", 1)[0]
        dotted = key if not line.startswith(" ") else f"{key}.{name}"
        comment = comments.get(dotted)
        if comment and ":" in stripped:
            line = f"{line}  # {comment}"
        out.append(line)
    return out


def _schema_order(data: dict) -> dict:
    """Top-level keys in the schema's order (a measured key the base lacked lands in its place)."""
    from confgen.profile.loading import profile_schema

    order = list(profile_schema()["properties"])
    return dict(sorted(data.items(), key=lambda item: order.index(item[0]) if item[0] in order else len(order)))
