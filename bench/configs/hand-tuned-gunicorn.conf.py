# The app side of the hand-tuned configuration, also used by the no-proxy row (wrk straight to
# gunicorn): uvicorn's worker, and an app keep-alive above nginx's upstream keepalive_timeout
# (60 s by default) so that nginx, not the app, closes idle pooled connections. The harness adds
# bind and workers on the command line, the same for every configuration.
worker_class = "uvicorn_worker.UvicornWorker"
keepalive = 75
timeout = 30
