"""Smoke test of bench/lint_speed.py: the generator makes a valid config and the table prints.
No timing is asserted: speed is the benchmark's business, not the suite's."""

from __future__ import annotations

import subprocess
import sys

import crossplane

from conftest import REPO

sys.path.insert(0, str(REPO / "bench"))

import lint_speed  # noqa: E402


def test_generated_config_parses_and_nginx_accepts_it(tmp_path, nginx_check):
    main = lint_speed.generate(tmp_path, 30)
    payload = crossplane.parse(str(main), comments=True, check_ctx=False, check_args=False)
    assert payload["status"] == "ok", payload["errors"]
    servers = [d for d in payload["config"][0]["parsed"][4]["block"] if d["directive"] == "server"]
    assert len(servers) == 30
    text = main.read_text().replace("include proxy_common.conf;", (tmp_path / "proxy_common.conf").read_text())
    text = text.replace("user www-data;", "").replace("/etc/ssl/", str(tmp_path) + "/")
    for index in range(0, 30, 3):
        (tmp_path / f"site{index}.pem").write_text("")
    ok, output = nginx_check(text.replace("ssl_certificate", "#ssl_certificate").replace("443 ssl", "443"))
    assert ok, output


def test_script_prints_the_table():
    result = subprocess.run([sys.executable, str(REPO / "bench" / "lint_speed.py"), "--sizes", "20,40", "--rounds", "1"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    rows = [line for line in result.stdout.splitlines() if line.startswith("| 20 |") or line.startswith("| 40 |")]
    assert len(rows) == 2
    assert all(len(row.split("|")) == 14 for row in rows)
