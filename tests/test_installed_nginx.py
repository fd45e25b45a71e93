"""The installed nginx is found and run with the os module alone (shutil and subprocess cost
~7 ms of every confgen lint's start-up): it must find what shutil.which finds and read what
subprocess.run reads."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time

import pytest

from confgen.nginx import versions


@pytest.mark.parametrize("path", [None, "", ":", "/nonexistent:/usr/bin", os.environ.get("PATH", ""),
                                  f"{os.path.dirname(sys.executable)}:/bin:/usr/sbin:/bin"])
@pytest.mark.parametrize("name", ["nginx", "sh", "python3", "no-such-program", "/usr/sbin/nginx", "/bin/sh",
                                  "./no-such-program", "/etc"])
def test_the_program_found_is_the_one_shutil_which_finds(monkeypatch, name, path):
    if path is None:
        monkeypatch.delenv("PATH", raising=False)
    else:
        monkeypatch.setenv("PATH", path)
    assert versions._which(name) == shutil.which(name)


def test_the_output_is_stdout_and_stderr():
    assert versions._output_of(["/bin/sh", "-c", "echo out; echo err >&2"], timeout=10) == "out\nerr\n"


def test_a_program_that_cannot_run_gives_none(tmp_path):
    script = tmp_path / "not-executable"
    script.write_text("#!/bin/sh\necho hi\n")
    assert versions._output_of([str(script)], timeout=10) is None
    assert versions._output_of([str(tmp_path / "missing")], timeout=10) is None


def _children_named(command: str) -> list[str]:
    """This process's children (running or zombies) whose command is ``command`` (Linux /proc)."""
    found = []
    for entry in os.listdir("/proc"):
        try:
            stat = open(f"/proc/{entry}/stat").read()
        except OSError:
            continue
        name, after = stat[stat.index("(") + 1:stat.rindex(")")], stat[stat.rindex(")") + 2:].split()
        if name == command and int(after[1]) == os.getpid():
            found.append(entry)
    return found


def test_a_program_still_running_after_the_timeout_is_killed_and_gives_none():
    if not os.path.isdir("/proc/self"):
        pytest.skip("needs /proc")
    started = time.monotonic()
    assert versions._output_of(["/bin/sh", "-c", "echo early; exec sleep 30"], timeout=0.3) is None
    assert time.monotonic() - started < 10
    assert _children_named("sleep") == []  # killed and reaped: not left running, nor a zombie


def test_the_installed_nginx_version_is_what_nginx_v_says():
    binary = shutil.which("nginx") or next((p for p in ("/usr/sbin/nginx", "/usr/local/sbin/nginx")
                                            if shutil.which(p)), None)
    if binary is None:
        pytest.skip("nginx is not installed")
    said = subprocess.run([binary, "-v"], capture_output=True, text=True, timeout=10)
    versions.installed_nginx_version.cache_clear()
    found = versions.installed_nginx_version()
    assert found is not None and f"nginx/{found}" in said.stderr + said.stdout
