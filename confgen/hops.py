"""The chain a request travels: client -> balancer -> nginx -> app server, as hops with the timers
that decide who closes an idle connection first and who gives up on a slow request first.

Every reader (nginx, gunicorn and the other app servers, Kubernetes manifests, a declared
balancer) describes its hop here, each number with where it came from (a file and line, or a
documented default with its source), so the chain rules compare hops they know nothing else
about and name both sides of every problem.
"""

from __future__ import annotations

from dataclasses import dataclass, field


_PER_SECOND = {"s": 1, "ms": 1000}


@dataclass(frozen=True)
class Timer:
    """A number of seconds and where it comes from."""

    seconds: float
    source: str                  # "deploy/uwsgi.ini:7", or "uvicorn's default (https://...)"
    setting: str = ""            # the setting as its file spells it: "--timeout-keep-alive", "keepalive"
    # The unit the setting is written in ("ms": granian's --http1-header-read-timeout), so advice
    # names a value the user can write as it is.
    unit: str = "s"
    # The longest the setting may be, in seconds (granian refuses a header read timeout above
    # 60 s); None: no limit. Advice never asks for more than this.
    ceiling: float | None = None

    def spelled(self, seconds: float) -> str:
        """``seconds`` as this setting is written: "75s", or "75000ms = 75s"."""
        if self.unit == "s":
            return f"{seconds:g}s"
        return f"{seconds * _PER_SECOND[self.unit]:g}{self.unit} = {seconds:g}s"

    def describe(self) -> str:
        shown = self.spelled(self.seconds)
        return f"{self.setting} {shown} ({self.source})" if self.setting else f"{shown} ({self.source})"


@dataclass
class Hop:
    """One hop of the chain and its timers (None: it has no such timer, or it is unknown)."""

    kind: str                          # "aws-alb", "gclb", "heroku", "ingress-nginx", "nginx", "uvicorn", ...
    label: str                         # how a message names it
    file: str | None = None            # where a finding about it points
    line: int = 1
    # How long it keeps an idle connection to the next hop in a pool it reuses; None when it
    # does not reuse connections to the next hop.
    idle_to_next: Timer | None = None
    # How long it keeps an idle connection from the previous hop open; None when it closes each
    # connection after one response (gunicorn's sync worker, uWSGI's uwsgi protocol).
    idle_from_previous: Timer | None = None
    # How long it waits for the next hop's response before it answers an error itself.
    waits_for_next: Timer | None = None
    # After how long it kills a request it is still serving (sync workers, uWSGI's harakiri).
    kills_after: Timer | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def where(self) -> tuple[str, int] | None:
        return (self.file, self.line) if self.file else None


# ---------------------------------------------------------------------------------------------
# Balancers a project declares in front (``behind = "aws-alb"``), with their documented timers


@dataclass(frozen=True)
class Platform:
    name: str
    label: str
    idle_to_next: float | None          # its keep-alive to the backend (None: it does not reuse)
    idle_configurable: bool
    waits_for_next: float | None
    source: str
    # Where its documentation says it sets X-Forwarded-Proto itself, replacing what a client
    # sent; None when it passes the client's header on or it depends on its configuration.
    sets_forwarded_proto: str | None = None


PLATFORMS = {
    "aws-alb": Platform(
        "aws-alb", "AWS Application Load Balancer", 60, True, 60,
        "AWS ALB connection idle timeout, default 60 s (idle_timeout.timeout_seconds); AWS asks for an "
        "application idle timeout larger than it: "
        "https://docs.aws.amazon.com/elasticloadbalancing/latest/application/edit-load-balancer-attributes.html",
        "https://docs.aws.amazon.com/elasticloadbalancing/latest/application/x-forwarded-headers.html"),
    "aws-elb": Platform(
        "aws-elb", "AWS Classic Load Balancer", 60, True, 60,
        "Classic ELB idle timeout, default 60 s; keep-alive on instances should be greater: "
        "https://docs.aws.amazon.com/elasticloadbalancing/latest/classic/config-idle-timeout.html",
        "https://docs.aws.amazon.com/elasticloadbalancing/latest/classic/x-forwarded-headers.html"),
    "gclb": Platform(
        "gclb", "Google Cloud external Application Load Balancer", 600, False, 30,
        "backend keep-alive 600 s, fixed; backends must keep idle connections longer; backend service "
        "timeoutSec default 30 s: https://cloud.google.com/load-balancing/docs/https/request-distribution",
        "https://cloud.google.com/load-balancing/docs/https#target-proxies"),
    "heroku": Platform(
        "heroku", "Heroku router (Router 2.0)", 90, False, 30,
        "Router 2.0 closes idle keep-alive connections after 90 s; requests time out after 30 s (H12): "
        "https://devcenter.heroku.com/articles/http-routing#keepalives",
        "https://devcenter.heroku.com/articles/http-routing#heroku-headers"),
    "ingress-nginx": Platform(
        "ingress-nginx", "ingress-nginx", 60, True, 60,
        "ingress-nginx ConfigMap upstream-keepalive-timeout 60, proxy-read-timeout 60: "
        "https://github.com/kubernetes/ingress-nginx/blob/main/docs/user-guide/nginx-configuration/configmap.md",
        "ingress-nginx ConfigMap use-forwarded-headers, false by default: the client's X-Forwarded-* are not "
        "passed on: https://github.com/kubernetes/ingress-nginx/blob/main/docs/user-guide/nginx-configuration/"
        "configmap.md#use-forwarded-headers"),
    # Gateway API has no field for the gateway's keep-alive to its backends: each implementation
    # keeps its own (Envoy-based gateways 1 h unless configured; NGINX Gateway Fabric pools only
    # under an UpstreamSettingsPolicy), so a profile behind one must say what it keeps. How long
    # it waits is the HTTPRoute's timeouts.request, implementation-specific when unset.
    "gateway-api": Platform(
        "gateway-api", "Gateway API gateway", None, True, None,
        "Gateway API leaves the gateway's upstream keep-alive to the implementation: Envoy keeps idle upstream "
        "connections 1 h by default (https://www.envoyproxy.io/docs/envoy/latest/faq/configuration/timeouts), NGINX "
        "Gateway Fabric only pools under an UpstreamSettingsPolicy, keepAlive.timeout 60 s by default "
        "(https://docs.nginx.com/nginx-gateway-fabric/traffic-management/upstream-settings/); HTTPRoute "
        "timeouts.request is its wait, implementation-specific when unset (Envoy Gateway: 15 s, "
        "https://gateway.envoyproxy.io/latest/tasks/traffic/http-timeouts/): "
        "https://gateway-api.sigs.k8s.io/api-types/httproute/#timeouts-optional"),
    # HAProxy has no default for either timer: an unset `timeout http-keep-alive` falls back to
    # `timeout http-request`, then `timeout client`; an unset `timeout server` is infinite (with
    # a startup warning). So a project behind HAProxy must say what its configuration sets.
    "haproxy": Platform(
        "haproxy", "HAProxy", None, True, None,
        "HAProxy `timeout http-keep-alive` (unset: `timeout http-request`, then `timeout client`) and "
        "`timeout server` (unset: infinite) have no default: "
        "https://docs.haproxy.org/2.6/configuration.html#4.2-timeout%20http-keep-alive ; orphaned idle server "
        "connections are purged every pool-purge-delay (default 5 s): "
        "https://docs.haproxy.org/2.6/configuration.html#5.2-pool-purge-delay"),
}


def balancer_hop(name: str, *, idle_timeout: float | None = None, origin: str = "--behind") -> Hop:
    """The hop of a declared balancer; ``idle_timeout`` where the project configures it."""
    from confgen.errors import ConfgenError

    platform = PLATFORMS.get(name)
    if platform is None:
        raise ConfgenError(f"{origin}: unknown balancer {name!r}; known: {', '.join(PLATFORMS)}")
    if idle_timeout is not None and not platform.idle_configurable:
        raise ConfgenError(f"{origin}: {platform.label}'s idle timeout is fixed at {platform.idle_to_next:g}s; "
                           f"it cannot be set")
    if idle_timeout is None and platform.idle_to_next is None:
        raise ConfgenError(f"{origin}: {platform.label} has no default idle timeout; give the one its "
                           f"configuration sets ({platform.source})")
    idle = Timer(idle_timeout, f"{origin}", "idle timeout") if idle_timeout is not None else (
        Timer(platform.idle_to_next, f"{platform.label}'s default; {platform.source}") if platform.idle_to_next else None)
    waits = Timer(platform.waits_for_next, f"{platform.label}'s default; {platform.source}") \
        if platform.waits_for_next else None
    if idle_timeout is not None and name in ("aws-alb", "aws-elb"):
        # An AWS balancer's idle timeout also ends a request whose response sends nothing that long.
        waits = Timer(idle_timeout, origin, "idle timeout")
    return Hop(kind=name, label=platform.label, idle_to_next=idle, waits_for_next=waits)
