"""Kubernetes manifests as hops of the chain: the Ingress or balancer in front, the Service, the
pods and the app server their containers run (confgen.manifests.chains.chains)."""
