"""gunicorn command lines where they live (systemd, Procfile, Dockerfile, compose, supervisor,
scripts): read with the file and line they came from, paired automatically, and fixed in place."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

import confgen
from confgen.errors import ConfgenError
from confgen.gunicorn import sources
from confgen.lint.fixes import apply

POOLED_NGINX = ("upstream app { server 127.0.0.1:8000; keepalive 16; }\n"
                "server { location / { proxy_pass http://app; proxy_http_version 1.1; "
                "proxy_set_header Connection \"\"; } }\n")

SYSTEMD = """
    [Unit]
    Description=app

    [Service]
    Environment="GUNICORN_CMD_ARGS=--max-requests 1000"
    ExecStart=-/srv/venv/bin/gunicorn \\
        --workers 4 \\
        -k gthread --threads 4 \\
        --keep-alive=2 \\
        app:app
"""
CASES = {
    "app.service": (SYSTEMD, "systemd", 6,
                    {"workers": 4, "worker_class": "gthread", "threads": 4, "keepalive": 2, "max_requests": 1000}),
    "Procfile": ("web: gunicorn -k gthread --threads 2 app:app\nworker: celery -A app worker\n", "procfile", 1,
                 {"worker_class": "gthread", "threads": 2}),
    "Dockerfile": ('FROM python:3.11\nENV GUNICORN_CMD_ARGS="--timeout 90"\n'
                   'CMD ["gunicorn", "-k", "gthread", "--threads", "2", "app:app"]\n', "dockerfile", 3,
                   {"timeout": 90, "worker_class": "gthread", "threads": 2}),
    "docker-compose.yml": ("services:\n  web:\n    command: gunicorn -k gthread --threads 2 --keep-alive 5 app:app\n"
                           "    environment:\n      GUNICORN_CMD_ARGS: --max-requests 100\n", "compose", 3,
                           {"worker_class": "gthread", "threads": 2, "keepalive": 5, "max_requests": 100}),
    "supervisord.conf": ("[program:app]\ncommand=/srv/venv/bin/gunicorn -k gthread --threads 2\n"
                         "    --bind 127.0.0.1:8000 app:app\n", "supervisor", 2,
                         {"worker_class": "gthread", "threads": 2, "bind": ["127.0.0.1:8000"]}),
    "start.sh": ("#!/bin/sh\nset -e\npython manage.py migrate\nexec gunicorn -k gthread --threads 2 \\\n"
                 "  --keep-alive 4 app:app  # serve\n", "script", 4,
                 {"worker_class": "gthread", "threads": 2, "keepalive": 4}),
}


def write(path: Path, text: str) -> Path:
    path.write_text(textwrap.dedent(text).lstrip("\n") if text.startswith("\n") else text)
    return path


@pytest.mark.parametrize("name", sorted(CASES))
def test_each_kind_of_file_gives_its_command_with_file_and_line(tmp_path, name):
    text, kind, line, expected = CASES[name]
    source = sources.read_source(str(write(tmp_path / name, text)))
    assert (source.kind, source.line) == (kind, line)
    config = sources.config_from(source)
    assert {k: config.get(k) for k in expected} == expected
    assert config.command is source


def test_exec_form_and_a_start_script_the_dockerfile_runs(tmp_path):
    write(tmp_path / "start.sh", CASES["start.sh"][0])
    source = sources.read_source(str(write(tmp_path / "Dockerfile", 'FROM x\nCOPY start.sh /start.sh\nCMD ["/start.sh"]\n')))
    assert (source.kind, Path(source.path).name, source.line) == ("script", "start.sh", 4)


def test_systemd_at_prefix_makes_the_next_word_argv0(tmp_path):
    unit = write(tmp_path / "a.service", "[Service]\nExecStart=@/srv/bin/gunicorn gunicorn -w 3 app:app\n")
    assert sources.config_from(sources.read_source(str(unit))).get("workers") == 3


def test_compose_block_list_command(tmp_path):
    path = write(tmp_path / "compose.yaml", "services:\n  api:\n    command:\n      - gunicorn\n      - -k\n"
                                            "      - gthread\n      - app:app\n")
    source = sources.read_source(str(path))
    change = sources.option_edit(source, "keepalive", "65")
    fixed = source.text[:change.start] + change.new + source.text[change.end:]
    assert "      - gunicorn\n      - --keep-alive\n      - \"65\"\n      - -k\n" in fixed


def test_a_file_without_gunicorn_is_a_one_line_error(tmp_path):
    path = write(tmp_path / "Procfile", "worker: celery -A app worker\n")
    with pytest.raises(ConfgenError) as error:
        sources.read_source(str(path))
    assert str(error.value) == f"{path}: no gunicorn command found in this procfile file"


def test_gunicorn_option_reads_a_systemd_unit_instead_of_a_python_syntax_error(tmp_path):
    write(tmp_path / "nginx.conf", POOLED_NGINX)
    unit = write(tmp_path / "app.service", SYSTEMD)
    result = confgen.lint_project([str(tmp_path / "nginx.conf")], gunicorn=str(unit), nginx_version="1.22.1")
    assert "gunicorn-config-error" not in {f.rule for f in result.findings}
    assert "app-keepalive-race" in {f.rule for f in result.findings}
    assert any(f"{unit}:6" in note for note in result.notes)


@pytest.mark.parametrize("name", ["Procfile", "app.service", "docker-compose.yml", "supervisord.conf"])
def test_a_command_file_beside_the_nginx_file_is_paired_and_its_flag_fixed(tmp_path, name):
    write(tmp_path / "nginx.conf", POOLED_NGINX)
    command_file = write(tmp_path / name, CASES[name][0])
    before = command_file.read_text()
    result = confgen.lint_project([str(tmp_path / "nginx.conf")], nginx_version="1.22.1")
    assert "app-keepalive-race" in {f.rule for f in result.findings}, result.notes
    assert any(f"{command_file}:{CASES[name][2]}" in note for note in result.notes)
    run = apply.fix_in_place([str(tmp_path / "nginx.conf")], nginx_version="1.22.1", select=["app-keepalive-race"])
    assert "app-keepalive-race" not in {f.rule for f in run.result.findings}
    after = command_file.read_text()
    assert (tmp_path / "nginx.conf").read_text() == POOLED_NGINX
    changed = [(a, b) for a, b in zip(before.splitlines(), after.splitlines()) if a != b]
    assert len(changed) == 1 and "65" in changed[0][1]
    assert sources.config_from(sources.read_source(str(command_file))).get("keepalive") == 65


def test_a_setting_from_gunicorn_cmd_args_is_not_fixed_in_the_command(tmp_path):
    write(tmp_path / "nginx.conf", POOLED_NGINX)
    write(tmp_path / "supervisord.conf", "[program:app]\ncommand=gunicorn -k gthread --threads 2 app:app\n"
                                         "environment=GUNICORN_CMD_ARGS=\"--keep-alive 3\"\n")
    plan = confgen.fix([str(tmp_path / "nginx.conf")], nginx_version="1.22.1", select=["app-keepalive-race"])
    assert not plan.edits and [f.rule for f in plan.unsafe] == ["app-keepalive-race"]
    # What is left is the unsafe nginx side; the command and its environment stay as written.
    unsafe = confgen.fix([str(tmp_path / "nginx.conf")], nginx_version="1.22.1", select=["app-keepalive-race"],
                         unsafe=True)
    assert {e.file for e in unsafe.edits} == {str(tmp_path / "nginx.conf")}


def test_a_value_the_shell_would_expand_is_quoted_in_the_flag(tmp_path):
    write(tmp_path / "nginx.conf", "location / { proxy_pass http://unix:/run/app.sock; }\n")
    procfile = write(tmp_path / "Procfile", "web: gunicorn -k uvicorn_worker.UvicornWorker -b unix:/run/app.sock app:app\n")
    run = apply.fix_in_place([str(tmp_path / "nginx.conf")], select=["uvicorn-unix-forwarded"])
    assert procfile.read_text() == ("web: gunicorn --forwarded-allow-ips '*' -k uvicorn_worker.UvicornWorker "
                                    "-b unix:/run/app.sock app:app\n")
    assert sources.config_from(sources.read_source(str(procfile))).get("forwarded_allow_ips") == "*"
    assert "uvicorn-unix-forwarded" not in {f.rule for f in run.result.findings}


def test_an_inline_flag_value_is_replaced_inside_its_word(tmp_path):
    write(tmp_path / "nginx.conf", POOLED_NGINX)
    procfile = write(tmp_path / "Procfile", "web: gunicorn --worker-class=gthread --threads=2 --keep-alive=5 app:app\n")
    apply.fix_in_place([str(tmp_path / "nginx.conf")], select=["app-keepalive-race"], nginx_version="1.22.1")
    assert procfile.read_text() == "web: gunicorn --worker-class=gthread --threads=2 --keep-alive=65 app:app\n"


def test_the_project_config_may_pair_a_command_file(tmp_path):
    deploy = tmp_path / "deploy"
    deploy.mkdir()
    write(deploy / "nginx.conf", POOLED_NGINX)
    write(tmp_path / "Procfile", "web: gunicorn -k gthread --threads 2 app:app\n")
    write(tmp_path / ".confgen.toml", '[gunicorn]\n"deploy/nginx.conf" = "Procfile"\n')
    result = confgen.lint_project([str(deploy / "nginx.conf")], nginx_version="1.22.1")
    assert "app-keepalive-race" in {f.rule for f in result.findings}
    assert any(f"{tmp_path / 'Procfile'}:1" in note for note in result.notes), result.notes


def test_an_exec_form_cmd_gives_the_entrypoints_arguments(tmp_path):
    dockerfile = write(tmp_path / "Dockerfile", 'FROM x\nENTRYPOINT ["gunicorn"]\nCMD ["-k", "gthread", "--threads", "4", "app:app"]\n')
    source = sources.read_source(str(dockerfile))
    assert {k: sources.config_from(source).get(k) for k in ("worker_class", "threads")} == {"worker_class": "gthread", "threads": 4}
    change = sources.option_edit(source, "threads", "8")
    assert (source.text[:change.start] + change.new + source.text[change.end:]).endswith('"--threads", "8", "app:app"]\n')


def test_a_value_set_in_gunicorn_cmd_args_is_reported_not_edited(tmp_path):
    write(tmp_path / "nginx.conf", "location / { proxy_pass http://unix:/run/app.sock; }\n")
    write(tmp_path / "app.service", '[Service]\nEnvironment="GUNICORN_CMD_ARGS=--forwarded-allow-ips 10.0.0.1"\n'
                                    "ExecStart=/srv/bin/gunicorn -k uvicorn_worker.UvicornWorker -b unix:/run/app.sock app:app\n")
    plan = confgen.fix([str(tmp_path / "nginx.conf")], select=["uvicorn-unix-forwarded"], unsafe=True)
    assert not plan.edits
    [(_, reason)] = plan.unfixable
    assert "GUNICORN_CMD_ARGS" in reason and "app.service" in reason


# ---------------------------------------------------------------------------------------------
# The one shell splitter


def test_shell_words_split_as_a_posix_shell_does():
    """Against Python's POSIX shlex on command lines of quotes, escapes and blanks (no operators,
    which shlex only splits off with punctuation_chars): the same words, and each word's span
    is where it is written."""
    import random
    import shlex

    from confgen.shell import shell_words

    rng = random.Random(19)
    pieces = ["gunicorn", "-k", "'a b'", '"c d"', '"e\\"f"', "g\\ h", '"i\\j"', "''", '"$X"', "k'l'm", "\\\\", "-w=4",
              '"a\\\\"', "x\\'y"]
    checked = 0
    for _ in range(2000):
        text = " ".join(rng.choice(pieces) for _ in range(rng.randint(1, 6))) + rng.choice(["", " ", "\t"])
        words = shell_words(text, strict=True)
        assert [w.value for w in words] == shlex.split(text), text
        for word in words:
            assert text[word.start:word.end].strip() == text[word.start:word.end]
            assert shlex.split(text[word.start:word.end]) == [word.value]
        checked += 1
    assert checked == 2000


def test_an_unclosed_quote_is_a_one_line_error_on_the_command_line():
    from confgen.gunicorn.reader import read_gunicorn_cmd

    with pytest.raises(ConfgenError) as error:
        read_gunicorn_cmd("gunicorn -k 'gthread app:app")
    assert "cannot split" in str(error.value) and "\n" not in str(error.value)
