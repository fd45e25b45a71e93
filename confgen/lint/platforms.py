"""Whether nginx runs on a platform that starts it with its own open-file limit: Heroku's nginx
buildpack (a Procfile whose ``web`` process runs ``bin/start-nginx``) or Cloud Foundry's (an
app of a ``manifest.yml`` pushed with the nginx buildpack from the config's folder).

Their limits are not the 1024 a systemd service or a Docker 29 container starts with: a Heroku
Standard-1X dyno allows 10,000 open files (rust-lang/crates.io#2785), a Cloud Foundry instance
16,384 unless the operator changed it (cloud_controller_ng's ``instance_file_descriptor_limit``).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

from confgen.lint.containers import files_around

# The soft open-file limit each platform starts the web process with.
HEROKU_OPEN_FILES = 10_000
CLOUD_FOUNDRY_OPEN_FILES = 16_384
_HEROKU_NGINX = re.compile(r"^web:\s*(?:\S*/)?bin/start-nginx(?:-solo|-debug)?\b", re.M)
_MANIFEST_NAMES = ("manifest.yml", "manifest.yaml")


@dataclass(frozen=True)
class Platform:
    name: str
    open_files: int
    evidence: str        # "file:line" of what says nginx runs there


def hosting_platform(config_file: str) -> Platform | None:
    """The platform the files around ``config_file`` say runs this nginx, or None."""
    config_file = os.path.abspath(config_file)
    for path in files_around(config_file):
        name = os.path.basename(path)
        if name == "Procfile":
            found = _heroku(path)
        elif name in _MANIFEST_NAMES:
            found = _cloud_foundry(path, os.path.dirname(config_file))
        else:
            continue
        if found is not None:
            return found
    return None


def _heroku(path: str) -> Platform | None:
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            text = handle.read(64 * 1024)
    except OSError:
        return None
    match = _HEROKU_NGINX.search(text)
    if match is None:
        return None
    line = text.count("\n", 0, match.start()) + 1
    return Platform("Heroku's nginx buildpack", HEROKU_OPEN_FILES, f"{path}:{line}")


def _cloud_foundry(path: str, config_folder: str) -> Platform | None:
    """An application of the manifest pushed with the nginx buildpack from ``config_folder``."""
    import yaml

    from confgen.manifests.documents import Node

    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            root = Node(yaml.compose(handle), path)
    except (OSError, yaml.YAMLError):
        return None
    applications = root.get("applications")
    for application in applications.list() if applications is not None else []:
        buildpacks = application.get("buildpacks") or application.get("buildpack")
        names = [str(node.value) for node in buildpacks.list() or [buildpacks]] if buildpacks is not None else []
        if not any("nginx" in name.lower() for name in names):
            continue
        folder = application.text("path") or "."
        if os.path.normpath(os.path.join(os.path.dirname(path), folder)) == config_folder:
            return Platform("Cloud Foundry's nginx buildpack", CLOUD_FOUNDRY_OPEN_FILES, f"{path}:{application.line}")
    return None
