"""Kubernetes pods behind an Ingress or a LoadBalancer Service (CG211): how a pod stops during a
rolling update, read from the manifests by confgen.manifests. The engine sets
``ctx.manifest_pod`` (a confgen.manifests.chains.PodShutdown) from each Chain it lints.
"""

from __future__ import annotations

from typing import Iterator

from confgen.lint.context import LintContext
from confgen.lint.registry import Finding, rule

PRE_STOP_DELAY_S = 10.0
PRE_STOP_ADVICE = ('add a preStop hook that waits a few seconds (lifecycle.preStop.sleep.seconds: 10 on '
                   'Kubernetes 1.30+, or exec: command: ["sleep", "10"]) so the pod keeps serving until the '
                   'front has stopped sending to it')


@rule(code="CG211", name="rolling-update-drops-requests", severity="warning", needs=("chain",))
def rolling_update_drops_requests(ctx: LintContext) -> Iterator[Finding]:
    """A pod behind an Ingress or load balancer stops serving before the front stops sending to it.

    When a rolling update (or a scale-down) deletes a pod, Kubernetes removes it from the
    Service's endpoints and, at the same time, runs its preStop hook and then sends SIGTERM. The
    ingress controller or cloud balancer learns of the removal seconds later (an ALB keeps
    sending to a deregistering target for a few seconds), so without a preStop delay those
    requests reach a server that is already shutting down and fail with 502 or a reset, on every
    deploy. The termination grace period counts from before the preStop hook: it must also
    cover the delay plus the app's own graceful shutdown (gunicorn's ``graceful_timeout``, 30 s
    by default; uvicorn's ``--timeout-graceful-shutdown``), or the kubelet kills the app with
    SIGKILL while it still finishes requests (30 s when the pod does not set it). A period
    equal to the sum is no loss (the app stops its own unfinished requests at that moment), so
    it is reported when shorter; the preStop advice says when the delay it adds would not fit.

    A container whose command runs a shell script that starts the app without ``exec`` is
    reported for that instead: the shell stays the container's first process (PID 1), which
    ignores SIGTERM when it has no handler, so the app is only killed when the grace period
    ends (checked: a Python server under ``sh -c ./run.sh`` in its own PID namespace never got
    the SIGTERM sent to PID 1), and a preStop delay would change nothing.

    When nothing in the input routes to an nginx pod, the Service that selects it is what keeps
    sending; a pod no Service in the input selects (while the input has Services) gets no such
    traffic, so only the grace-period part of the rule applies to it.

    Bad:
        apiVersion: apps/v1
        kind: Deployment
        metadata: {name: web}
        spec:
          selector: {matchLabels: {app: web}}
          template:
            metadata: {labels: {app: web}}
            spec:
              containers:
                - name: web
                  image: registry.example.com/web:1.0
                  command: ["gunicorn", "--bind", "0.0.0.0:8000", "web.wsgi"]
        ---
        apiVersion: v1
        kind: Service
        metadata: {name: web}
        spec:
          selector: {app: web}
          ports: [{port: 80, targetPort: 8000}]
        ---
        apiVersion: networking.k8s.io/v1
        kind: Ingress
        metadata: {name: web}
        spec:
          ingressClassName: nginx
          defaultBackend: {service: {name: web, port: {number: 80}}}

    Good:
        apiVersion: apps/v1
        kind: Deployment
        metadata: {name: web}
        spec:
          selector: {matchLabels: {app: web}}
          template:
            metadata: {labels: {app: web}}
            spec:
              terminationGracePeriodSeconds: 45
              containers:
                - name: web
                  image: registry.example.com/web:1.0
                  command: ["gunicorn", "--bind", "0.0.0.0:8000", "web.wsgi"]
                  lifecycle:
                    preStop:
                      exec:
                        command: ["sleep", "10"]
        ---
        apiVersion: v1
        kind: Service
        metadata: {name: web}
        spec:
          selector: {app: web}
          ports: [{port: 80, targetPort: 8000}]
        ---
        apiVersion: networking.k8s.io/v1
        kind: Ingress
        metadata: {name: web}
        spec:
          ingressClassName: nginx
          defaultBackend: {service: {name: web, port: {number: 80}}}

    References:
        https://kubernetes.io/docs/concepts/workloads/pods/pod-lifecycle/#pod-termination
        https://kubernetes.io/docs/concepts/containers/container-lifecycle-hooks/
        https://github.com/kubernetes-sigs/aws-load-balancer-controller/issues/3270
        https://docs.gunicorn.org/en/stable/settings.html#graceful-timeout
        https://www.uvicorn.org/settings/#timeouts
    """
    pod = getattr(ctx, "manifest_pod", None)
    if pod is None:
        return
    if pod.app_unsignalled is not None:
        # The app never learns of the deletion: it serves on until the kubelet's SIGKILL.
        yield ctx.finding(pod.app_unsignalled,
                          f"{pod.workload}: container {pod.container}'s first process is a shell, and this script "
                          f"starts the app without exec: SIGTERM, which the kubelet sends to that process only, "
                          f"is ignored there (PID 1 drops signals it has no handler for), so the app never shuts "
                          f"down gracefully; it serves on until {pod.grace.describe()} have passed and is then "
                          f"killed (SIGKILL) with its requests, and every pod deletion waits that long; start it "
                          f"with `exec`")
        return
    delay = pod.pre_stop.seconds if pod.pre_stop is not None else 0.0
    if pod.front and (not pod.pre_stop_hook or (pod.pre_stop is not None and delay <= 0)):
        # The advised delay comes out of the same grace period: say so when it would not fit.
        after = PRE_STOP_DELAY_S + pod.app_graceful.seconds if pod.app_graceful is not None else None
        grace = (f", and raise terminationGracePeriodSeconds above {after:g} so it still covers the app's graceful "
                 f"shutdown {pod.app_graceful.describe()}" if after is not None and pod.grace.seconds < after else "")
        yield ctx.finding((pod.file, pod.line),
                          f"{pod.workload}: container {pod.container} stops at once when the pod is deleted, but "
                          f"{pod.front} keeps sending it requests for a few seconds after: on every rolling "
                          f"update they fail with 502; {PRE_STOP_ADVICE}{grace}")
    if pod.pre_stop_hook and pod.pre_stop is None:
        return  # a hook whose duration is unknown (a script, an HTTP call): the budget cannot be summed
    if pod.app_graceful is None:
        return
    needed = delay + pod.app_graceful.seconds
    # A tie is no loss: gunicorn (or uvicorn) stops its own unfinished requests at that moment anyway.
    if pod.grace.seconds < needed:
        parts = (f"the preStop delay {pod.pre_stop.describe()} plus " if pod.pre_stop is not None and delay > 0 else "")
        yield ctx.finding(pod.grace_where,
                          f"{pod.workload}: the termination grace period {pod.grace.describe()} does not cover "
                          f"{parts}the app's graceful shutdown {pod.app_graceful.describe()}: the kubelet kills "
                          f"it (SIGKILL) while it still finishes requests; set terminationGracePeriodSeconds "
                          f"above {needed:g} (e.g. {needed + 5:g})")
