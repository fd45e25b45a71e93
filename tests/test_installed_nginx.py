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


def _fake_nginx(folder, version: str, runs_log) -> None:
    script = folder / "nginx"
    script.write_text(f"#!/bin/sh\necho run >> {runs_log}\necho 'nginx version: nginx/{version}' >&2\n")
    script.chmod(0o755)


def _runs(runs_log) -> int:
    return len(runs_log.read_text().splitlines()) if runs_log.exists() else 0


def test_the_version_is_asked_once_per_binary_and_again_when_the_binary_changes(tmp_path, monkeypatch):
    bin_dir, runs_log = tmp_path / "bin", tmp_path / "runs"
    bin_dir.mkdir()
    monkeypatch.setenv("PATH", str(bin_dir))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("CONFGEN_NO_CACHE", raising=False)

    def asked() -> str | None:
        versions.installed_nginx_version.cache_clear()  # a new process each time
        return versions.installed_nginx_version()

    _fake_nginx(bin_dir, "1.25.3", runs_log)
    assert asked() == "1.25.3" and _runs(runs_log) == 1
    assert asked() == "1.25.3" and _runs(runs_log) == 1        # from the cache: nginx not run
    assert (tmp_path / "cache" / "confgen" / "nginx" / "version").is_file()

    _fake_nginx(bin_dir, "1.27.10", runs_log)                  # upgraded: another size and mtime
    assert asked() == "1.27.10" and _runs(runs_log) == 2

    monkeypatch.setenv("CONFGEN_NO_CACHE", "1")
    assert asked() == "1.27.10" and _runs(runs_log) == 3       # no cache: nginx is run every time


def test_a_corrupt_or_foreign_cache_entry_is_asked_again(tmp_path, monkeypatch):
    bin_dir, runs_log = tmp_path / "bin", tmp_path / "runs"
    bin_dir.mkdir()
    monkeypatch.setenv("PATH", str(bin_dir))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("CONFGEN_NO_CACHE", raising=False)
    _fake_nginx(bin_dir, "1.24.0", runs_log)
    entry = tmp_path / "cache" / "confgen" / "nginx" / "version"
    entry.parent.mkdir(parents=True)
    for text in ("garbage", f"{bin_dir / 'nginx'}\t1\t2\t3\t9.9.9\n", "\x00\x01"):
        entry.write_text(text)
        versions.installed_nginx_version.cache_clear()
        assert versions.installed_nginx_version() == "1.24.0"
    assert _runs(runs_log) == 3


# The real ones, taken before conftest's tls_library_unknown replaces them for each test.
INSTALLED_TLS_LIBRARY, INSTALLED_CIPHER_FAMILIES = versions.installed_tls_library, versions.installed_cipher_families


def _fake_nginx_v(folder, said: str) -> None:
    script = folder / "nginx"
    script.write_text("#!/bin/sh\n" + "".join(f"echo '{line}' >&2\n" for line in said.splitlines()))
    script.chmod(0o755)


def _fake_openssl(folder, runs_log, library: str, families: set[str], understood: bool = True) -> None:
    """An openssl command that runs with ``library`` and lists suites of ``families`` only."""
    listed = "|".join(f"{family}:*" for family in sorted(families)) or "no-family-at-all"
    answer = ('    echo "NULL-MD5                       SSLv3   Kx=RSA      Au=RSA   Enc=None  Mac=MD5"' if understood
              else '    echo "ciphers: Unknown option: -ciphersuites" >&2; exit 1')
    script = folder / "openssl"
    script.write_text(f"#!/bin/sh\necho \"$*\" >> {runs_log}\ncase \"$1\" in\n"
                      f"  version) echo 'OpenSSL {library} 25 Aug 2026 (Library: OpenSSL {library} 25 Aug 2026)' ;;\n"
                      f"  ciphers) case \"$5\" in\n    {listed})\n{answer} ;;\n"
                      f"    *) echo 'Error in cipher list'; echo 'error:0A0000B9:SSL routines:"
                      f"SSL_CTX_set_cipher_list:no cipher match:ssl_lib.c:2741:' >&2; exit 1 ;;\n  esac ;;\nesac\n")
    script.chmod(0o755)


def test_the_broken_cipher_families_are_asked_of_the_openssl_command_once_and_only_trusted_for_nginx_s_library(
        tmp_path, monkeypatch):
    bin_dir, runs_log = tmp_path / "bin", tmp_path / "runs"
    bin_dir.mkdir()
    monkeypatch.setenv("PATH", str(bin_dir))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("CONFGEN_NO_CACHE", raising=False)
    monkeypatch.setattr(versions, "installed_tls_library", INSTALLED_TLS_LIBRARY)
    debian = "nginx version: nginx/1.22.1\nbuilt with OpenSSL 3.0.22 25 Aug 2026\nTLS SNI support enabled"

    def asked(target=(1, 22, 1)):
        versions.installed_nginx_build.cache_clear()          # a new process each time
        versions._openssl_cipher_families.cache_clear()
        return INSTALLED_CIPHER_FAMILIES(target)

    try:
        _fake_nginx_v(bin_dir, debian)
        _fake_openssl(bin_dir, runs_log, "3.0.22", {"MD5", "eNULL", "aNULL"})
        assert asked() == {"MD5", "eNULL", "aNULL"}
        probes = runs_log.read_text().splitlines()
        assert probes[0] == "version" and len(probes) == 1 + len(versions.BROKEN_CIPHER_FAMILIES)
        assert "ciphers -v -ciphersuites  3DES:@SECLEVEL=0" in probes
        assert asked() == {"MD5", "eNULL", "aNULL"} and _runs(runs_log) == len(probes)   # from the cache
        assert asked((1, 24, 0)) is None                     # another nginx than the installed one
        # A build with enable-weak-ssl-ciphers (another binary): asked again.
        _fake_openssl(bin_dir, runs_log, "3.0.22", set(versions.BROKEN_CIPHER_FAMILIES))
        assert asked() == set(versions.BROKEN_CIPHER_FAMILIES) and _runs(runs_log) == 2 * len(probes)
        # An openssl command of another library than nginx's tells nothing about nginx's.
        _fake_openssl(bin_dir, runs_log, "3.0.13", {"MD5"})
        assert asked() is None
        # Neither does it for an nginx built with its own copy of OpenSSL.
        _fake_openssl(bin_dir, runs_log, "3.0.22", {"MD5"})
        assert asked() == {"MD5"}
        _fake_nginx_v(bin_dir, debian + "\nconfigure arguments: --with-openssl=../openssl-3.0.22 "
                                        "--with-openssl-opt=enable-weak-ssl-ciphers")
        assert asked() is None
        # An answer not understood (an openssl without -ciphersuites) is no answer, and not kept.
        _fake_nginx_v(bin_dir, debian)
        _fake_openssl(bin_dir, runs_log, "3.0.22", {"MD5"}, understood=False)
        assert asked() is None
        before = _runs(runs_log)
        assert asked() is None and _runs(runs_log) > before
    finally:
        versions.installed_nginx_build.cache_clear()
        versions._openssl_cipher_families.cache_clear()
