"""Include hazards through `confgen lint`: cycles, a glob over thousands of files, a directory,
/dev/zero, a FIFO, an unreadable file, symlink loops. Each gives a finding or a one-line error,
within a time limit, and the big ones within a memory limit."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

import pytest

from confgen.nginx import parse as nginx_parse
from fuzz_support import REPO, assert_clean_exit, run_cli
from lint_helpers import run_without_read_override

FULL = "events {{}}\nhttp {{\n{body}\n}}\n"


def lint_tree(tmp_path: Path, files: dict[str, str], *extra: str, seconds: float = 10, main: str = "nginx.conf"):
    """(exit code, findings as dicts) of `confgen lint` on a tree written into tmp_path."""
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    outcome = run_cli(["lint", str(tmp_path / main), "--nginx-version", "1.22.1", "--format", "json", *extra],
                      seconds=seconds)
    assert_clean_exit(outcome, str(files)[:200])
    findings = json.loads(outcome.result.stdout) if outcome.result.exit_code != 2 else []
    return outcome.result.exit_code, findings


def rules(findings) -> list[str]:
    return [f["rule"] for f in findings]


def errors(findings) -> list:
    """Parse problems: an unreadable include or too many files is reported as CG001 syntax-error
    (nginx itself would refuse to start), cycles and missing files by their own rules."""
    return [f for f in findings if f["severity"] == "error" and f["code"] < "CG010"]


def test_a_cycle_of_two_files_is_a_finding_at_the_include_that_closes_it(tmp_path):
    code, findings = lint_tree(tmp_path, {
        "nginx.conf": FULL.format(body="include a.conf;"),
        "a.conf": "gzip on;\ninclude b.conf;\n",
        "b.conf": "gzip_comp_level 5;\ninclude a.conf;\n",
    })
    cycles = [f for f in findings if f["rule"] == "include-cycle"]
    assert code == 1 and len(cycles) == 1
    assert (Path(cycles[0]["file"]).name, cycles[0]["line"]) == ("b.conf", 2)


@pytest.mark.parametrize("include", ["nginx.conf", "*.conf", "./nginx.conf", "sub/../nginx.conf"])
def test_a_file_that_includes_itself_is_a_finding(tmp_path, include):
    (tmp_path / "sub").mkdir()
    code, findings = lint_tree(tmp_path, {"nginx.conf": FULL.format(body=f"include {include};")})
    assert code == 1 and rules(findings).count("include-cycle") == 1


def test_a_glob_over_thousands_of_files_is_bounded_in_time_and_memory(tmp_path):
    count = 2000
    conf_d = tmp_path / "conf.d"
    conf_d.mkdir()
    for number in range(count):
        (conf_d / f"{number:05}.conf").write_text(
            f"server {{\n    listen {10000 + number};\n    server_name s{number}.example;\n"
            f"    location / {{ proxy_pass http://127.0.0.1:{20000 + number}; }}\n}}\n")
    size = sum(p.stat().st_size for p in conf_d.iterdir())
    tracemalloc.start()
    started = time.monotonic()
    try:
        code, findings = lint_tree(tmp_path, {"nginx.conf": FULL.format(body="include conf.d/*.conf;")}, seconds=60)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    elapsed = time.monotonic() - started
    print(f"\n{count} included files ({size} bytes): {elapsed:.2f}s, peak {peak / 2**20:.1f} MiB traced")
    assert code in (0, 1) and "include-not-found" not in rules(findings)
    assert peak < 100 * size  # the model of a config, not copies per file or per rule


def test_more_files_than_the_limit_stop_with_a_finding(tmp_path, monkeypatch):
    """The real limit is 10 000 files; 300 over a limit of 200 shows the same path in a second."""
    monkeypatch.setattr(nginx_parse, "MAX_FILES", 200)
    conf_d = tmp_path / "conf.d"
    conf_d.mkdir()
    for number in range(300):
        (conf_d / f"{number:03}.conf").write_text(f"server {{ listen {10000 + number}; }}\n")
    code, findings = lint_tree(tmp_path, {"nginx.conf": FULL.format(body="include conf.d/*.conf;")})
    assert code == 1 and [f["message"] for f in errors(findings) if "more than 200 files" in f["message"]]


def test_an_included_directory_is_a_finding(tmp_path):
    (tmp_path / "sites").mkdir()
    code, findings = lint_tree(tmp_path, {"nginx.conf": FULL.format(body="include sites;")})
    assert code == 1 and [f["line"] for f in errors(findings) if "directory" in f["message"]] == [3]


@pytest.mark.parametrize("special", ["fifo", "/dev/zero", "/dev/urandom", "/dev/stdin"])
def test_an_included_device_or_fifo_is_a_finding_never_read(tmp_path, special):
    target = special
    if special == "fifo":
        target = str(tmp_path / "pipe.conf")
        os.mkfifo(target)  # nobody writes to it: reading it would block for ever
    started = time.monotonic()
    code, findings = lint_tree(tmp_path, {"nginx.conf": FULL.format(body=f"include {target};")}, seconds=5)
    assert time.monotonic() - started < 5
    assert code == 1 and [f["line"] for f in errors(findings) if "not a regular file" in f["message"]] == [3]


@pytest.mark.parametrize("option", [None, "--root", "--gunicorn", "--gunicorn-cmd"])
def test_a_fifo_or_device_named_on_the_command_line_is_a_one_line_error(tmp_path, option):
    fifo = tmp_path / "pipe.conf"
    os.mkfifo(fifo)
    nginx = tmp_path / "nginx.conf"
    nginx.write_text(FULL.format(body=""))
    for special in (str(fifo), "/dev/zero"):
        args = {None: [special], "--root": [str(nginx), "--root", special],
                "--gunicorn": [str(nginx), "--gunicorn", special],
                "--gunicorn-cmd": [str(nginx), "--gunicorn-cmd", f"gunicorn -c {special} app:app"]}[option]
        outcome = run_cli(["lint", *args], seconds=5)
        assert_clean_exit(outcome, f"{option} {special}")
        assert outcome.result.exit_code == 2 and "not a regular file" in outcome.result.stderr


def test_symlink_loops_are_findings(tmp_path):
    (tmp_path / "self.conf").symlink_to("self.conf")        # ELOOP on open
    (tmp_path / "ping.conf").symlink_to("pong.conf")
    (tmp_path / "pong.conf").symlink_to("ping.conf")
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "loop").symlink_to("..")                # a directory loop under a glob
    (tmp_path / "d" / "x.conf").write_text("gzip on;\n")
    (tmp_path / "alias.conf").symlink_to("nginx.conf")       # the main file by another name
    body = "include self.conf;\ninclude ping.conf;\ninclude d/loop/d/loop/d/*.conf;\ninclude alias.conf;"
    code, findings = lint_tree(tmp_path, {"nginx.conf": FULL.format(body=body)})
    by_line = {f["line"]: f for f in errors(findings)}
    assert code == 1
    assert "symbolic links" in by_line[3]["message"] and "symbolic links" in by_line[4]["message"]
    assert by_line[6]["rule"] == "include-cycle"
    assert 5 not in by_line  # the glob through the loop finds x.conf once, as nginx would


def test_a_symlink_loop_as_the_main_file_is_a_one_line_error(tmp_path):
    (tmp_path / "nginx.conf").symlink_to("nginx.conf")
    outcome = run_cli(["lint", str(tmp_path / "nginx.conf")], seconds=5)
    assert_clean_exit(outcome, "main symlink loop")
    assert outcome.result.exit_code == 2


def _run_without_read_override(args: list[str]) -> subprocess.CompletedProcess:
    """`confgen lint` as a process that cannot read files whatever their mode."""
    return run_without_read_override([sys.executable, "-m", "confgen", "lint", *args], cwd=REPO,
                                     env={**os.environ, "PYTHONPATH": str(REPO)})


def test_an_unreadable_include_is_a_finding_and_an_unreadable_main_file_an_error(tmp_path):
    (tmp_path / "nginx.conf").write_text(FULL.format(body="include secret.conf;"))
    (tmp_path / "secret.conf").write_text("gzip on;\n")
    (tmp_path / "secret.conf").chmod(0)
    included = _run_without_read_override([str(tmp_path / "nginx.conf"), "--nginx-version", "1.22.1", "-q"])
    assert included.returncode == 1, included.stderr
    assert "secret.conf: cannot read: permission denied" in included.stdout
    assert "Traceback" not in included.stderr

    (tmp_path / "nginx.conf").chmod(0)
    main = _run_without_read_override([str(tmp_path / "nginx.conf")])
    assert main.returncode == 2 and main.stderr.count("\n") == 1 and "permission denied" in main.stderr


# ---------------------------------------------------------------------------------------------
# Includes the repository does not hold: provided by the deployment, a note and not an error.

POOLED_LOCATION = """events {{}}
http {{
    upstream app {{ server 127.0.0.1:8000; keepalive 16; }}
    server {{
        listen 80;
        location / {{
            {include}
            proxy_pass http://app;
        }}
    }}
}}
"""


@pytest.mark.parametrize("written", ["/run/confgen-test-absent/nginx-env.conf",
                                     "/etc/nginx/snippets/confgen-test-absent-ssl.conf"])
def test_an_absolute_include_outside_the_tree_and_not_on_this_machine_is_a_note(tmp_path, written):
    files = {"nginx.conf": POOLED_LOCATION.format(include=f"include {written};")}
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    from confgen.lint.engine import lint

    result = lint([str(tmp_path / "nginx.conf")], nginx_version="1.22.1")
    assert not [f for f in result.findings if f.rule == "include-not-found"]
    assert any(written in note and "provided by the deployment" in note for note in result.notes), result.notes
    # The include may set proxy_http_version and Connection: the rules about defaults are silent.
    assert not {"keepalive-needs-http11", "keepalive-connection-header"} & {f.rule for f in result.findings}
    # Without that include, the same defaults are reported.
    (tmp_path / "nginx.conf").write_text(POOLED_LOCATION.format(include=""))
    result = lint([str(tmp_path / "nginx.conf")], nginx_version="1.22.1")
    assert {"keepalive-needs-http11", "keepalive-connection-header"} <= {f.rule for f in result.findings}


def test_a_deployment_include_silences_only_its_own_scope(tmp_path):
    text = POOLED_LOCATION.format(include="include /run/confgen-test-absent/a.conf;").replace(
        "    }\n}\n", "        location /b/ { proxy_pass http://app; }\n    }\n}\n")
    (tmp_path / "nginx.conf").write_text(text)
    from confgen.lint.engine import lint

    result = lint([str(tmp_path / "nginx.conf")], nginx_version="1.22.1")
    http10 = [f for f in result.findings if f.rule == "keepalive-needs-http11"]
    assert len(http10) == 1 and "1 more" not in http10[0].message   # location /b/ only
    assert http10[0].line == text.splitlines().index("        location /b/ { proxy_pass http://app; }") + 1


def test_a_missing_include_in_a_directory_the_tree_ships_stays_an_error(tmp_path):
    code, findings = lint_tree(tmp_path, {
        "nginx.conf": POOLED_LOCATION.format(include=f"include {tmp_path}/snippets/gone.conf;"),
        "snippets/kept.conf": "",
    })
    assert code == 1 and rules(errors(findings)) == ["include-not-found"]
    code, findings = lint_tree(tmp_path, {"nginx.conf": POOLED_LOCATION.format(include="include snippets/gone.conf;")})
    assert code == 1 and rules(errors(findings)) == ["include-not-found"]


def test_a_deployment_include_does_not_fail_the_cli(tmp_path):
    code, findings = lint_tree(tmp_path, {"nginx.conf": (
        "events {}\nhttp {\n    include /run/confgen-test-absent/*.conf;\n"
        "    include /run/confgen-test-absent/env.conf;\n    server { listen 80; }\n}\n")})
    assert not errors(findings) and code in (0, 1)
