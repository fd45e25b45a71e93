"""Nothing lost: a render that fails part-way leaves every previous file byte-for-byte as it was
and no temp file behind; `render --check` and `render-check` never write. The old files here are
not confgen's, so the renders that write pass --force (tests/test_render_never_loses_a_file.py:
without it they are refused before any write).

test_render.py covers one full-disk case (the second fsync fails); here every step of the write
is made to fail in turn, and the read-only target is a real read-only mount where the system
allows one (root ignores file modes, so chmod alone cannot make a directory read-only for it)."""

from __future__ import annotations

import builtins
import errno
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from confgen.render import rendering
from confgen.cli import main
from conftest import MINIMAL_PROFILE, REPO

# Bytes no render would produce (not even valid UTF-8), so any rewrite would show.
OLD = {"nginx.conf": b"# old nginx \xff\xfe\n\x00keep me\n", "gunicorn.conf.py": b"# old gunicorn \xe9\nworkers = 1\n"}


@pytest.fixture
def target(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    for name, data in OLD.items():
        (out / name).write_bytes(data)
    (out / "unrelated.txt").write_bytes(b"not ours\n")
    profile = tmp_path / "profile.yaml"
    profile.write_text(yaml.safe_dump(MINIMAL_PROFILE))
    return out, profile


def snapshot(directory: Path) -> dict:
    """Every entry's bytes, mode and mtime (ns), and the directory's own mtime."""
    entries = {p.name: (p.read_bytes(), p.stat().st_mode, p.stat().st_mtime_ns) for p in sorted(directory.iterdir())}
    return {"entries": entries, "dir_mtime": directory.stat().st_mtime_ns}


def assert_untouched(directory: Path, before: dict) -> None:
    after = snapshot(directory)
    assert sorted(after["entries"]) == sorted(before["entries"]), "a file appeared or vanished (a temp file?)"
    for name, (data, mode, _) in before["entries"].items():
        assert after["entries"][name][:2] == (data, mode), f"{name} changed"


class _Counting:
    """Calls the real function, except the n-th call, which fails with ``code``."""

    def __init__(self, real, fail_on: int, code: int):
        self.real, self.fail_on, self.code, self.calls = real, fail_on, code, 0

    def __call__(self, *args, **kwargs):
        self.calls += 1
        if self.calls == self.fail_on:
            raise OSError(self.code, os.strerror(self.code))
        return self.real(*args, **kwargs)


def _full_disk_fdopen(room: int):
    real = os.fdopen

    def fdopen(fd, *args, **kwargs):
        stream = real(fd, *args, **kwargs)
        original_write = stream.write
        written = [0]

        def write(text):
            if written[0] + len(text) > room:
                original_write(text[: max(0, room - written[0])])
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            written[0] += len(text)
            return original_write(text)

        stream.write = write
        return stream

    return fdopen


# Each step of write_atomically, failing at its first and at its second call (second file).
STEPS = [
    ("tempfile.mkstemp", 1, errno.EROFS), ("tempfile.mkstemp", 2, errno.ENOSPC),
    ("os.fsync", 1, errno.EIO), ("os.fsync", 2, errno.ENOSPC),
    ("os.chmod", 1, errno.EPERM), ("os.chmod", 2, errno.EPERM),
    ("os.replace", 1, errno.EROFS),
    ("os.replace", 2, errno.EPERM),  # an immutable or busy second target: the first is put back
]


@pytest.mark.parametrize("step, call, code", STEPS)
def test_a_failure_at_any_step_leaves_every_old_file_and_no_temp_file(target, monkeypatch, step, call, code):
    out, profile = target
    before = snapshot(out)
    module_name, function = step.split(".")
    module = {"tempfile": tempfile, "os": os}[module_name]
    monkeypatch.setattr(module, function, _Counting(getattr(module, function), call, code))
    result = CliRunner().invoke(main, ["render", str(profile), "-o", str(out), "--force"])
    assert result.exit_code == 2 and result.exception is None or isinstance(result.exception, SystemExit)
    assert result.stderr.count("\n") == 1 and os.strerror(code) in result.stderr
    assert_untouched(out, before)


@pytest.mark.parametrize("room", [0, 100, 1000])
def test_a_full_disk_part_way_through_a_file_leaves_everything_as_it_was(target, monkeypatch, room):
    out, profile = target
    before = snapshot(out)
    monkeypatch.setattr(os, "fdopen", _full_disk_fdopen(room))
    result = CliRunner().invoke(main, ["render", str(profile), "-o", str(out), "--force"])
    assert result.exit_code == 2 and "No space left" in result.stderr and result.stderr.count("\n") == 1
    assert_untouched(out, before)


def _read_only_mount_available() -> bool:
    if os.geteuid() != 0 or not shutil.which("unshare") or not shutil.which("mount"):
        return False
    probe = subprocess.run(["unshare", "-m", "sh", "-c", "mount --bind -o ro / /mnt 2>/dev/null || exit 3"],
                           capture_output=True, timeout=30)
    return probe.returncode == 0


def test_a_read_only_target_directory_changes_nothing(target):
    """A real read-only directory: chmod for an ordinary user; for root (which ignores modes), a
    read-only bind mount in a private mount namespace, so nothing outside the test sees it."""
    out, profile = target
    before = snapshot(out)
    command = [sys.executable, "-m", "confgen", "render", str(profile), "-o", str(out), "--force"]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    if os.geteuid() != 0:
        out.chmod(0o555)
        try:
            result = subprocess.run(command, capture_output=True, text=True, timeout=60, env=env)
        finally:
            out.chmod(0o755)
    elif _read_only_mount_available():
        script = f'mount --bind -o ro "{out}" "{out}" && exec "$@"'
        result = subprocess.run(["unshare", "-m", "sh", "-c", script, "sh", *command],
                                capture_output=True, text=True, timeout=60, env=env)
    else:
        pytest.skip("running as root without a way to mount read-only")
    assert result.returncode == 2, result.stderr
    assert result.stderr.count("\n") == 1 and ("Read-only" in result.stderr or "Permission denied" in result.stderr)
    assert "Traceback" not in result.stderr
    assert_untouched(out, before)


def _forbid_writes(monkeypatch):
    """Any attempt to create, write, rename or delete a file fails the test."""
    def refuse(*args, **kwargs):
        raise AssertionError(f"a write was attempted: {args[:2]}")

    real_open = builtins.open
    real_os_open = os.open

    def guarded_open(file, mode="r", *args, **kwargs):
        if any(flag in mode for flag in "wax+"):
            refuse(file, mode)
        return real_open(file, mode, *args, **kwargs)

    def guarded_os_open(path, flags, *args, **kwargs):
        if flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND):
            refuse(path, flags)
        return real_os_open(path, flags, *args, **kwargs)

    for module, name in [(os, "replace"), (os, "rename"), (os, "unlink"), (os, "remove"), (os, "chmod"),
                         (tempfile, "mkstemp"), (tempfile, "NamedTemporaryFile"), (shutil, "copy")]:
        monkeypatch.setattr(module, name, refuse)
    monkeypatch.setattr(builtins, "open", guarded_open)
    monkeypatch.setattr(os, "open", guarded_os_open)


@pytest.mark.parametrize("state", ["stale", "missing-one", "missing-both", "current", "undecodable"])
def test_render_check_never_writes(target, state, monkeypatch):
    out, profile = target
    rendered = rendering.render_profile(profile)
    if state == "current":
        for name, text in rendered.items():
            (out / name).write_text(text)
    elif state == "stale":
        for name, text in rendered.items():
            (out / name).write_text(text.replace("keepalive", "keepalive_x"))
    elif state.startswith("missing"):
        (out / "nginx.conf").write_text("# stale\n")
        for name in (["gunicorn.conf.py"] if state == "missing-one" else list(OLD)):
            (out / name).unlink()
    before = snapshot(out)
    _forbid_writes(monkeypatch)
    result = CliRunner().invoke(main, ["render", str(profile), "-o", str(out), "--check"])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    # A file on disk that is not UTF-8 cannot be diffed: a one-line error, still no write.
    assert result.exit_code == {"current": 0, "undecodable": 2}.get(state, 1)
    assert snapshot(out) == before  # same bytes, modes, mtimes, listing, and directory mtime


def test_render_check_command_never_writes(target, monkeypatch):
    out, profile = target
    (out / "nginx.conf").write_text("# stale\n")
    (out / "gunicorn.conf.py").write_text("# stale\n")
    shutil.copy(profile, out / "profile.yaml")
    profile = out / "profile.yaml"  # render-check compares a profile with the files beside it
    monkeypatch.chdir(out.parent)
    before = snapshot(out)
    _forbid_writes(monkeypatch)
    result = CliRunner().invoke(main, ["render-check", str(profile)])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert result.exit_code == 1 and snapshot(out) == before
