"""The configurations compared, and the app endpoints each is measured on.

Their names (the baseline, the references every ratio is taken against, the rendered one), the
files each pairs nginx with on the app side, and loading them: read from ``bench/configs/``, or,
for ``confgen``, rendered from the bench profile by ``confgen render`` as a user runs it.
"""

from __future__ import annotations

import os
import runpy
import subprocess
from dataclasses import dataclass
from pathlib import Path

from confgen.errors import ConfgenError

from .repo import CONFIGS_DIR, REPO_DIR, confgen_command, repo_env

BASELINE = "article-no-keepalive"
CONFIGURATIONS = ("article-no-keepalive", "article", "generator-style", "hand-tuned", "no-proxy",
                  "confgen")
# Every configuration's req/s is also given as a ratio to these (median of per-round ratios).
REFERENCES = (BASELINE, "hand-tuned", "no-proxy")
# The configuration whose app is reached by wrk directly: no nginx in front.
NO_PROXY = "no-proxy"
# The configuration ``confgen render`` writes at run time; with --ablate, the reference every
# variant is measured against.
RENDERED = "confgen"
ENDPOINTS = {"sync": "/sync", "async": "/async", "sized": "/sized"}
# The app side of the three non-confgen configurations (the article's pairing).
ARTICLE_GUNICORN_CONF = CONFIGS_DIR / "article-gunicorn.conf.py"
# The app side of hand-tuned and no-proxy.
HAND_TUNED_GUNICORN_CONF = CONFIGS_DIR / "hand-tuned-gunicorn.conf.py"
BENCH_PROFILE = CONFIGS_DIR / "bench-profile.yaml"


@dataclass(frozen=True)
class Configuration:
    name: str
    # None: no nginx; wrk talks to gunicorn, which then listens on 127.0.0.1 instead of a socket.
    nginx_conf_text: str | None
    gunicorn_conf: Path


def gunicorn_settings(path: Path) -> dict:
    """The module-level settings of a gunicorn config file, as gunicorn itself reads them: by
    executing it."""
    namespace = runpy.run_path(str(path))
    return {key: value for key, value in namespace.items() if not key.startswith("_")}


def write_bench_profile(destination: Path, *, app_socket: Path, options, layout_dir: Path) -> Path:
    """The bench profile with this run's load (clients = wrk's connections), CPUs and paths."""
    import yaml

    profile = yaml.safe_load(BENCH_PROFILE.read_text())
    profile["cpus"] = os.cpu_count() or 1
    profile["clients"] = options.connections
    profile["app"]["bind"] = str(app_socket)
    nginx = profile.setdefault("nginx", {})
    nginx.update({"pid": str(layout_dir / "nginx.pid"),
                  "error_log": str(layout_dir / "nginx-error.log"),
                  "http_port": 8080})
    if nginx.get("access_log", "") != "off":
        nginx["access_log"] = str(layout_dir / "access.log")
    destination.write_text(yaml.safe_dump(profile, sort_keys=False))
    return destination


def render_confgen(profile: Path, output_dir: Path) -> dict[str, str]:
    """``confgen render PROFILE -o DIR``, run as a user would run it."""
    output_dir.mkdir(parents=True, exist_ok=True)
    result = subprocess.run([*confgen_command(), "render", str(profile), "-o", str(output_dir)],
                            capture_output=True, text=True, cwd=REPO_DIR, env=repo_env())
    if result.returncode != 0:
        last = (result.stderr.strip() or result.stdout.strip() or "no output").splitlines()[-1]
        raise ConfgenError(f"confgen render {profile} failed (exit {result.returncode}): {last}")
    return {name: (output_dir / name).read_text() for name in ("nginx.conf", "gunicorn.conf.py")}


def load_configurations(names: list[str], workdir: Path, options, app_socket: Path
                        ) -> dict[str, Configuration]:
    configurations = {}
    for name in names:
        if name == RENDERED:
            profile = write_bench_profile(workdir / "bench-profile.yaml", app_socket=app_socket,
                                          options=options, layout_dir=workdir / RENDERED)
            rendered_dir = workdir / "confgen-rendered"
            files = render_confgen(profile, rendered_dir)
            configurations[name] = Configuration(name, files["nginx.conf"],
                                                 rendered_dir / "gunicorn.conf.py")
        elif name == NO_PROXY:
            configurations[name] = Configuration(name, None, HAND_TUNED_GUNICORN_CONF)
        else:
            gunicorn_conf = (HAND_TUNED_GUNICORN_CONF if name == "hand-tuned"
                             else ARTICLE_GUNICORN_CONF)
            configurations[name] = Configuration(name, (CONFIGS_DIR / f"{name}.conf").read_text(),
                                                 gunicorn_conf)
    return configurations
