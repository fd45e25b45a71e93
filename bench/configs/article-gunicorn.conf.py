# The app side of the article's pairing, used by the article-no-keepalive, article and
# generator-style configurations: gunicorn with the uvicorn worker at its defaults, and the
# article's 60 s timeout ("60 sec in gconf in order to time out at app side first").
# keepalive is left at gunicorn's default of 2 s, under nginx's 60 s upstream keepalive_timeout:
# the pairing the idle-race scenario measures. The harness adds bind and workers on the command
# line, the same for every configuration.
worker_class = "uvicorn_worker.UvicornWorker"
timeout = 60
