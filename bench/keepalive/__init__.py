"""Measure upstream keep-alive end to end: nginx + gunicorn (uvicorn worker) + FastAPI, driven by wrk.

Run it as ``python bench/keepalive.py`` (see bench/README.md); that file only calls ``cli.main``.

Six configurations run side by side and take turns, in alternating rounds (A B C ... then ... C B
A) so that noise and drift from a shared machine hit all of them alike:

- ``article-no-keepalive``: the article's nginx.conf without its upstream ``keepalive`` (baseline);
- ``article``: the article's nginx.conf as published (``keepalive 8``);
- ``generator-style``: a generator's shape (no upstream block, ``Connection`` from an upgrade map);
- ``hand-tuned``: a minimal expert config (pool of 32, HTTP/1.1, ``Connection ""``, only ``Host``
  passed, ``keepalive_requests 10000``, app keep-alive above nginx's): the speed reference;
- ``no-proxy``: wrk straight to gunicorn, no nginx: the ceiling;
- ``confgen``: ``confgen render`` of a profile describing this machine and this load.

The article's three pair with gunicorn's uvicorn worker at its defaults (the article's pairing);
``hand-tuned`` and ``no-proxy`` with ``configs/hand-tuned-gunicorn.conf.py``; ``confgen`` with its
own rendered ``gunicorn.conf.py``. Every configuration is adapted the same way, in paths, ports and
worker counts only (see ``adapt_nginx_config``), so that it runs unprivileged in a temp dir on
127.0.0.1 and unix sockets.

``--ablate`` runs a different experiment: the rendered config with one setting removed or changed
at a time (``ABLATIONS``, applied to the rendered text), each variant's req/s as a ratio to the
unmodified rendered config measured just before and after it in the same round.

Upstream connection reuse is counted on the app side (``bench/app.py``), not inferred from the
configs. A second scenario, the idle race, sends bursts of POSTs separated by idle gaps swept
around the app's keep-alive and counts the 502s of the article's pairing against confgen's. A third
times the CLI as a pre-commit hook would run it. The machine's other load is recorded with every
measurement (load average, and the CPU used by processes the harness did not start), and so is
the servers' own CPU per request, which a busy machine disturbs much less than req/s.

Everything started is in its own session; every session is killed on exit, on Ctrl-C and on
SIGTERM, and checked for leftovers.

One module per concept; each imports only modules listed above it:

- ``repo``: the checkout's directories; this checkout's confgen, on sys.path and for commands;
- ``processes``: starting processes in their own sessions, stopping them, finding leftovers;
- ``configurations``: the configurations compared, their names and files, the endpoints; loading
  them (``confgen render`` for ``confgen``);
- ``adapt``: the one rewrite every nginx config gets to run in the harness (``RunLayout``);
- ``stack``: gunicorn + nginx for one configuration, started, probed, always stopped;
- ``measure``: one wrk run against a stack, with the app's counts and the CPU used;
- ``report``: progress lines on stderr, and the report's tables (the report's data only);
- ``rounds``: the alternating turns of the configurations, and the statistics over rounds;
- ``throughput``: the comparison of the six configurations and its ratios;
- ``ablation``: the variants of the rendered config, and their ratios to it;
- ``race``: the idle race;
- ``cli_latency``: the CLI's wall time;
- ``cli``: options, the run, the exit.
"""

from . import repo  # noqa: F401  (first: puts this checkout's confgen first on sys.path)
