"""``render --target kubernetes``: the edge object in front of the Service, chosen by ``behind``:
an Ingress for ingress-nginx (annotations from the chain model), an HTTPRoute for a Gateway API
gateway (timeouts.request from the chain model), nothing for the other balancers. Each value
follows the profile; the manifests' own reader (the one ``confgen lint`` uses) sees the edge wait
longer than nginx in the pod and give idle connections up first."""

from __future__ import annotations

import json
import re

import pytest
import yaml
from click.testing import CliRunner

from confgen.cli import main
from confgen.errors import ConfgenError
from confgen.manifests.chains import chains
from confgen.nginx.parse import load_nginx
from confgen.profile import sizing
from confgen.profile.loading import load_profile
from confgen.render.checked import render_with_check
from confgen.render.kubernetes import SERVICE_PORT, render_kubernetes
from confgen.units import parse_time
from conftest import MINIMAL_PROFILE

kubernetes_validate = pytest.importorskip(
    "kubernetes_validate", reason="kubernetes-validate is not installed (pip install kubernetes-validate); it ships "
                                  "the schemas, so it works offline once installed")

KUBERNETES_VERSION = "1.30"
ANNOTATION = "nginx.ingress.kubernetes.io/"
INGRESS = {**MINIMAL_PROFILE, "name": "shop_api", "kubernetes": {"image": "registry.example/shop:1.4"},
           "max_body_size": "50m", "server_names": ["shop.example.com", "www.shop.example.com"],
           "app": {"module": "shop.wsgi:application", "kind": "wsgi", "latency_ms": 80, "timeout_s": 25},
           "behind": "ingress-nginx", "trusted_proxies": ["10.0.0.0/8"]}
GATEWAY = {**INGRESS, "behind": {"balancer": "gateway-api", "idle_timeout_s": 3600},
           "kubernetes": {"image": "registry.example/shop:1.4", "gateway": {"name": "public", "namespace": "edge"}}}
# Gateway API durations (GEP-2257): up to four <1-5 digits><h|m|s|ms>.
GATEWAY_DURATION = re.compile(r"^([0-9]{1,5}(h|m|s|ms)){1,4}$")


def _text(profile: dict) -> str:
    files, check = render_kubernetes(profile)
    assert check.passed, check.lines()
    return files["kubernetes.yaml"]


def _documents(profile: dict) -> dict[str, dict]:
    return {document["kind"]: document for document in yaml.safe_load_all(_text(profile))}


def _annotations(profile: dict) -> dict[str, str]:
    return _documents(profile)["Ingress"]["metadata"]["annotations"]


def _pod_nginx(documents: dict, tmp_path) -> dict[str, list[str]]:
    """http-level and location-level directives of the nginx.conf the ConfigMap carries."""
    path = tmp_path / "nginx.conf"
    path.write_text(documents["ConfigMap"]["data"]["nginx.conf"])
    config = load_nginx(str(path))
    found: dict[str, list[str]] = {}

    def walk(block):
        for directive in block:
            found.setdefault(directive.name, directive.args)
            if directive.block is not None:
                walk(directive.block)
    walk(config.root.block)
    return found


# ---------------------------------------------------------------------------------------------
# Valid objects


@pytest.mark.parametrize("profile", [INGRESS, {**INGRESS, "server_names": []},
                                     {**INGRESS, "server_names": [".Shop.example.com"]}, GATEWAY],
                         ids=["ingress", "ingress, every host", "ingress, wildcard", "httproute"])
def test_every_document_is_valid_kubernetes(profile):
    documents = _documents(profile)
    edge = "HTTPRoute" if profile is GATEWAY else "Ingress"
    assert set(documents) == {"ConfigMap", "Deployment", "Service", "HorizontalPodAutoscaler",
                              "PodDisruptionBudget", edge}
    for kind, document in documents.items():
        if kind == "HTTPRoute":
            continue  # a custom resource: see test_the_httproute_is_a_gateway_api_v1_route
        kubernetes_validate.validate(document, KUBERNETES_VERSION, strict=True)


def test_a_broken_ingress_is_caught_by_the_validator():
    ingress = _documents(INGRESS)["Ingress"]
    ingress["spec"]["rules"][0]["http"]["paths"][0]["pathType"] = 7
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(ingress, KUBERNETES_VERSION, strict=True)


def test_the_httproute_is_a_gateway_api_v1_route():
    """HTTPRoute is a custom resource: Kubernetes' schemas (kubernetes-validate) do not describe it,
    and no well-kept Python package ships its CRD schema, so its fields are checked here against
    the Gateway API spec's constraints instead."""
    documents = _documents(GATEWAY)
    route, service = documents["HTTPRoute"], documents["Service"]
    assert route["apiVersion"] == "gateway.networking.k8s.io/v1"
    assert route["metadata"]["name"] == service["metadata"]["name"] == "shop-api"
    spec = route["spec"]
    assert spec["parentRefs"] == [{"name": "public", "namespace": "edge"}]
    assert spec["hostnames"] == ["shop.example.com", "www.shop.example.com"]
    rule, = spec["rules"]
    assert rule["matches"] == [{"path": {"type": "PathPrefix", "value": "/"}}]
    # backendRefs name the Service and its port by number (a Service backendRef needs port).
    assert rule["backendRefs"] == [{"name": "shop-api", "port": SERVICE_PORT}]
    assert service["spec"]["ports"][0]["port"] == SERVICE_PORT
    assert set(rule["timeouts"]) == {"request"} and GATEWAY_DURATION.match(rule["timeouts"]["request"])
    without_namespace = {**GATEWAY, "server_names": [], "kubernetes": {**GATEWAY["kubernetes"],
                                                                      "gateway": {"name": "public"}}}
    spec = _documents(without_namespace)["HTTPRoute"]["spec"]
    assert spec["parentRefs"] == [{"name": "public"}] and "hostnames" not in spec


# ---------------------------------------------------------------------------------------------
# The Ingress for ingress-nginx


def test_the_ingress_routes_every_server_name_to_the_services_named_port():
    documents = _documents(INGRESS)
    ingress, service = documents["Ingress"], documents["Service"]
    assert ingress["spec"]["ingressClassName"] == "nginx"
    assert [rule["host"] for rule in ingress["spec"]["rules"]] == ["shop.example.com", "www.shop.example.com"]
    port_name = service["spec"]["ports"][0]["name"]
    for rule in ingress["spec"]["rules"]:
        path, = rule["http"]["paths"]
        assert (path["path"], path["pathType"]) == ("/", "Prefix")
        assert path["backend"] == {"service": {"name": service["metadata"]["name"], "port": {"name": port_name}}}
    # nginx's .example.com is the name and its subdomains: two hosts; no server_names, one rule for every host.
    hosts = [r["host"] for r in _documents({**INGRESS, "server_names": [".Shop.example.com"]})["Ingress"]["spec"]["rules"]]
    assert hosts == ["shop.example.com", "*.shop.example.com"]
    rules = _documents({**INGRESS, "server_names": []})["Ingress"]["spec"]["rules"]
    assert len(rules) == 1 and "host" not in rules[0]
    custom = {**INGRESS, "kubernetes": {**INGRESS["kubernetes"], "ingress_class": "nginx-internal"}}
    assert _documents(custom)["Ingress"]["spec"]["ingressClassName"] == "nginx-internal"


def test_each_annotation_comes_from_the_pods_nginx_with_its_reason(tmp_path):
    documents = _documents(INGRESS)
    annotations = documents["Ingress"]["metadata"]["annotations"]
    assert set(annotations) == {ANNOTATION + name for name in (
        "proxy-read-timeout", "proxy-send-timeout", "proxy-body-size", "proxy-buffer-size", "client-body-buffer-size")}
    assert all(isinstance(value, str) for value in annotations.values())  # annotations are strings
    nginx = _pod_nginx(documents, tmp_path)
    pod_waits = parse_time(nginx["proxy_read_timeout"][0])
    assert pod_waits == 25
    # The ingress waits 10 % (at least 5 s) longer than nginx in the pod: nginx's 504 reaches the client.
    assert annotations[ANNOTATION + "proxy-read-timeout"] == "30"
    assert annotations[ANNOTATION + "proxy-send-timeout"] == "30"
    assert annotations[ANNOTATION + "proxy-body-size"] == nginx["client_max_body_size"][0] == "50m"
    assert annotations[ANNOTATION + "proxy-buffer-size"] == nginx["proxy_buffer_size"][0] == "8k"
    assert annotations[ANNOTATION + "client-body-buffer-size"] == nginx["client_body_buffer_size"][0] == "16k"
    # Every annotation carries its reason on its line; the keep-alive it cannot set is explained.
    text = _text(INGRESS)
    for key in annotations:
        line = next(line for line in text.splitlines() if line.strip().startswith(key + ":"))
        assert "  # " in line and len(line.partition("  # ")[2]) > 40, line
    assert "proxy-next-upstream" in text and "upstream-keepalive-timeout, is a setting of the" in text
    assert "upstream-keepalive-timeout:" not in text  # no invented annotation
    assert "keepalive_timeout 75s;" in documents["ConfigMap"]["data"]["nginx.conf"]  # above the ingress's 60 s


@pytest.mark.parametrize("changes, read_timeout", [
    ({}, "30"),
    ({"app": {**INGRESS["app"], "timeout_s": 3}}, "8"),        # at least 5 s longer
    ({"app": {**INGRESS["app"], "timeout_s": 100}}, "110"),    # 10 % longer
    ({"behind": {"balancer": "ingress-nginx", "request_timeout_s": 45}}, "45"),  # as the profile says
])
def test_a_timeout_change_moves_the_ingress_timeouts(changes, read_timeout):
    annotations = _annotations({**INGRESS, **changes})
    assert annotations[ANNOTATION + "proxy-read-timeout"] == annotations[ANNOTATION + "proxy-send-timeout"] == read_timeout


@pytest.mark.parametrize("size, expected", [("50m", "50m"), ("1m", "1m"), ("1536", "1536"), (0, "1")])
def test_the_body_size_follows_max_body_size(size, expected):
    # 0: the pod rejects every body with client_max_body_size 1; 0 at the ingress would mean unlimited.
    assert _annotations({**INGRESS, "max_body_size": size})[ANNOTATION + "proxy-body-size"] == expected


def test_an_app_slower_than_the_ingress_default_is_served_by_the_ingress_it_renders():
    """Behind an ingress configured elsewhere, an app.timeout_s at its 60 s default is refused; the
    Ingress this target renders waits longer, and the chain model checks that instead."""
    slow = {**INGRESS, "app": {**INGRESS["app"], "timeout_s": 90}}
    with pytest.raises(ConfgenError, match="ingress-nginx gives up after"):
        render_with_check(slow)
    assert _annotations(slow)[ANNOTATION + "proxy-read-timeout"] == "99"
    # A wait the profile gives is rendered as given, so one under nginx's is still refused.
    with pytest.raises(ConfgenError) as caught:
        render_kubernetes({**slow, "behind": {"balancer": "ingress-nginx", "request_timeout_s": 90}})
    assert len(caught.value.lines) == 1 and "gives up after request timeout 90s" in caught.value.lines[0]


def test_the_configmap_is_the_plain_render_whatever_the_ingress_waits():
    documents = _documents({**INGRESS, "app": {**INGRESS["app"], "timeout_s": 90}})
    plain, _ = render_with_check({**INGRESS, "app": {**INGRESS["app"], "timeout_s": 90}, "nginx": {"user": "nginx"},
                                  "behind": {"balancer": "ingress-nginx", "request_timeout_s": 99}})
    assert documents["ConfigMap"]["data"]["nginx.conf"] == plain["nginx.conf"]


def test_several_routes_the_ingress_outwaits_the_slowest():
    routes = {key: value for key, value in INGRESS.items() if key not in ("app", "expected_qps")}
    routes["routes"] = [
        {"name": "api", "path": "/api/", "expected_qps": 50, "app": {"module": "api.main:app", "kind": "asgi",
                                                                      "timeout_s": 10}},
        {"name": "web", "path": "/", "expected_qps": 50, "app": {"module": "web.wsgi:application", "kind": "wsgi",
                                                                  "timeout_s": 40}}]
    annotations = _annotations(routes)
    assert annotations[ANNOTATION + "proxy-read-timeout"] == "45"
    assert "route web's proxy_read_timeout 40s" in sizing.edge_request_timeout(load_profile(routes)).reason


# ---------------------------------------------------------------------------------------------
# The HTTPRoute for a Gateway API gateway


@pytest.mark.parametrize("changes, expected", [
    ({}, "30s"),
    ({"app": {**GATEWAY["app"], "timeout_s": 120}}, "132s"),
    ({"behind": {**GATEWAY["behind"], "request_timeout_s": 300}}, "300s"),
    ({"app": {**GATEWAY["app"], "timeout_s": 86400}}, "95040s"),  # the longest app.timeout_s: still 5 digits
])
def test_the_route_timeout_follows_the_app_timeout(changes, expected):
    rule = _documents({**GATEWAY, **changes})["HTTPRoute"]["spec"]["rules"][0]
    assert rule["timeouts"]["request"] == expected and GATEWAY_DURATION.match(expected)


def test_nginx_outlasts_the_gateways_keepalive_and_the_route_says_what_it_cannot_set():
    text = _text(GATEWAY)
    documents = {document["kind"]: document for document in yaml.safe_load_all(text)}
    assert "keepalive_timeout 3615s;" in documents["ConfigMap"]["data"]["nginx.conf"]
    assert "keeps idle connections to nginx for 3600s (profile behind.idle_timeout_s)" in text
    assert "allow max_body_size, 50m" in text and "whole exchange" in text
    with pytest.raises(ConfgenError) as caught:
        render_kubernetes({**GATEWAY, "behind": "gateway-api"})
    assert len(caught.value.lines) == 1 and "Gateway API gateway has no default idle timeout" in caught.value.lines[0]


# ---------------------------------------------------------------------------------------------
# What confgen's own manifest reader (and so `confgen lint`) makes of the rendered edge


@pytest.mark.parametrize("profile", [INGRESS, GATEWAY], ids=["ingress", "httproute"])
def test_the_lints_reader_sees_the_edge_wait_longer_than_nginx_and_idle_less(profile, tmp_path):
    path = tmp_path / "kubernetes.yaml"
    path.write_text(_text(profile))
    found = chains([str(path)])
    chain, = found
    # The edge reaches the pod's nginx (read from the ConfigMap), which forwards to the app container.
    assert chain.service == "Service default/shop-api" and chain.container == "shop-api" and chain.nginx is not None
    nginx = _pod_nginx({d["kind"]: d for d in yaml.safe_load_all(path.read_text())}, tmp_path)
    assert chain.front.waits_for_next.seconds > parse_time(nginx["proxy_read_timeout"][0])
    if profile is INGRESS:  # the gateway's keep-alive is its implementation's: the reader does not know it
        assert chain.front.idle_to_next.seconds == 60 < parse_time(nginx["keepalive_timeout"][0])


@pytest.mark.parametrize("profile", [INGRESS, GATEWAY], ids=["ingress", "httproute"])
def test_confgen_lint_finds_nothing_to_warn_about_in_the_rendered_manifests(profile, tmp_path):
    path = tmp_path / "kubernetes.yaml"
    path.write_text(_text(profile))
    result = CliRunner().invoke(main, ["lint", str(path), "--format", "json"])
    assert result.exit_code == 0, result.output
    findings = json.loads(result.stdout)
    assert [f for f in findings if f.get("severity") in ("error", "warning")] == [], findings


# ---------------------------------------------------------------------------------------------
# Other balancers, and what this target cannot render


def test_other_balancers_get_no_edge_object_and_a_comment_saying_so():
    for behind in ("aws-alb", "gclb", None):
        profile = {**INGRESS, "behind": behind} if behind else {k: v for k, v in INGRESS.items() if k != "behind"}
        text = _text(profile)
        kinds = {document["kind"] for document in yaml.safe_load_all(text)}
        assert not kinds & {"Ingress", "HTTPRoute"}
        assert "route the balancer to Service shop-api" in text if behind else "no edge object" in text


@pytest.mark.parametrize("changes, expected", [
    ({"behind": {"balancer": "gateway-api", "idle_timeout_s": 60}}, "kubernetes.gateway: behind gateway-api renders "
                                                                    "an HTTPRoute"),
    ({"kubernetes": {**GATEWAY["kubernetes"]}}, "kubernetes.gateway: only used with behind gateway-api"),
    ({"kubernetes": {**INGRESS["kubernetes"], "ingress_class": "nginx"}, "behind": "aws-alb"},
     "kubernetes.ingress_class: only used with behind ingress-nginx"),
    ({"server_names": ["shop.example.com", "10.0.0.7"]}, "server_names.1: 10.0.0.7 is an IP address"),
])
def test_what_the_edge_cannot_render_is_refused_in_one_line(changes, expected):
    with pytest.raises(ConfgenError) as caught:
        render_kubernetes({**INGRESS, **changes})
    assert len(caught.value.lines) == 1 and expected in caught.value.lines[0], caught.value.lines


@pytest.mark.parametrize("gateway, expected", [
    ({"name": "public", "section": "https"}, "kubernetes.gateway.section: unknown key"),
    ({"name": "Public_GW"}, "kubernetes.gateway.name: 'Public_GW' is not allowed here"),
    ({"namespace": "edge"}, "kubernetes.gateway.name: missing, and required"),
])
def test_a_bad_gateway_key_is_one_line_naming_its_yaml_path(gateway, expected, tmp_path):
    path = tmp_path / "profile.yaml"
    path.write_text(yaml.safe_dump({**GATEWAY, "kubernetes": {**GATEWAY["kubernetes"], "gateway": gateway}}))
    result = CliRunner().invoke(main, ["render", str(path), "--target", "kubernetes", "--stdout"])
    assert result.exit_code == 2 and "Traceback" not in result.output
    line, = [line for line in result.output.splitlines() if line.strip()]
    assert line.startswith(f"{path}:") and expected in line, line


def test_explain_for_kubernetes_shows_the_edge_values_and_the_plan_it_is_checked_with(tmp_path):
    path = tmp_path / "profile.yaml"
    path.write_text(yaml.safe_dump({**INGRESS, "app": {**INGRESS["app"], "timeout_s": 90}}))
    result = CliRunner().invoke(main, ["render", str(path), "--target", "kubernetes", "--explain"])
    assert result.exit_code == 0, result.output
    row = next(line for line in result.output.splitlines()
               if line.startswith("Ingress nginx.ingress.kubernetes.io/proxy-read-timeout"))
    assert row.split()[2] == "99" and "proxy_read_timeout 90s" in row
    assert "self-check passed" in result.output
    # Without --target kubernetes the Ingress is not rendered: ingress-nginx's 60 s default is in front.
    plain = CliRunner().invoke(main, ["render", str(path), "--explain"])
    assert plain.exit_code == 2 and "ingress-nginx gives up after" in plain.output
    path.write_text(yaml.safe_dump(GATEWAY))
    result = CliRunner().invoke(main, ["render", str(path), "--target", "kubernetes", "--explain"])
    assert result.exit_code == 0 and "HTTPRoute timeouts.request" in result.output, result.output
