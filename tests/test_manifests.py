"""Kubernetes manifests as hops of the chain (confgen.manifests): reading every document with its
file and lines, following Ingress -> Service -> pods -> container -> app server, the front hop's
timers (ingress-nginx defaults and ConfigMap, AWS ALB attributes, GKE BackendConfig), notes for
what cannot be followed, the fixtures checked against Kubernetes' own schemas, and the
rolling-update rule (CG211) over the chains."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from confgen.errors import ConfgenError
from confgen.manifests.chains import chains
from confgen.manifests.documents import read_documents
from lint_helpers import line_of

K8S = Path(__file__).parent / "fixtures" / "k8s"
UVICORN = K8S / "uvicorn" / "app.yaml"
INGRESS_CONFIGMAP = K8S / "ingress-nginx" / "controller-configmap.yaml"


def follow(*paths) -> tuple[list, list[str]]:
    notes: list[str] = []
    return chains([str(p) for p in paths], notes), notes


def only_chain(*paths):
    found, notes = follow(*paths)
    assert len(found) == 1, (found, notes)
    return found[0], notes


# ---------------------------------------------------------------------------------------------
# Reading


def test_every_document_of_a_multi_document_file_with_its_line():
    documents = read_documents([str(UVICORN)])
    assert [(d.kind, d.namespace, d.name) for d in documents] == [
        ("Deployment", "shop", "shop"), ("Service", "shop", "shop"), ("Ingress", "shop", "shop")]
    assert [d.line for d in documents] == [line_of(UVICORN, "apiVersion: apps/v1"),
                                           line_of(UVICORN, "apiVersion: v1"),
                                           line_of(UVICORN, "apiVersion: networking.k8s.io/v1")]
    command = documents[0].root.get("spec", "template", "spec", "containers").list()[1].get("command")
    assert command.where == (str(UVICORN), line_of(UVICORN, 'command: ["uvicorn"'))


def test_a_directory_is_read_recursively_and_helm_templates_are_skipped_with_a_note():
    notes: list[str] = []
    documents = read_documents([str(K8S)], notes)
    files = {Path(d.file).relative_to(K8S).as_posix() for d in documents}
    assert "uvicorn/app.yaml" in files and "gke/app.yaml" in files
    assert not any(f.startswith("helm/") for f in files)
    for template in ("deployment.yaml", "service.yaml"):  # service.yaml parses, but lies in a chart
        helm = [n for n in notes if f"helm/templates/{template}" in n]
        assert len(helm) == 1 and "helm template" in helm[0]
    # A rendered manifest that holds "{{" in a string is read.
    assert "rendered/alerts.yaml" in files


def test_broken_yaml_is_one_line_naming_file_and_line(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("apiVersion: v1\nkind: Service\nmetadata:\n  name: [unclosed\n")
    with pytest.raises(ConfgenError) as error:
        read_documents([str(bad)])
    assert len(error.value.lines) == 1 and error.value.lines[0].startswith(f"{bad}:")
    assert "not valid YAML" in error.value.lines[0]


def test_a_missing_path_is_an_error():
    with pytest.raises(ConfgenError, match="no such file or directory"):
        read_documents(["/nonexistent/manifests"])


def test_kind_list_is_split_into_its_items(tmp_path):
    listed = tmp_path / "list.yaml"
    listed.write_text(textwrap.dedent("""\
        apiVersion: v1
        kind: List
        items:
          - apiVersion: v1
            kind: ConfigMap
            metadata: {name: one}
          - apiVersion: v1
            kind: ConfigMap
            metadata: {name: two, namespace: other}
        """))
    assert [(d.kind, d.namespace, d.name, d.line) for d in read_documents([str(listed)])] == [
        ("ConfigMap", "default", "one", 4), ("ConfigMap", "other", "two", 7)]


# ---------------------------------------------------------------------------------------------
# Following the chain


def test_ingress_to_service_to_deployment_by_selector_and_named_target_port():
    chain, _ = only_chain(UVICORN)
    assert (chain.entry, chain.service, chain.workload) == ("Ingress shop/shop", "Service shop/shop",
                                                            "Deployment shop/shop")
    # targetPort "http" names the web container's port, not the sidecar's.
    assert chain.container == "web" and chain.server == "uvicorn"
    assert chain.anchor == (str(UVICORN), line_of(UVICORN, 'command: ["uvicorn"'))
    assert chain.app_server.settings["port"].value == "8000"
    assert chain.app_hop.idle_from_previous.seconds == 5


def test_ingress_nginx_defaults_with_their_sources():
    chain, _ = only_chain(UVICORN)
    front = chain.front
    assert front.kind == "ingress-nginx"
    assert front.idle_to_next.seconds == 60 and "ingress-nginx's default upstream-keepalive-timeout" in front.idle_to_next.source
    assert "configmap.md" in front.idle_to_next.source
    assert front.idle_from_previous.seconds == 75
    # The Ingress's own proxy-read-timeout annotation wins over the default.
    assert front.waits_for_next.seconds == 120
    assert front.waits_for_next.source == f"{UVICORN}:{line_of(UVICORN, 'proxy-read-timeout')} (annotation)"
    assert any("no ingress-nginx controller ConfigMap" in n for n in front.notes)


def test_the_controller_configmap_overrides_the_defaults():
    chain, _ = only_chain(UVICORN, INGRESS_CONFIGMAP)
    front = chain.front
    assert front.idle_to_next.seconds == 4
    assert front.idle_to_next.source.startswith(f"{INGRESS_CONFIGMAP}:{line_of(INGRESS_CONFIGMAP, 'upstream-keepalive-timeout')}")
    assert front.idle_from_previous.seconds == 75
    assert front.waits_for_next.seconds == 120  # the annotation still wins over the ConfigMap's 90


def test_the_configmap_a_controller_names_and_no_pool_when_connections_is_0():
    chain, _ = only_chain(UVICORN, K8S / "ingress-nginx" / "no-pool-configmap.yaml")
    assert chain.front.idle_to_next is None
    assert any("upstream-keepalive-connections is 0" in n for n in chain.front.notes)


def test_aws_alb_ingress_idle_timeout_attribute():
    path = K8S / "gunicorn-alb" / "app.yaml"
    chain, _ = only_chain(path)
    assert chain.front.kind == "aws-alb"
    assert chain.front.idle_to_next.seconds == 120 == chain.front.waits_for_next.seconds
    assert chain.front.idle_to_next.source.startswith(f"{path}:{line_of(path, 'load-balancer-attributes')}")
    # gunicorn's settings from the command and GUNICORN_CMD_ARGS, taken from a ConfigMap of the input.
    assert chain.server == "gunicorn"
    assert chain.gunicorn.get("keepalive") == 75 and chain.gunicorn.get("graceful_timeout") == 20
    assert chain.app_hop.idle_from_previous.seconds == 75
    assert chain.app_hop.where == chain.anchor == (str(path), line_of(path, "- gunicorn"))
    assert chain.gunicorn.command.kind == "kubernetes" and chain.gunicorn.command.not_editable is None


@pytest.mark.parametrize("fixture, setting, value, expected", [
    # A block list: the option goes in as two new items right after "- gunicorn".
    ("gunicorn-alb", "keepalive", "5", ["gunicorn", "--keep-alive", "5", "-k", "uvicorn_worker.UvicornWorker"]),
    # A flow list: the value is replaced where it is written.
    ("loadbalancer", "workers", "8", ["gunicorn", "--workers", "8", "--bind"]),
])
def test_a_gunicorn_option_can_be_edited_in_the_manifest(tmp_path, fixture, setting, value, expected):
    import yaml

    from confgen.gunicorn.sources import option_edit

    path = tmp_path / "app.yaml"
    path.write_text((K8S / fixture / "app.yaml").read_text())
    chain, _ = only_chain(path)
    source = chain.gunicorn.command
    edit = option_edit(source, setting, value)
    edited = source.text[:edit.start] + edit.new + source.text[edit.end:]
    deployment = next(d for d in yaml.safe_load_all(edited) if d["kind"] == "Deployment")
    command = deployment["spec"]["template"]["spec"]["containers"][0]["command"]
    assert command[:len(expected)] == expected


def test_aws_alb_default_idle_timeout_when_no_attribute(tmp_path):
    text = (K8S / "gunicorn-alb" / "app.yaml").read_text().replace(
        "routing.http2.enabled=true,idle_timeout.timeout_seconds=120", "routing.http2.enabled=true")
    (tmp_path / "app.yaml").write_text(text)
    chain, _ = only_chain(tmp_path / "app.yaml")
    assert chain.front.idle_to_next.seconds == 60 and "default" in chain.front.idle_to_next.source


def test_gke_backend_config_timeout_and_uvicorn_env_from_configmap():
    path = K8S / "gke" / "app.yaml"
    chain, _ = only_chain(path)
    assert chain.front.kind == "gclb"
    assert chain.front.idle_to_next.seconds == 600
    assert chain.front.waits_for_next.seconds == 300
    assert chain.front.waits_for_next.source.startswith(f"{path}:{line_of(path, 'timeoutSec')}")
    # sh -c 'python -m uvicorn ...' in a StatefulSet, UVICORN_* from envFrom.
    assert (chain.workload, chain.server) == ("StatefulSet default/reports", "uvicorn")
    assert chain.app_hop.idle_from_previous.seconds == 620
    assert chain.pod.app_graceful.seconds == 25
    assert chain.pod.pre_stop.seconds == 10


def test_gke_without_backend_config_waits_the_30s_default(tmp_path):
    text = (K8S / "gke" / "app.yaml").read_text().replace(
        "    cloud.google.com/backend-config: '{\"ports\": {\"http\": \"reports-timeouts\"}}'\n", "    example.com/owner: reports\n")
    (tmp_path / "app.yaml").write_text(text)
    chain, _ = only_chain(tmp_path / "app.yaml")
    assert chain.front.waits_for_next.seconds == 30 and "timeoutSec default 30" in chain.front.waits_for_next.source


def test_nginx_org_annotations_mean_the_f5_controller(tmp_path):
    text = UVICORN.read_text().replace("nginx.ingress.kubernetes.io/proxy-read-timeout", "nginx.org/proxy-read-timeout")
    (tmp_path / "app.yaml").write_text(text)
    chain, _ = only_chain(tmp_path / "app.yaml")
    assert chain.front.kind == "f5-nginx" and chain.front.waits_for_next.seconds == 120
    assert chain.front.idle_to_next is None  # its upstream pool is not read: no race is claimed


def test_loadbalancer_service_with_aws_idle_timeout():
    path = K8S / "loadbalancer" / "app.yaml"
    chain, _ = only_chain(path)
    assert chain.entry == "Service default/legacy" and chain.front.kind == "aws-elb"
    assert chain.front.idle_to_next.seconds == 120
    # The sync worker keeps no connection alive: nothing to race.
    assert chain.server == "gunicorn" and chain.app_hop.idle_from_previous is None
    assert chain.pod.pre_stop.seconds == 5 and chain.pod.grace.seconds == 45
    assert chain.pod.app_graceful.seconds == 30 and "default" in chain.pod.app_graceful.source


def test_what_cannot_be_followed_is_a_note_never_a_guess():
    found, notes = follow(K8S / "unpaired" / "app.yaml")
    assert any("Service default/legacy-api, which is not in the input" in n for n in notes)
    assert any("pods labelled app=worker" in n for n in notes)
    computed = [n for n in notes if "$(ADMIN_FLAGS)" in n]
    assert len(computed) == 1 and "Secret admin-secrets key ADMIN_FLAGS" in computed[0]
    # The admin pod is still paired (its shutdown is known), its app server is not read.
    assert [(c.workload, c.server, c.app_hop) for c in found] == [("Deployment default/admin", None, None)]


def test_command_variables_are_expanded_as_kubernetes_does(tmp_path):
    text = UVICORN.read_text().replace('            - "8000"\n', '            - "$(PORT)"\n            - --root-path\n'
                                       '            - "$$(PORT)"\n').replace(
        "          ports:\n            - name: http",
        "          env:\n            - {name: PORT, value: \"8001\"}\n          ports:\n            - name: http")
    (tmp_path / "app.yaml").write_text(text)
    chain, notes = only_chain(tmp_path / "app.yaml")
    assert chain.app_server.settings["port"].value == "8001", notes
    assert chain.app_server.binds == ["0.0.0.0:8001"]
    from confgen.manifests.resources import index

    web = index(read_documents([str(tmp_path / "app.yaml")])).workloads[0].containers[1]
    assert web.argv() == (["uvicorn", "shop.main:app", "--host", "0.0.0.0", "--port", "8001", "--root-path",
                           "$(PORT)", "--proxy-headers"], [])


def test_an_ingress_with_no_class_has_no_front(tmp_path):
    text = UVICORN.read_text().replace("  ingressClassName: nginx\n", "")
    (tmp_path / "app.yaml").write_text(text)
    chain, notes = only_chain(tmp_path / "app.yaml")
    assert chain.front is None
    assert any("no ingress class" in n for n in notes)


def test_an_ingressclass_in_the_input_names_the_controller(tmp_path):
    text = UVICORN.read_text().replace("ingressClassName: nginx", "ingressClassName: public")
    (tmp_path / "app.yaml").write_text(text + textwrap.dedent("""\
        ---
        apiVersion: networking.k8s.io/v1
        kind: IngressClass
        metadata:
          name: public
        spec:
          controller: ingress.k8s.aws/alb
        """))
    chain, _ = only_chain(tmp_path / "app.yaml")
    assert chain.front.kind == "aws-alb"


def test_a_named_target_port_no_container_declares_is_a_note(tmp_path):
    (tmp_path / "app.yaml").write_text(UVICORN.read_text().replace("targetPort: http", "targetPort: grpc"))
    found, notes = follow(tmp_path / "app.yaml")
    assert found == []
    assert any("declares port 'grpc'" in n and "not paired" in n for n in notes)


def test_one_chain_per_container_however_many_ports_reach_it(tmp_path):
    text = (K8S / "loadbalancer" / "app.yaml").read_text().replace(
        "    - port: 80\n      targetPort: 8000\n",
        "    - {name: http, port: 80, targetPort: 8000}\n    - {name: alt, port: 8080, targetPort: 8000}\n")
    (tmp_path / "app.yaml").write_text(text)
    found, _ = follow(tmp_path / "app.yaml")
    assert [(c.entry, c.container) for c in found] == [("Service default/legacy", "legacy")]


def test_pod_shutdown_defaults():
    chain, _ = only_chain(UVICORN)
    pod = chain.pod
    assert (pod.pre_stop_hook, pod.pre_stop) == (False, None)
    assert pod.grace.seconds == 30 and "Kubernetes' default" in pod.grace.source
    # uvicorn without --timeout-graceful-shutdown waits for requests with no limit.
    assert pod.app_graceful is None and "no limit" in pod.app_graceful_why
    assert (pod.file, pod.line) == (str(UVICORN), line_of(UVICORN, "- name: web"))


# ---------------------------------------------------------------------------------------------
# The chain rules over a chain from manifests (the app linted with no nginx, as the engine does)


def test_uvicorn_keepalive_race_behind_ingress_nginx_is_reported_at_the_command():
    from confgen.lint.engine import _run, get_rule
    from confgen.lint.context import LintContext
    from confgen.nginx.model import Block, Directive, NginxConfig

    chain, _ = only_chain(UVICORN)
    file = str(UVICORN)
    config = NginxConfig(root=Directive("main", [], file, 0, None, Block()), main_file=file, nginx_version=(1, 22, 1))
    ctx = LintContext(config)
    ctx.app_server, ctx.app_hop, ctx.behind, ctx.app_only = chain.app_server, chain.app_hop, chain.front, True
    findings = _run(ctx, [get_rule("chain-keepalive-race")], None)
    assert [(f.rule, f.file, f.line) for f in findings] == [("chain-keepalive-race", file, chain.anchor[1])]
    assert "ingress-nginx" in findings[0].message and "upstream-keepalive-timeout 60s" in findings[0].message

    fixed, _ = only_chain(UVICORN, INGRESS_CONFIGMAP)  # the pool kept 4 s: under uvicorn's 5 s
    ctx.app_hop, ctx.behind = fixed.app_hop, fixed.front
    assert _run(ctx, [get_rule("chain-keepalive-race")], None) == []


# ---------------------------------------------------------------------------------------------
# CG211 rolling-update-drops-requests. Not registered in confgen.lint.rules yet (the nginx
# example harness cannot lint YAML), so it is imported in a child process: importing it here
# would register it for every later test of this process.

_RULE_DRIVER = r"""
import json, sys, tempfile, os
from confgen.lint.context import LintContext
from confgen.lint.rules import kubernetes
from confgen.manifests.chains import chains

rule = kubernetes.rolling_update_drops_requests.rule
out = {}
for name, paths in json.loads(sys.argv[1]).items():
    if name.startswith("doc:"):
        directory = tempfile.mkdtemp()
        path = os.path.join(directory, "app.yaml")
        with open(path, "w") as handle:
            handle.write(getattr(rule.doc, name[4:]))
        paths = [path]
    findings = []
    for chain in chains(paths):
        ctx = LintContext(type("Tree", (), {"nginx_version": (1, 22, 1)})())
        ctx.manifest_pod, ctx.rule = chain.pod, rule
        findings += [[f.code, f.rule, os.path.basename(f.file), f.line, f.message] for f in rule.check(ctx)]
    out[name] = findings
print(json.dumps(out))
"""


@pytest.fixture(scope="module")
def rule_findings():
    cases = {"uvicorn": [str(UVICORN)], "gunicorn-alb": [str(K8S / "gunicorn-alb")],
             "gke": [str(K8S / "gke")], "loadbalancer": [str(K8S / "loadbalancer")],
             "doc:bad": [], "doc:good": []}
    done = subprocess.run([sys.executable, "-c", _RULE_DRIVER, json.dumps(cases)], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_rule_reports_a_pod_without_prestop_at_its_container(rule_findings):
    found = rule_findings["uvicorn"]
    assert [(code, name, file, line) for code, name, file, line, _ in found] == [
        ("CG211", "rolling-update-drops-requests", "app.yaml", line_of(UVICORN, "- name: web"))]
    assert "Ingress shop/shop" in found[0][4] and "preStop" in found[0][4]


def test_rule_reports_a_grace_period_that_does_not_cover_prestop_and_graceful_shutdown(rule_findings):
    # gke: preStop 10 s + uvicorn --timeout-graceful-shutdown 25 s > Kubernetes' default 30 s.
    path = K8S / "gke" / "app.yaml"
    found = rule_findings["gke"]
    assert [(file, line) for _, _, file, line, _ in found] == [("app.yaml", line_of(path, "      containers:"))]
    assert "30s" in found[0][4] and "above 35" in found[0][4]
    # loadbalancer: preStop 5 s + gunicorn's default graceful_timeout 30 s < 45 s: fine.
    assert rule_findings["loadbalancer"] == []
    # gunicorn-alb: 10 s + graceful_timeout 20 s (GUNICORN_CMD_ARGS) < 40 s: fine.
    assert rule_findings["gunicorn-alb"] == []


def test_rule_documentation_examples(rule_findings):
    assert {name for _, name, *_ in rule_findings["doc:bad"]} == {"rolling-update-drops-requests"}
    # No preStop; the 30 s grace period equals gunicorn's 30 s graceful_timeout, a tie that loses
    # nothing, but the advised 10 s delay would not fit in it, which the preStop finding says.
    [finding] = rule_findings["doc:bad"]
    assert "preStop" in finding[4] and "raise terminationGracePeriodSeconds above 40" in finding[4]
    assert rule_findings["doc:good"] == []


# ---------------------------------------------------------------------------------------------
# The fixtures are valid Kubernetes objects


def _fixture_documents():
    import yaml

    for path in sorted(K8S.rglob("*.yaml")):
        text = path.read_text()
        if "helm" in path.parts:  # the chart's own files are not Kubernetes objects
            continue
        for number, document in enumerate(yaml.safe_load_all(text)):
            if document:
                yield pytest.param(document, id=f"{path.relative_to(K8S)}#{number}")


@pytest.mark.parametrize("document", list(_fixture_documents()))
def test_fixtures_validate_against_kubernetes_schemas(document):
    kubernetes_validate = pytest.importorskip(
        "kubernetes_validate", reason="kubernetes-validate is not installed (pip install kubernetes-validate); "
                                      "it ships the schemas, so it works offline once installed")
    if document["kind"] == "BackendConfig":
        pytest.skip("BackendConfig is a GKE custom resource: Kubernetes' own schemas do not describe it")
    if document["apiVersion"].split("/")[0] in ("gateway.networking.k8s.io", "gateway.nginx.org"):
        pytest.skip("Gateway API and NGINX Gateway Fabric objects are custom resources: Kubernetes' own "
                    "schemas do not describe them")
    # 1.30: the first release with lifecycle.preStop.sleep on by default (used by the GKE fixture).
    kubernetes_validate.validate(document, "1.30.0", strict=True)


def test_a_container_command_is_followed_through_wrappers_to_the_repository_script(tmp_path):
    """`wait-for-db.sh db bash /app/deploy/start.sh`: the script named by its container path is
    deploy/start.sh at the repository's root, and the ini its uwsgi line names by container path
    is read from there too (HTTP router without http-keepalive: no pool advice, a note)."""
    (tmp_path / "deploy").mkdir()
    (tmp_path / "deploy" / "wait-for-db.sh").write_text('#!/bin/sh\nhost="$1"; shift\nexec "$@"\n')
    (tmp_path / "deploy" / "start.sh").write_text("#!/bin/bash\nset -e\npython manage.py migrate\n"
                                                  "exec uwsgi --ini /app/deploy/uwsgi.ini\n")
    (tmp_path / "deploy" / "uwsgi.ini").write_text("[uwsgi]\nhttp = 0.0.0.0:8080\nmodule = app.wsgi\n")
    manifest = tmp_path / "k8s" / "base" / "app.yaml"
    manifest.parent.mkdir(parents=True)
    manifest.write_text(textwrap.dedent("""\
        apiVersion: v1
        kind: ConfigMap
        metadata: {name: nginx-conf}
        data:
          nginx.conf: |
            events {}
            http {
              upstream app { server 127.0.0.1:8080; }
              server { listen 80; location / { proxy_pass http://app; } }
            }
        ---
        apiVersion: apps/v1
        kind: Deployment
        metadata: {name: web}
        spec:
          selector: {matchLabels: {app: web}}
          template:
            metadata: {labels: {app: web}}
            spec:
              containers:
              - name: app
                image: example/web
                command: ["./deploy/wait-for-db.sh", "db", "bash", "/app/deploy/start.sh"]
              - name: nginx
                image: nginx
                volumeMounts: [{name: conf, mountPath: /etc/nginx/nginx.conf, subPath: nginx.conf}]
              volumes: [{name: conf, configMap: {name: nginx-conf}}]
        """))
    import confgen

    result = confgen.lint_project([str(tmp_path / "k8s")], nginx_version="1.22.1")
    assert any(f"runs {tmp_path / 'deploy' / 'start.sh'}, which starts uwsgi" in note for note in result.notes)
    assert not [f for f in result.findings if f.rule == "upstream-no-keepalive"]
    assert any("HTTP router" in note and "right for now" in note for note in result.notes), result.notes
    # Nothing in the input routes to the pod: the finding does not say the Deployment sends requests.
    [drops] = [f for f in result.findings if f.rule == "rolling-update-drops-requests"]
    assert "but whatever routes to the pod (a Service) keeps sending it requests" in drops.message


@pytest.mark.parametrize("service, sender", [
    ("", "whatever routes to the pod (a Service)"),                  # the input holds no Service
    ("  selector: {app: web}\n", "Service default/web"),            # a ClusterIP Service selects the pod
    ("  selector: {app: other}\n", None),                           # the input's Service selects other pods
])
def test_an_nginx_pod_nothing_routes_to_is_told_who_sends_to_it(tmp_path, service, sender):
    nginx_pod = textwrap.dedent("""\
        apiVersion: v1
        kind: ConfigMap
        metadata: {name: nginx-conf}
        data:
          nginx.conf: |
            events {}
            http { server { listen 80; location / { proxy_pass http://127.0.0.1:8000; } } }
        ---
        apiVersion: apps/v1
        kind: Deployment
        metadata: {name: web}
        spec:
          selector: {matchLabels: {app: web}}
          template:
            metadata: {labels: {app: web}}
            spec:
              containers:
              - name: nginx
                image: nginx
                volumeMounts: [{name: conf, mountPath: /etc/nginx/nginx.conf, subPath: nginx.conf}]
              volumes: [{name: conf, configMap: {name: nginx-conf}}]
        """)
    if service:
        nginx_pod += ("---\napiVersion: v1\nkind: Service\nmetadata: {name: web}\nspec:\n" + service
                      + "  ports: [{port: 80, targetPort: 80}]\n")
    (tmp_path / "app.yaml").write_text(nginx_pod)
    import confgen

    result = confgen.lint_project([str(tmp_path / "app.yaml")], nginx_version="1.22.1")
    drops = [f for f in result.findings if f.rule == "rolling-update-drops-requests"]
    if sender is None:
        assert drops == []
    else:
        assert len(drops) == 1 and f"but {sender} keeps sending it requests" in drops[0].message


def test_an_nginx_pod_is_paired_with_the_app_behind_the_service_it_proxies_to(tmp_path):
    """osdfir-timesketch: nginx in its own Deployment proxies to Service web, whose pods run
    gunicorn's sync worker with --timeout 600: the pool advice is the sync worker's note, and
    nginx's default 60 s read timeout is checked against the app's 600 s."""
    import confgen

    manifest = Path(__file__).parent / "data" / "manifests" / "nginx-to-service.yaml"
    result = confgen.lint_project([str(manifest)], nginx_version="1.22.1")
    rules = {f.rule for f in result.findings}
    assert "proxy-pass-no-upstream" not in rules and "app-timeout-exceeds-proxy" in rules
    assert any("-> Deployment default/web container web: gunicorn" in note for note in result.notes)
    unrelated = tmp_path / "app.yaml"
    unrelated.write_text(manifest.read_text().replace("proxy_pass http://web:5000/", "proxy_pass http://other:5000/"))
    result = confgen.lint_project([str(unrelated)], nginx_version="1.22.1")
    # Another Service, whose app is not read: the pool advice is a note saying so.
    assert "proxy-pass-no-upstream" not in {f.rule for f in result.findings}
    assert any("other:5000" in note and "the app behind it is not read" in note for note in result.notes)


@pytest.mark.parametrize("start, unsignalled", [
    ("gunicorn -b 0.0.0.0:8080 app:app -w 1", True),
    ("exec gunicorn -b 0.0.0.0:8080 app:app -w 1", False),
])
def test_a_script_that_starts_the_app_without_exec_keeps_sigterm_from_it(tmp_path, start, unsignalled):
    """open-event-server: `command: ["/bin/sh", "-c", "./kubernetes/run.sh"]`, whose script runs
    gunicorn as a child: the shell is PID 1 and ignores SIGTERM, so no preStop advice applies."""
    (tmp_path / "kubernetes").mkdir()
    (tmp_path / "kubernetes" / "run.sh").write_text(f"#!/bin/bash\necho starting\n{start}\n")
    (tmp_path / "kubernetes" / "app.yaml").write_text(textwrap.dedent("""\
        apiVersion: apps/v1
        kind: Deployment
        metadata: {name: api}
        spec:
          selector: {matchLabels: {app: api}}
          template:
            metadata: {labels: {app: api}}
            spec:
              containers:
              - name: api
                image: example/api
                command: ["/bin/sh", "-c", "./kubernetes/run.sh"]
        ---
        apiVersion: v1
        kind: Service
        metadata: {name: api}
        spec:
          type: LoadBalancer
          selector: {app: api}
          ports: [{port: 80, targetPort: 8080}]
        """))
    import confgen

    result = confgen.lint_project([str(tmp_path / "kubernetes")], nginx_version="1.22.1")
    [drops] = [f for f in result.findings if f.rule == "rolling-update-drops-requests"]
    if unsignalled:
        assert drops.file.endswith("run.sh") and drops.line == 3
        assert "starts the app without exec" in drops.message and "preStop" not in drops.message
    else:
        assert "stops at once when the pod is deleted" in drops.message


def test_a_shell_as_pid_1_ignores_sigterm_and_its_child_never_gets_it(tmp_path):
    """What the finding above rests on: in its own PID namespace (as in a container), `sh -c
    ./run.sh` whose script starts a server without exec; SIGTERM sent to PID 1 reaches no one."""
    import os
    import shutil
    import signal
    import time

    unshare = shutil.which("unshare")
    if unshare is None or os.geteuid() != 0:
        pytest.skip("needs unshare and root for a PID namespace")
    marker = tmp_path / "got-term"
    (tmp_path / "run.sh").write_text(
        "#!/bin/bash\n" + sys.executable + " -c \"import signal, time, pathlib\n"
        f"signal.signal(signal.SIGTERM, lambda *a: pathlib.Path('{marker}').write_text('x'))\n"
        "time.sleep(20)\"\n")
    (tmp_path / "run.sh").chmod(0o755)
    process = subprocess.Popen([unshare, "--pid", "--fork", "--mount-proc", "/bin/sh", "-c", "./run.sh"], cwd=tmp_path)
    pid_1 = None
    try:
        deadline = time.monotonic() + 10
        while pid_1 is None and time.monotonic() < deadline:
            children = Path(f"/proc/{process.pid}/task/{process.pid}/children")
            pid_1 = int(children.read_text().split()[0]) if children.exists() and children.read_text().split() else None
            time.sleep(0.05)
        if pid_1 is None:
            pytest.skip("no PID namespace here")
        time.sleep(1.0)                                   # the server has set its handler
        os.kill(pid_1, signal.SIGTERM)
        time.sleep(1.0)
        assert not marker.exists()                        # the server never got it
        assert Path(f"/proc/{pid_1}").exists()            # and the shell ignored it
    finally:
        if pid_1 is not None:
            os.kill(pid_1, signal.SIGKILL)                # the namespace's init: everything in it goes
        process.kill()
        process.wait(timeout=10)
