"""uvicorn run on its own (not as a gunicorn worker): its options on a command line, or as
``UVICORN_*`` environment variables (click's auto_envvar_prefix, uvicorn/main.py)."""

from __future__ import annotations

from confgen.appserver.model import AppServer, Value
from confgen.appserver.options import Spec, number, parse

# uvicorn/config.py (0.55.0): Config(timeout_keep_alive=5, host="127.0.0.1", port=8000).
DEFAULT_KEEP_ALIVE_S = 5
SOURCE = "uvicorn's default, uvicorn/config.py timeout_keep_alive=5; https://www.uvicorn.org/settings/"

# uvicorn/config.py (0.55.0): forwarded_allow_ips None -> os.environ.get("FORWARDED_ALLOW_IPS",
# "127.0.0.1,::1"); proxy_headers=True wraps the app in ProxyHeadersMiddleware with that list.
DEFAULT_FORWARDED_ALLOW_IPS = "127.0.0.1,::1"
FORWARDED_ALLOW_IPS_VARIABLE = "FORWARDED_ALLOW_IPS"
FORWARDED_SOURCE = ("uvicorn's default, uvicorn/config.py forwarded_allow_ips = FORWARDED_ALLOW_IPS or "
                    "\"127.0.0.1,::1\"; https://www.uvicorn.org/settings/#http")

OPTIONS = {
    "--host": Spec("host"), "--port": Spec("port"), "--uds": Spec("uds"), "--fd": Spec("fd"),
    "--timeout-keep-alive": Spec("timeout_keep_alive"),
    "--proxy-headers": Spec("proxy_headers", False, True), "--no-proxy-headers": Spec("proxy_headers", False, False),
    "--forwarded-allow-ips": Spec("forwarded_allow_ips"), "--limit-concurrency": Spec("limit_concurrency"),
    "--workers": Spec("workers"),
}


def read(args: list[str], environ: dict[str, str | None], label: str, file: str | None, line: int) -> AppServer:
    found, _ = parse(args, OPTIONS)
    server = AppServer("uvicorn", label, file, line)
    for spec in {s.name: s for s in OPTIONS.values()}.values():
        variable = f"UVICORN_{spec.name.upper()}"
        if spec.name not in found and variable in environ:
            found[spec.name] = (environ[variable], variable)
    if "forwarded_allow_ips" not in found and FORWARDED_ALLOW_IPS_VARIABLE in environ:
        # Read by uvicorn's Config itself when no option sets it (uvicorn/config.py).
        found["forwarded_allow_ips"] = (environ[FORWARDED_ALLOW_IPS_VARIABLE], FORWARDED_ALLOW_IPS_VARIABLE)
    for name, (value, flag) in found.items():
        server.settings[name] = Value(value, f"{label} ({flag})", flag, line)
    keep = found.get("timeout_keep_alive")
    if keep is None:
        server.idle = Value(DEFAULT_KEEP_ALIVE_S, SOURCE, "--timeout-keep-alive")
    elif number(keep[0]) is not None:
        server.idle = Value(number(keep[0]), f"{label} ({keep[1]})", keep[1], line)
    if any(value is None for value, _ in found.values()):
        # A variable set where its value cannot be read (a Secret): what it governs stays unknown.
        server.notes.append(f"{label}: {', '.join(flag for value, flag in found.values() if value is None)} "
                            f"cannot be read here")
    if "uds" in found:
        server.binds = [f"unix:{found['uds'][0]}"] if found["uds"][0] is not None else []
    elif "fd" not in found:
        host, port = found.get("host", ("127.0.0.1",))[0], found.get("port", ("8000",))[0]
        server.binds = [f"{host}:{port}"] if host is not None and port is not None else []
    return server
