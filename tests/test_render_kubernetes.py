"""``render --target kubernetes``: the Deployment, Service, ConfigMap, HPA and PDB (and the edge
object in front, tests/test_render_kubernetes_edge.py) as plain YAML,
valid against the Kubernetes API schemas (kubernetes-validate), carrying exactly the configs the
self-check passed, with the stop timers and replica counts from the sizing."""

from __future__ import annotations

import pytest
import yaml

from confgen.errors import ConfgenError
from confgen.profile import sizing
from confgen.render import stamp
from confgen.render.kubernetes import render_kubernetes
from confgen.render.rendering import render_profile
from conftest import MINIMAL_PROFILE

kubernetes_validate = pytest.importorskip("kubernetes_validate")

KUBERNETES_VERSION = "1.30"  # containerResource metrics in autoscaling/v2 are GA from 1.30
POD = {**MINIMAL_PROFILE, "name": "shop_api", "kubernetes": {"image": "registry.example/shop:1.4"}}
BUSY = {**POD, "expected_qps": 3000, "clients": 2000,
        "app": {"module": "shop.wsgi:application", "kind": "wsgi", "latency_ms": 80, "timeout_s": 25},
        "behind": "ingress-nginx", "trusted_proxies": ["10.0.0.0/8"]}


def _documents(profile: dict) -> dict[str, dict]:
    files, check = render_kubernetes(profile)
    assert check.passed, check.lines()
    text = files["kubernetes.yaml"]
    assert stamp.provenance(text) == stamp.RENDERED
    return {document["kind"]: document for document in yaml.safe_load_all(text)}


@pytest.mark.parametrize("profile, edge", [(POD, set()), (BUSY, {"Ingress"})], ids=["one machine", "replicated"])
def test_every_document_is_valid_kubernetes(profile, edge):
    documents = _documents(profile)
    # BUSY is behind ingress-nginx: its Ingress is rendered too (tests/test_render_kubernetes_edge.py).
    assert set(documents) == {"ConfigMap", "Deployment", "Service", "HorizontalPodAutoscaler", "PodDisruptionBudget"} | edge
    for document in documents.values():
        kubernetes_validate.validate(document, KUBERNETES_VERSION, strict=True)


def test_a_broken_document_is_caught_by_the_validator():
    """The check above can fail: a field of the wrong type is rejected."""
    deployment = _documents(POD)["Deployment"]
    deployment["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] = "soon"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, KUBERNETES_VERSION, strict=True)


def test_the_configmap_carries_the_self_checked_configs_for_the_official_image():
    data = _documents(BUSY)["ConfigMap"]["data"]
    assert set(data) == {"nginx.conf", "gunicorn.conf.py"}
    for text in data.values():
        assert stamp.provenance(text) == stamp.RENDERED  # byte for byte what render wrote
    assert "\nuser nginx;\n" in data["nginx.conf"]  # the official image has no www-data
    plain = render_profile({**BUSY, "nginx": {"user": "nginx"}})
    assert data == {name: plain[name] for name in data}
    assert "keepalive_timeout 75s;" in data["nginx.conf"]  # behind ingress-nginx's 60 s


def test_stop_timers_and_replicas_come_from_the_sizing():
    documents = _documents(BUSY)
    pod = documents["Deployment"]["spec"]["template"]["spec"]
    nginx, app = pod["containers"]
    assert nginx["lifecycle"]["preStop"]["exec"]["command"] == ["sleep", str(sizing.PRESTOP_SLEEP_S)]
    assert app["lifecycle"]["preStop"] == nginx["lifecycle"]["preStop"]
    # preStop + the slowest request (app.timeout_s 25) + the exit margin
    assert pod["terminationGracePeriodSeconds"] == sizing.PRESTOP_SLEEP_S + 25 + sizing.STOP_MARGIN_S
    # 240 in flight x 1.5 over 2 CPUs' 5 x 32 threads: 3 replicas + 1 down
    hpa = documents["HorizontalPodAutoscaler"]["spec"]
    assert (hpa["minReplicas"], hpa["maxReplicas"]) == (4, 8)
    assert hpa["metrics"][0]["containerResource"]["container"] == app["name"] == "shop-api"
    assert documents["PodDisruptionBudget"]["spec"]["maxUnavailable"] == 1
    assert "replicas" not in documents["Deployment"]["spec"]  # the autoscaler owns the count
    # nginx reaches gunicorn's socket on the volume both mount
    socket_dir = "/run/shop_api"
    assert {m["mountPath"] for m in nginx["volumeMounts"]} >= {socket_dir}
    assert {m["mountPath"] for m in app["volumeMounts"]} >= {socket_dir}
    assert app["command"] == ["gunicorn", "-c", "/etc/confgen/gunicorn.conf.py"]
    assert _documents(POD)["HorizontalPodAutoscaler"]["spec"]["minReplicas"] == 2


@pytest.mark.parametrize("changes, expected", [
    ({"kubernetes": None}, "--target kubernetes needs kubernetes.image"),
    ({"app": {**MINIMAL_PROFILE["app"], "bind": "127.0.0.1:8000"}}, "by a unix socket on a shared volume"),
    ({"tls": {"certificate": "/c.pem", "certificate_key": "/k.pem"}}, "terminate TLS at the Ingress"),
])
def test_what_the_pod_layout_cannot_serve_is_refused_in_one_line(changes, expected):
    profile = {key: value for key, value in {**POD, **changes}.items() if value is not None}
    with pytest.raises(ConfgenError) as caught:
        render_kubernetes(profile)
    assert len(caught.value.lines) == 1 and expected in caught.value.lines[0], caught.value.lines


def test_the_self_check_lints_the_manifests_as_confgen_lint_reads_them():
    _, check = render_kubernetes(BUSY)
    ran = [line for line in check.ran if line.startswith("lint of kubernetes.yaml")]
    assert ran and "Ingress default/shop-api -> Service default/shop-api -> nginx (kubernetes.yaml) -> " \
                   "Deployment default/shop-api container shop-api" in ran[0]


def test_manifests_the_linter_rejects_are_never_written(monkeypatch):
    from confgen.render.checked import SelfCheckFailed

    # A grace period shorter than preStop + the slowest request: the rolling-update rule objects.
    monkeypatch.setattr(sizing, "termination_grace_period", lambda p: sizing.Value(3, "broken on purpose"))
    with pytest.raises(SelfCheckFailed) as refused:
        render_kubernetes(BUSY)
    assert "rolling-update-drops-requests" in str(refused.value.args)


def test_a_kustomization_lists_the_manifests_for_kubectl_apply_k():
    files, _ = render_kubernetes(POD)
    assert set(files) == {"kubernetes.yaml", "kustomization.yaml"}
    kustomization = yaml.safe_load(files["kustomization.yaml"])
    assert kustomization == {"apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization",
                             "resources": ["kubernetes.yaml"]}
    assert stamp.provenance(files["kustomization.yaml"]) == stamp.RENDERED
