"""Smoke tests of the lint-speed benchmark: its generator makes valid, deterministic configs of the
asked size, and the script runs end to end in a tiny mode. No timing is asserted: speed is the
benchmark's business, not the suite's."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import crossplane

from conftest import REPO, require_binary

sys.path.insert(0, str(REPO / "bench"))

import gen_configs  # noqa: E402

SCRIPT = REPO / "bench" / "lint_speed.py"


def _server_blocks(main) -> int:
    payload = crossplane.parse(str(main), comments=False)
    assert payload["status"] == "ok", payload["errors"]
    http = next(d for d in payload["config"][0]["parsed"] if d["directive"] == "http")
    return sum(1 for d in http["block"] if d["directive"] == "server")


def test_generated_config_is_valid_for_crossplane_with_its_checks(tmp_path):
    config = gen_configs.generate(tmp_path, 30)
    tls_sites = len(range(0, 30, gen_configs.TLS_EVERY))
    # A TLS site also has its port-80 redirect server.
    assert _server_blocks(config.main) == 30 + tls_sites
    assert config.files[0] == config.main and all(path.exists() for path in config.files)
    assert config.lines == sum(path.read_text().count("\n") for path in config.files)
    assert config.bytes == sum(path.stat().st_size for path in config.files)


def test_real_nginx_accepts_the_generated_config(tmp_path, self_signed_cert):
    nginx = require_binary("nginx")
    fs_root = tmp_path / "fs"
    config = gen_configs.generate(tmp_path / "conf", 12, fs_root=fs_root)
    assert config.certificates
    cert, key = self_signed_cert
    for path in config.certificates:
        path.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(key if path.name == "privkey.pem" else cert, path)
    for directory in ("run", "var/log/nginx"):
        (fs_root / directory).mkdir(parents=True, exist_ok=True)
    result = subprocess.run([nginx, "-t", "-p", str(fs_root), "-c", str(config.main)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr


def test_generation_is_deterministic_per_seed(tmp_path):
    first = gen_configs.generate(tmp_path / "a", 20, seed=3).main.read_bytes()
    again = gen_configs.generate(tmp_path / "b", 20, seed=3).main.read_bytes()
    other = gen_configs.generate(tmp_path / "c", 20, seed=4).main.read_bytes()
    assert first == again
    assert first != other


def test_servers_for_lines_hits_the_target_closely(tmp_path):
    servers = gen_configs.servers_for_lines(5000)
    lines = gen_configs.generate(tmp_path, servers).lines
    assert abs(lines - 5000) / 5000 < 0.02


def test_script_prints_the_table_with_every_column():
    result = subprocess.run([sys.executable, str(SCRIPT), "--sizes", "10,40", "--repeat", "1"],
                            capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    header = next(line for line in lines if line.startswith("| servers |"))
    rows = [line for line in lines if line.startswith(("| 10 |", "| 40 |"))]
    assert len(rows) == 2
    assert all(len(row.split("|")) == len(header.split("|")) for row in rows)
    assert any(line.startswith("- 40 servers") for line in lines), "the linearity line is missing"
    # gixy may be skipped with a note; confgen and crossplane never.
    assert not any(line.startswith("- 10 servers, c") for line in lines), result.stdout


def test_script_json_reports_every_measurement():
    result = subprocess.run([sys.executable, str(SCRIPT), "--sizes", "10", "--repeat", "1", "--json",
                             "--skip", "gixy"], capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    (row,) = report["sizes"]
    assert row["servers"] == 10 and row["lines"] > 0 and row["bytes"] > 0
    assert set(row["tools"]) == {"crossplane", "confgen", "confgen-cli"}
    for tool in row["tools"].values():
        assert "note" not in tool, tool
        assert tool["seconds"] > 0 and tool["rss_peak_mb"] > 0
    assert row["tools"]["confgen"]["findings"] == row["tools"]["confgen-cli"]["findings"]
    assert report["ratios"][0]["confgen_over_crossplane"] > 0


def test_script_refuses_bad_sizes():
    result = subprocess.run([sys.executable, str(SCRIPT), "--sizes", "ten"], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 2
    assert "--sizes" in result.stderr and "Traceback" not in result.stderr


def test_gixy_is_not_started_where_it_would_surely_pass_its_timeout():
    import lint_speed

    def previous(gixy):
        return {"servers": 100, "lines": 1000, "tools": {"gixy": gixy}}

    assert lint_speed._gixy_hopeless(previous({"seconds": 10.0}), 4000, timeout=120) is None
    assert "at least 160 s" in lint_speed._gixy_hopeless(previous({"seconds": 10.0}), 16000, timeout=120)
    assert "already stopped" in lint_speed._gixy_hopeless(previous({"note": "stopped after 120 s"}), 1100, timeout=120)
