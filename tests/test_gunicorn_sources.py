"""gunicorn command lines where they live (systemd, Procfile, Dockerfile, compose, supervisor,
scripts): read with the file and line they came from, paired automatically, and fixed in place."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

import confgen
from confgen.errors import ConfgenError
from confgen.gunicorn import sources
from confgen.gunicorn.reader import UNKNOWN
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


@pytest.mark.parametrize("entrypoint, command", [
    ("['gunicorn']", "['byro.wsgi', '--name=byro', '--workers=4', '--bind=0.0.0.0:8345']"),   # byro
    ("gunicorn", "byro.wsgi --workers=4 --bind=0.0.0.0:8345"),
])
def test_compose_runs_the_entrypoint_with_the_command_as_its_arguments(tmp_path, entrypoint, command):
    path = write(tmp_path / "docker-compose.yml", f"services:\n  gunicorn:\n    image: byro\n"
                                                  f"    entrypoint: {entrypoint}\n    command: {command}\n")
    config = sources.config_from(sources.compose_services(str(path))[0])
    assert config.binds == ["0.0.0.0:8345"] and config.get("workers") == 4


MULTI_STAGE = """ARG PY=3.12
FROM python:${PY} AS base
ENV APP_ENV=base
FROM base AS prod
CMD ["gunicorn", "--workers", "4", "--bind", "0.0.0.0:8000", "app:app"]
FROM base AS debug
CMD ["gunicorn", "--reload", "--bind", "0.0.0.0:8000", "app:app"]
FROM prod AS prod-extra
RUN pip install sentry-sdk
"""


@pytest.mark.parametrize("target, line, workers", [
    ("prod", 5, 4),
    ("prod-extra", 5, 4),      # built FROM prod: prod's CMD is the image's
    ("debug", 7, 1),
    (None, 7, 1),              # no target: the last stage's command, as before
    ("missing", 7, 1),         # no such stage: the file as written
])
def test_a_compose_build_target_chooses_the_stage_whose_command_runs(tmp_path, target, line, workers):
    # Set 24's fastapi-hypercorn: compose builds `target: prod`, the Dockerfile's last stage is debug.
    (tmp_path / "api").mkdir()
    write(tmp_path / "api" / "Dockerfile", MULTI_STAGE)
    build = f"{{context: ./api, target: {target}}}" if target else "./api"
    path = write(tmp_path / "docker-compose.yml", f"services:\n  api:\n    build: {build}\n")
    [source] = sources.compose_services(str(path))
    config = sources.config_from(source)
    assert source.line == line and config.get("workers") == workers


def test_a_stage_blanked_out_keeps_every_line_and_offset():
    text = sources.build_stage_text(MULTI_STAGE, "prod")
    assert len(text) == len(MULTI_STAGE) and text.count("\n") == MULTI_STAGE.count("\n")
    assert "debug" not in text and "--reload" not in text and text.startswith("ARG PY=3.12\nFROM python")


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


# ---------------------------------------------------------------------------------------------
# A start script's own variables (issue 25): `PORT="${PORT:-8080}"` before `exec gunicorn -b :$PORT`

TANDOOR_NGINX = "events {}\nhttp { server { listen 80; location / { proxy_pass http://web:8080; } } }\n"


def _script_bind(tmp_path: Path, lines: str, environ=None):
    script = write(tmp_path / "boot.sh", "#!/bin/sh\nset -e\n" + lines + "exec gunicorn -b :$PORT app.wsgi\n")
    return sources.config_from(sources.read_source(str(script)), environ=environ).get("bind")


@pytest.mark.parametrize("lines, bind", [
    ('PORT="${PORT:-8080}"\n', [":8080"]),
    ("PORT=${PORT-8080}\n", [":8080"]),
    (': "${PORT:=8080}"\n', [":8080"]),
    (": ${PORT=8080}\n", [":8080"]),
    ("export PORT=8080\n", [":8080"]),
    ('export PORT="${PORT:-8080}"\n', [":8080"]),
    ("PORT=8080\nexport PORT\n", [":8080"]),
    ("DEFAULT=8080\nPORT=${PORT:-$DEFAULT}\n", [":8080"]),
    ("PORT=8080; echo starting\n", [":8080"]),
    # What the script cannot tell without running: unknown, never a guess.
    ("", UNKNOWN),
    ("PORT=$(cat /etc/app/port)\n", UNKNOWN),
    ('if [ -z "$PORT" ]; then\n  PORT=8080\nfi\n', UNKNOWN),
    ("if [ -z \"$PORT\" ]; then PORT=8080; fi\n", UNKNOWN),
    ('[ -n "$DEV" ] && PORT=9000\n', UNKNOWN),
    ("PORT=8080\n[ -n \"$DEV\" ] && PORT=9000\n", UNKNOWN),
    ("start() {\n  PORT=8080\n}\n", UNKNOWN),
    # A here-document is data the script writes, not commands it runs.
    ("cat > .env <<EOF\nPORT=9000\nEOF\n", UNKNOWN),
    ("cat > .env <<-'EOF'\n\tPORT=9000\n\tEOF\nPORT=${PORT:-8080}\n", [":8080"]),
    # A default that is itself a parameter (pretalx's entrypoint): nested braces counted.
    ('PORT="${APP_PORT:-${PORT:-8080}}"\n', [":8080"]),
    ('PORT="${APP_PORT:-${HTTP_PORT}}"\n', UNKNOWN),
    # Another expansion the shell computes (a prefix removed): unknown, not a literal.
    ('PORT="${ADDR##*:}"\n', UNKNOWN),
])
def test_a_script_sets_the_variables_its_command_uses(tmp_path, lines, bind):
    assert _script_bind(tmp_path, lines) == bind


@pytest.mark.parametrize("environ, bind", [
    ({"PORT": "9000"}, [":9000"]),            # the container's PORT wins over the script's default
    ({"PORT": ""}, [":8080"]),                # empty: `:-` takes the default
    ({"PORT": None}, UNKNOWN),                 # set from a Secret: not known here
    ({}, [":8080"]),
])
def test_the_environment_a_script_starts_with_wins_over_its_defaults(tmp_path, environ, bind):
    assert _script_bind(tmp_path, 'PORT="${PORT:-8080}"\n', environ) == bind
    # An assignment without a default is the script's own: it wins, as in the shell.
    assert _script_bind(tmp_path, "PORT=8080\n", environ) == [":8080"]


def test_a_dockerfiles_env_reaches_the_script_it_runs(tmp_path):
    write(tmp_path / "boot.sh", '#!/bin/sh\nPORT="${PORT:-8080}"\nexec gunicorn -b :$PORT app.wsgi\n')
    source = sources.read_source(str(write(tmp_path / "Dockerfile", 'FROM x\nENV PORT=9000\nCMD ["./boot.sh"]\n')))
    assert sources.config_from(source).get("bind") == [":9000"]
    assert sources.config_from(source, environ={"PORT": "7000"}).get("bind") == [":7000"]


def test_a_containers_shell_command_expands_with_the_containers_env(tmp_path):
    from confgen.shell import Word, shell_words

    script = "PORT=${PORT:-8080}; exec gunicorn -b :$PORT app.wsgi"
    words = [Word(w.value, 0, 0, "shell") for w in shell_words(script)]
    source = sources.CommandSource(str(tmp_path / "app.yaml"), "kubernetes", 1, "", words)
    assert sources.config_from(source, environ={"PORT": "9000"}).get("bind") == [":9000"]
    assert sources.config_from(source).get("bind") == [":8080"]


def test_tandoors_boot_script_resolves_its_bind_and_gets_the_sync_worker_note(tmp_path):
    # Held-out review (issue 25), Tandoor: the bind was "cannot be read", so the pool warning.
    write(tmp_path / "nginx.conf", TANDOOR_NGINX)
    write(tmp_path / "boot.sh", '#!/bin/sh\nPORT="${PORT:-8080}"\nexec gunicorn -b :$PORT app.wsgi\n')
    result = confgen.lint_project([str(tmp_path / "nginx.conf")], nginx_version="1.22.1")
    assert not {"proxy-pass-no-upstream", "upstream-no-keepalive"} & {f.rule for f in result.findings}
    assert any("which is right for now" in n and "sync worker" in n for n in result.notes), result.notes
    assert not any("bind cannot be read" in n for n in result.notes)


# ---------------------------------------------------------------------------------------------
# A value the shell computes when it runs (issue 25, WebODM's start.sh)

WEBODM = "gunicorn webodm.wsgi --bind 127.0.0.1:8000 --workers $((2*$(grep -c '^processor' /proc/cpuinfo)+1)) --preload"


@pytest.mark.parametrize("value", ["$((2*$(grep -c '^processor' /proc/cpuinfo)+1))", "$(nproc)", "`nproc`",
                                   '"$(nproc)"', "${WORKERS:-$(nproc)}"])
def test_a_computed_value_leaves_the_setting_unknown(value):
    from confgen.gunicorn.reader import read_gunicorn_cmd

    config = read_gunicorn_cmd(f"gunicorn app:app --workers {value} --timeout 60")
    assert config.get("workers") is UNKNOWN and config.get("timeout") == 60
    assert "computed by the shell" in config.setting("workers").note


def test_a_literal_bad_value_is_still_an_error():
    from confgen.gunicorn.reader import read_gunicorn_cmd

    with pytest.raises(ConfgenError, match="--workers 'many' is not a number"):
        read_gunicorn_cmd("gunicorn app:app --workers many")


@pytest.mark.parametrize("how", ["script", "gunicorn-cmd"])
def test_a_computed_worker_count_does_not_stop_the_lint(tmp_path, how):
    from click.testing import CliRunner

    from confgen.cli import main

    write(tmp_path / "nginx.conf", "events {}\nhttp { upstream app { server 127.0.0.1:8000; }\n"
                                   "server { listen 80; location / { proxy_pass http://app; } } }\n")
    if how == "script":
        write(tmp_path / "start.sh", f"#!/bin/bash\nif [ -e x ]; then\n    echo x\nfi\n{WEBODM}\n")
        args = [str(tmp_path)]
    else:
        args = [str(tmp_path / "nginx.conf"), "--gunicorn-cmd", WEBODM]
    result = CliRunner().invoke(main, ["lint", *args, "--nginx-version", "1.22.1"])
    assert result.exit_code in (0, 1), result.output
    assert "is not a number" not in result.output
    assert "workers is unknown (--workers on the command line; computed by the shell" in result.output
    assert "the rules that need it are skipped" in result.output


def test_a_substitution_is_one_shell_word_where_it_is_written():
    from confgen.shell import shell_words

    text = "gunicorn -w $((2*$(nproc)+1)) -b \"$(hostname -i):80\" --x `echo a b` ( cd /x )"
    words = shell_words(text, strict=True)
    assert [w.value for w in words] == ["gunicorn", "-w", "$((2*$(nproc)+1))", "-b", "$(hostname -i):80", "--x",
                                        "`echo a b`", "(", "cd", "/x", ")"]
    assert text[words[2].start:words[2].end] == "$((2*$(nproc)+1))"
    with pytest.raises(ValueError, match="parenthesis"):
        shell_words("gunicorn -w $(nproc", strict=True)


@pytest.mark.parametrize("cmd, expected", [
    # An assignment's value is expanded as the shell does (it used to be taken as written).
    ("PORT=${PORT:-8080}; exec gunicorn -b :$PORT app:app", {"bind": [":8080"]}),
    (': "${PORT:=8081}" && gunicorn -b :$PORT app:app', {"bind": [":8081"]}),
    ("PORT=$(cat /run/port) gunicorn -b :$PORT app:app", {"bind": UNKNOWN}),
    # GUNICORN_CMD_ARGS is read word by word: one unknown word leaves the others known.
    ("GUNICORN_CMD_ARGS='--bind :$PORT --timeout 90' gunicorn app:app", {"bind": UNKNOWN, "timeout": 90}),
    ("export GUNICORN_CMD_ARGS=\"--bind :$PORT --timeout 91\"; gunicorn app:app", {"bind": UNKNOWN, "timeout": 91}),
])
def test_assignments_on_the_command_line_are_expanded(cmd, expected):
    from confgen.gunicorn.reader import read_gunicorn_cmd

    config = read_gunicorn_cmd(cmd)
    assert {name: config.get(name) for name in expected} == expected


def test_a_case_pattern_naming_the_server_is_not_its_command(tmp_path):
    """pretalx's entrypoint: `gunicorn)` is the case label, the command is the `exec gunicorn` under
    it, with its variables' nested defaults (workers 4, bind 0.0.0.0:8080)."""
    script = tmp_path / "entrypoint.sh"
    script.write_text(textwrap.dedent("""\
        #!/bin/sh
        GUNICORN_WORKERS="${GUNICORN_WORKERS:-${WEB_CONCURRENCY:-4}}"
        GUNICORN_BIND_ADDR="${GUNICORN_BIND_ADDR:-0.0.0.0:8080}"
        case "$1" in
            migrate)
                python -m app migrate
                ;;
            gunicorn)
                exec gunicorn app.wsgi \\
                    --workers "${GUNICORN_WORKERS}" \\
                    --bind="${GUNICORN_BIND_ADDR}"
                ;;
        esac
        """))
    source = sources.read_source(str(script))
    assert source.line == 9 and [w.value for w in source.words][:2] == ["exec", "gunicorn"]
    config = sources.config_from(source)
    assert config.get("bind") == ["0.0.0.0:8080"] and config.get("workers") == 4


@pytest.mark.parametrize("name, text", [
    ("docker-compose.yml", 'services:\n  web:\n    command: sh -c "python manage.py migrate && '
                           'gunicorn -k gthread --threads 2 app.wsgi -b 0.0.0.0:8000"\n'),
    ("docker-compose.yml", "services:\n  web:\n    command: [\"/bin/bash\", \"-ec\", \"python manage.py migrate; "
                           "exec gunicorn -k gthread --threads 2 app.wsgi -b 0.0.0.0:8000\"]\n"),
    ("Dockerfile", 'FROM python:3.12\nCMD ["sh", "-c", "gunicorn -k gthread --threads 2 app.wsgi -b 0.0.0.0:$PORT"]\n'),
    ("Procfile", "web: ./wait-for-it.sh db:5432 -- sh -c 'gunicorn -k gthread --threads 2 app.wsgi'\n"),
])
def test_a_command_run_by_a_shell_string_is_read_from_the_string(tmp_path, name, text):
    source = sources.read_source(str(write(tmp_path / name, text)))
    config = sources.config_from(source)
    assert (config.get("worker_class"), config.get("threads")) == ("gthread", 2)


def test_a_shell_string_written_plainly_is_edited_in_place_and_one_with_escapes_is_not(tmp_path):
    plain = write(tmp_path / "docker-compose.yml", 'services:\n  web:\n    command: sh -c "python manage.py '
                                                   'migrate && gunicorn app.wsgi -b 0.0.0.0:8000"\n')
    source = sources.read_source(str(plain))
    change = sources.option_edit(source, "keepalive", "65")
    fixed = source.text[:change.start] + change.new + source.text[change.end:]
    assert 'command: sh -c "python manage.py migrate && gunicorn --keep-alive 65 app.wsgi' in fixed
    listed = write(tmp_path / "compose.yaml", 'services:\n  web:\n    command: ["sh", "-c", "gunicorn app.wsgi"]\n')
    assert sources.read_source(str(listed)).not_editable is not None


def test_a_container_path_names_the_repository_file_by_its_trailing_parts(tmp_path):
    from confgen.files import locate_container_path

    (tmp_path / "deploy").mkdir()
    write(tmp_path / "deploy" / "gunicorn.conf.py", "keepalive = 75\nworker_class = 'gthread'\nthreads = 4\n")
    assert locate_container_path("/app/deploy/gunicorn.conf.py", [str(tmp_path)]) == \
        str(tmp_path / "deploy" / "gunicorn.conf.py")
    assert locate_container_path("/app/deploy/missing.py", [str(tmp_path)]) is None
    assert locate_container_path("$CONF/gunicorn.conf.py", [str(tmp_path)]) is None   # computed: not guessed
    # gunicorn -c with the image's path reads the repository's file.
    dockerfile = write(tmp_path / "Dockerfile", 'FROM python:3.12\nCOPY . /app\n'
                                                'CMD ["gunicorn", "-c", "/app/deploy/gunicorn.conf.py", "app.wsgi"]\n')
    config = sources.config_from(sources.read_source(str(dockerfile)))
    assert (config.get("keepalive"), config.get("worker_class")) == (75, "gthread")


SOCKET_ACTIVATED = """\
[Service]
{environment}ExecStart=/srv/venv/bin/gunicorn -k uvicorn.workers.UvicornWorker --bind unix:app.sock main:app
"""


@pytest.mark.parametrize("socket_name, socket_text, binds", [
    ("app.socket", "[Socket]\nListenStream=/run/app.sock\n", ["unix:/run/app.sock"]),      # named like the service
    ("web.socket", "[Socket]\nListenStream=8000\nService=app.service\n", ["0.0.0.0:8000"]),  # Service= names it
    ("web.socket", "[Socket]\nListenStream=/run/web.sock\n", ["unix:app.sock"]),            # another service's
    ("app.socket", "[Socket]\nListenStream=%t/app.sock\n", ["unix:app.sock"]),              # a specifier: not read
])
def test_a_socket_activated_service_serves_the_socket_units_listen_stream(tmp_path, socket_name, socket_text, binds):
    """gunicorn serves the sockets systemd hands it (LISTEN_FDS) and ignores --bind."""
    (tmp_path / "app.service").write_text(SOCKET_ACTIVATED.format(environment=""))
    (tmp_path / socket_name).write_text(socket_text)
    config = sources.read_paired(str(tmp_path / "app.service"))
    assert config.binds == binds
    if binds[0] != "unix:app.sock":
        assert config.setting("bind").file == str(tmp_path / socket_name)


def test_an_environment_file_may_set_the_defaults_gunicorn_reads_from_the_environment(tmp_path):
    (tmp_path / "app.service").write_text(SOCKET_ACTIVATED.format(environment="EnvironmentFile=/etc/app/env\n"))
    config = sources.read_paired(str(tmp_path / "app.service"))
    assert config.get("forwarded_allow_ips") is UNKNOWN and config.get("workers") is UNKNOWN
    assert config.get("timeout") == 30


def test_port_in_the_commands_environment_is_gunicorns_default_bind(tmp_path):
    """archipelago: compose sets PORT=8000 and no bind; gunicorn then binds 0.0.0.0:$PORT."""
    compose = tmp_path / "docker-compose.yml"
    compose.write_text("services:\n  web:\n    command: gunicorn -k gthread app:app\n    environment:\n"
                       "      - PORT=8000\n")
    config = sources.config_from(sources.read_source(str(compose)))
    assert config.binds == ["0.0.0.0:8000"]
    compose.write_text(compose.read_text().replace("PORT=8000", "PORT=${WEB_PORT}"))
    assert sources.config_from(sources.read_source(str(compose))).binds is UNKNOWN


def test_a_doubled_unix_prefix_is_read_as_gunicorn_reads_it():
    """sapl binds `unix:unix:/var/interlegis/sapl/run/gunicorn.sock`: gunicorn's parse_address
    takes what follows the last `unix:`."""
    from confgen.lint.rules._proxy import parse_address, serves

    assert parse_address("unix:unix:/run/app.sock") == ("unix", "/run/app.sock", None)
    assert serves("unix:unix:/run/app.sock", "unix:/run/app.sock")
    assert parse_address("unix://run/app.sock") == ("unix", "/run/app.sock", None)   # nginx: //run is /run
