"""nginx as a sidecar configured from a ConfigMap (confgen.manifests.sidecar and .mounts): the
pod's nginx read from the manifest with findings at the manifest's own lines and columns, paired
with the app container beside it, a gunicorn.conf.py read from a ConfigMap too, fixes written
into the ConfigMap's literal block with the manifest kept valid, and what cannot be read said in
a note."""

from __future__ import annotations

import shutil
import textwrap
from pathlib import Path

import pytest
import yaml

from confgen.lint.engine import lint
from confgen.lint.fixes.apply import fix_in_place
from confgen.manifests.chains import chains
from conftest import MINIMAL_PROFILE
from lint_helpers import line_of

SIDECAR = Path(__file__).parent / "fixtures" / "k8s" / "sidecar" / "app.yaml"
POD = {**MINIMAL_PROFILE, "name": "shop_api", "kubernetes": {"image": "registry.example/shop:1.4"}}


def lint_manifest(path, **options):
    options.setdefault("nginx_version", "1.22.1")
    return lint([str(path)], **options)


def column_of(path: Path, needle: str) -> int:
    line = path.read_text().splitlines()[line_of(path, needle) - 1]
    return line.index(needle) + 1


def test_ingress_to_the_pods_nginx_to_the_app_container_beside_it():
    notes: list[str] = []
    found = chains([str(SIDECAR)], notes)
    assert len(found) == 1, (found, notes)
    chain = found[0]
    assert (chain.entry, chain.container, chain.server) == ("Ingress shop/web", "app", "uvicorn")
    assert chain.front is not None and chain.front.kind == "ingress-nginx"
    assert chain.nginx is not None and chain.nginx.main_file == str(SIDECAR)
    assert [d.name for d in chain.nginx.walk() if d.name in ("upstream", "proxy_pass")] == ["upstream", "proxy_pass"]
    # index.html comes from the same ConfigMap, but is no nginx file.
    assert any("key default.conf is mounted at /etc/nginx/conf.d/default.conf" in n for n in notes + chain.nginx.notes)


def test_the_race_is_reported_at_the_directive_in_the_manifest():
    result = lint_manifest(SIDECAR)
    race = [f for f in result.findings if f.rule == "chain-keepalive-race"]
    assert [(f.file, f.line, f.col) for f in race] == [
        (str(SIDECAR), line_of(SIDECAR, "upstream app {"), column_of(SIDECAR, "upstream app {"))]
    command_line = line_of(SIDECAR, 'command: ["uvicorn"')
    assert "uvicorn" in race[0].message and f"{SIDECAR}:{command_line}" in race[0].message
    assert any("Ingress shop/web -> Service shop/web -> nginx" in n for n in result.notes)


def test_the_fix_raises_the_apps_timeout_in_its_command_and_the_manifest_stays_valid(tmp_path):
    kubernetes_validate = pytest.importorskip("kubernetes_validate")
    copy = tmp_path / "app.yaml"
    shutil.copy(SIDECAR, copy)
    fix_in_place([str(copy)], nginx_version="1.22.1", select=["chain-keepalive-race"])
    assert 'command: ["uvicorn", "--timeout-keep-alive", "65", "shop.main:app",' in copy.read_text()
    assert not [f for f in lint_manifest(copy).findings if f.rule == "chain-keepalive-race"]
    for document in yaml.safe_load_all(copy.read_text()):
        kubernetes_validate.validate(document, "1.30", strict=True)


# ---------------------------------------------------------------------------------------------
# What render --target kubernetes writes: nginx.conf and gunicorn.conf.py in one ConfigMap


@pytest.fixture
def rendered(tmp_path) -> Path:
    from confgen.render.kubernetes import render_kubernetes

    files, check = render_kubernetes(POD)
    assert check.passed, check.lines()
    path = tmp_path / "kubernetes.yaml"
    path.write_text(files["kubernetes.yaml"])
    return path


def test_rendered_manifests_lint_clean_with_both_configs_read_from_the_configmap(rendered):
    result = lint_manifest(rendered)
    assert [f for f in result.findings if f.severity != "info"] == [], [str(f) for f in result.findings]
    found = chains([str(rendered)])
    assert found and all(c.nginx is not None and c.server == "gunicorn" for c in found)
    keepalive = found[0].gunicorn.setting("keepalive")
    assert (keepalive.file, keepalive.line) == (str(rendered), line_of(rendered, "keepalive = "))
    assert keepalive.value == int(rendered.read_text().split("keepalive = ", 1)[1].split()[0])


def test_a_broken_rendered_config_is_found_and_fixed_inside_the_configmap(rendered):
    kubernetes_validate = pytest.importorskip("kubernetes_validate")
    text = rendered.read_text()
    rendered.write_text(text.replace("proxy_http_version 1.1;", "", 1))
    result = lint_manifest(rendered)
    broken = [f for f in result.findings if f.rule == "keepalive-needs-http11"]
    assert [(f.file, f.line, f.col) for f in broken] == [
        (str(rendered), line_of(rendered, "proxy_pass http://"), column_of(rendered, "proxy_pass http://"))]
    fix_in_place([str(rendered)], nginx_version="1.22.1")
    assert not [f for f in lint_manifest(rendered).findings if f.rule == "keepalive-needs-http11"]
    documents = list(yaml.safe_load_all(rendered.read_text()))
    nginx_conf = next(d for d in documents if d["kind"] == "ConfigMap")["data"]["nginx.conf"]
    assert "proxy_http_version 1.1;" in nginx_conf
    for document in documents:
        kubernetes_validate.validate(document, "1.30", strict=True)


def test_a_setting_in_a_mounted_gunicorn_conf_is_not_edited_by_a_fix(rendered):
    text = rendered.read_text()
    written = text.split("    keepalive = ", 1)[1].split()[0]
    rendered.write_text(text.replace(f"    keepalive = {written} ", "    keepalive = 5 ", 1))
    result = lint_manifest(rendered)
    assert "app-keepalive-race" in [f.rule for f in result.findings]
    before = rendered.read_text()
    fix_in_place([str(rendered)], unsafe=True, nginx_version="1.22.1")

    def gunicorn_conf(text: str) -> str:
        return text.split("gunicorn.conf.py: |", 1)[1].split("---", 1)[0]

    # The setting is in the ConfigMap's Python: never edited there. The unsafe alternative, a
    # shorter pool on nginx's side, is the only change.
    assert gunicorn_conf(rendered.read_text()) == gunicorn_conf(before)
    assert "keepalive_timeout 4s;" in rendered.read_text()
    assert "app-keepalive-race" not in [f.rule for f in lint_manifest(rendered).findings]


# ---------------------------------------------------------------------------------------------
# What cannot be read, and how the image's own files count


GUNICORN_CONTAINER = 'image: app:1\ncommand: ["gunicorn", "-b", "127.0.0.1:8000", "app:app"]'


def _pod(tmp_path: Path, nginx_mount: str, data: str, *, config_map: bool = True, image: str = "nginx:1.27",
         app: str = GUNICORN_CONTAINER) -> Path:
    """A Deployment of nginx (its config mounted from ConfigMap conf with ``data``) and an app
    container (``app``: its fields, one per line)."""
    config_map_text = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: conf\ndata:\n" + \
        textwrap.indent(textwrap.dedent(data), "  ") + "---\n" if config_map else ""
    mount = textwrap.indent(nginx_mount, " " * 14).lstrip()
    app_fields = textwrap.indent(app, " " * 10).lstrip()
    deployment = textwrap.dedent("""\
        apiVersion: apps/v1
        kind: Deployment
        metadata:
          name: web
        spec:
          selector:
            matchLabels: {app: web}
          template:
            metadata:
              labels: {app: web}
            spec:
              volumes:
                - name: conf
                  configMap:
                    name: conf
              containers:
                - name: nginx
                  image: IMAGE
                  volumeMounts:
                    - name: conf
                      MOUNT
                - name: app
                  APP
        """).replace("IMAGE", image).replace("MOUNT", mount).replace("APP", app_fields)
    path = tmp_path / "pod.yaml"
    path.write_text(config_map_text + deployment)
    return path


MAIN_WITH_IMAGE_GLOB = """\
    nginx.conf: |
      events {}
      http {
          include /etc/nginx/conf.d/*.conf;
          server {
              listen 80;
              location / { proxy_pass http://127.0.0.1:8000; }
          }
      }
"""


def test_a_glob_over_the_images_directory_silences_rules_about_missing_values(tmp_path):
    path = _pod(tmp_path, "mountPath: /etc/nginx/nginx.conf\nsubPath: nginx.conf", MAIN_WITH_IMAGE_GLOB)
    result = lint_manifest(path, select=["ALL"])
    assert any("may also match files of the image" in n for n in result.notes), result.notes
    # server_tokens may be set in the image's conf.d files: not reported as missing.
    assert "version-disclosure" not in [f.rule for f in result.findings]
    mounted_whole = _pod(tmp_path, "mountPath: /etc/nginx", MAIN_WITH_IMAGE_GLOB)
    assert "version-disclosure" in [f.rule for f in lint_manifest(mounted_whole, select=["ALL"]).findings]


def test_unreadable_sides_are_notes(tmp_path):
    missing = _pod(tmp_path, "mountPath: /etc/nginx/conf.d", "", config_map=False)
    notes: list[str] = []
    assert chains([str(missing)], notes) == []
    assert any("mounts ConfigMap default/conf, which is not in the input" in n for n in notes), notes
    assert any("runs nginx with the config of its image" in n for n in notes), notes


def test_a_value_that_is_not_a_literal_block_is_read_but_never_fixed(tmp_path):
    quoted = 'default.conf: "upstream app { server 127.0.0.1:8000; keepalive 8; }\\nserver { listen 80; ' \
             'location / { proxy_pass http://app; } }\\n"\n'
    path = _pod(tmp_path, "mountPath: /etc/nginx/conf.d", quoted)
    result = lint_manifest(path)
    # (the pod's gunicorn runs the sync worker: its pool is the finding, with a safe fix)
    assert "sync-worker-keepalive" in [f.rule for f in result.findings]
    assert any("is not a literal block" in n for n in result.notes)
    before = path.read_text()
    run = fix_in_place([str(path)], nginx_version="1.22.1", select=["sync-worker-keepalive"])
    assert path.read_text() == before
    assert "sync-worker-keepalive" in [f.rule for f, _ in run.unfixable] and run.applied == 0


def test_a_fix_that_would_break_the_yaml_is_refused():
    from confgen.lint.fixes.apply import _breaks_manifest
    from confgen.lint.fixes.edits import Edit

    text = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\ndata:\n  nginx.conf: |\n    events {}\n"
    texts = {"m.yaml": type("Text", (), {"text": text})()}
    at = text.index("    events")
    dedented = Edit("m.yaml", at, at, "", "worker_processes 2;\n")
    assert "does not parse" in _breaks_manifest([dedented], texts) or \
        "more of the manifest" in _breaks_manifest([dedented], texts)
    inside = Edit("m.yaml", at, at, "", "    worker_processes 2;\n")
    assert _breaks_manifest([inside], texts) is None


UWSGI_CONF = """\
    nginx.conf: |-
      events {}
      http {
        server {
          listen 80;
          location / {
            include uwsgi_params;
            uwsgi_pass 127.0.0.1:5000;
            uwsgi_read_timeout 60s;
          }
        }
      }
    web-uwsgi.ini: |-
      [uwsgi]
      module = web.wsgi
      harakiri = 120
"""
UWSGI_CONTAINER = """\
image: registry.example/web:1
command: ["uwsgi", "--ini", "/etc/uwsgi/uwsgi.ini", "--socket", ":5000"]
volumeMounts:
  - {name: conf, mountPath: /etc/uwsgi/uwsgi.ini, subPath: web-uwsgi.ini}"""


def test_a_uwsgi_ini_mounted_from_a_configmap_is_read_at_its_lines_in_the_manifest(tmp_path):
    """osf-helm: harakiri 120 in the mounted ini outlasts nginx's uwsgi_read_timeout 60s."""
    path = _pod(tmp_path, "mountPath: /etc/nginx/nginx.conf\nsubPath: nginx.conf", UWSGI_CONF, app=UWSGI_CONTAINER)
    (finding,) = [f for f in lint_manifest(path).findings if f.rule == "chain-timeout-order"]
    assert finding.line == line_of(path, "uwsgi_read_timeout 60s")
    assert f"harakiri 120s ({path}:{line_of(path, 'harakiri = 120')})" in finding.message
    # Not mounted: the image's own file, which the manifests do not show, is not guessed at.
    unmounted = _pod(tmp_path, "mountPath: /etc/nginx/nginx.conf\nsubPath: nginx.conf", UWSGI_CONF,
                     app=UWSGI_CONTAINER.split("\nvolumeMounts:")[0])
    assert not [f for f in lint_manifest(unmounted).findings if f.rule == "chain-timeout-order"]
