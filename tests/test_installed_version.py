"""confgen reads an installed distribution's version (gunicorn's: the default render target)
without importing importlib.metadata; it must answer what importlib.metadata answers."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from importlib import metadata

import pytest

from confgen.gunicorn.versions import _metadata_version, installed_version
from conftest import REPO


def _importlib_version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def test_every_installed_distribution_reads_as_importlib_metadata_reads_it():
    names = {dist.metadata["Name"] for dist in metadata.distributions()}
    assert "gunicorn" in names
    for name in sorted(names):
        for spelling in {name, name.lower(), name.upper(), name.replace("-", "_"), name.replace("_", "-")}:
            assert installed_version(spelling) == _importlib_version(spelling), spelling


def test_a_distribution_that_is_not_installed_is_none():
    assert installed_version("no-such-distribution-xyz") is None


def _run_with_path(tmp_path, name: str) -> str:
    probe = textwrap.dedent(f"""
        import sys
        sys.path[:0] = [{str(tmp_path)!r}]
        from importlib import metadata
        from confgen.gunicorn.versions import installed_version
        try:
            expected = metadata.version({name!r})
        except metadata.PackageNotFoundError:
            expected = None
        print(repr((installed_version({name!r}), expected)))
    """)
    return subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True,
                          env={**os.environ, "PYTHONPATH": str(REPO)}).stdout


@pytest.mark.parametrize("layout", [
    {"gunicorn-99.1.dist-info/METADATA": "Metadata-Version: 2.1\nName: gunicorn\nVersion: 99.1\n\nbody\nVersion: 1\n"},
    {"Gunicorn-99.2.dist-info/METADATA": "Name: Gunicorn\nSummary: x\n  folded\nVersion:   99.2  \n"},
    {"gunicorn-99.3.egg-info/PKG-INFO": "Name: gunicorn\nVersion: 99.3\n"},                          # importlib's
    {"gunicorn-99.4.dist-info/METADATA": "Name: gunicorn\nVersion: 99.4\n folded\n"},                # importlib's
    {"gunicorn-99.5.dist-info/METADATA": "Name: gunicorn\n", "gunicorn-99.6.dist-info/METADATA": "Version: 99.6\n"},
    {"gunicorn-99.7.dist-info/RECORD": ""},                                                         # no METADATA
])
def test_a_distribution_first_on_sys_path_reads_as_importlib_metadata_reads_it(tmp_path, layout):
    for relative, text in layout.items():
        (tmp_path / relative).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / relative).write_text(text)
    found, expected = eval(_run_with_path(tmp_path, "gunicorn"))
    assert found == expected


def test_the_version_header_is_read_as_the_email_parser_reads_it(tmp_path):
    path = tmp_path / "METADATA"
    path.write_text("Metadata-Version: 2.1\nName: x\nVersion: 1.2\n")
    assert _metadata_version(str(path)) == "1.2"
    path.write_text("Name: x\n\nVersion: 1.2\n")  # after the headers: the description
    assert _metadata_version(str(path)) is None
