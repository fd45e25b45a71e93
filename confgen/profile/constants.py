"""The sizing model's constants that lint shares (without loading the sizing model)."""

# Linux's default fs.nr_open: no process can raise RLIMIT_NOFILE above it without a sysctl.
NOFILE_CEILING = 1_048_576
# A proxied client holds two descriptors (client side + upstream side).
FDS_PER_PROXIED_CLIENT = 2
# nginx workers do not share accepts evenly (accept_mutex is off by default since 1.11.3).
ACCEPT_IMBALANCE = 2
UPSTREAM_KEEPALIVE_TIMEOUT_S = 60
# The app must hold idle connections longer than nginx does, so that nginx always closes first.
APP_KEEPALIVE_MARGIN_S = 5
GTHREAD_MAX_THREADS = 32
APP_CONNECTIONS_PER_WORKER = 1000  # gunicorn's worker_connections default
PAGE = 4096
