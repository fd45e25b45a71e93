"""An interrupted render leaves all old files or all new ones, never a mix, and no temp file."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import time

import pytest
import yaml

from conftest import MINIMAL_PROFILE

# Slows every fsync so the signal lands while files are being written and renamed.
DRIVER = textwrap.dedent(
    """
    import os, sys, time
    real_fsync = os.fsync
    def slow_fsync(fd):
        time.sleep(0.4)
        real_fsync(fd)
    os.fsync = slow_fsync
    sys.stdout.write("ready\\n"); sys.stdout.flush()
    from confgen.cli import run
    run(["render", sys.argv[1], "-o", sys.argv[2], "--force"])
    """
)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_signal_during_render(tmp_path, signum):
    out = tmp_path / "out"
    out.mkdir()
    (out / "nginx.conf").write_text("old nginx\n")
    (out / "gunicorn.conf.py").write_text("old gunicorn\n")
    profile = tmp_path / "profile.yaml"
    profile.write_text(yaml.safe_dump(MINIMAL_PROFILE))
    process = subprocess.Popen([sys.executable, "-c", DRIVER, str(profile), str(out)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert process.stdout.readline() == "ready\n"
    deadline = time.monotonic() + 30
    while not any(p.name.endswith(".tmp") for p in out.iterdir()):  # writing has begun
        assert time.monotonic() < deadline and process.poll() is None
        time.sleep(0.01)
    process.send_signal(signum)
    process.wait(timeout=30)
    names = sorted(p.name for p in out.iterdir())
    assert names == ["gunicorn.conf.py", "nginx.conf"], names
    nginx, gunicorn = (out / "nginx.conf").read_text(), (out / "gunicorn.conf.py").read_text()
    generations = {nginx == "old nginx\n", gunicorn == "old gunicorn\n"}
    assert len(generations) == 1, "one file is old and the other new"
    if nginx != "old nginx\n":
        assert nginx.startswith("# nginx.conf rendered by confgen") and nginx.rstrip().endswith("}")
    assert "Traceback" not in process.stderr.read()
