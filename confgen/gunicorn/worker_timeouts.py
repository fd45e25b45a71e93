"""What gunicorn's ``timeout`` bounds for each worker class, and so who limits a slow request.

gunicorn's master kills a worker whose heartbeat is older than ``timeout`` (gunicorn/arbiter.py,
``murder_workers``: SIGABRT, then SIGKILL). Which thread beats decides what that means:

- ``sync``: the worker's one thread beats at the top of its accept loop and then runs the
  handler itself (gunicorn/workers/sync.py, ``run_for_one`` / ``run_for_multiple``): a request
  running longer than ``timeout`` gets its worker aborted. The abort is a ``SystemExit`` raised
  in the handler, which the worker answers with gunicorn's own 500 before it exits (sync.py
  ``handle`` -> base.py ``handle_error``); a handler stuck where no signal is handled (a long C
  call) is SIGKILLed at the master's next check and nginx answers 502. Here ``timeout`` is the
  request limit.
- ``gthread``: the main thread beats on every pass of its poll loop (at most 1 s apart,
  gunicorn/workers/gthread.py ``run``) while handlers run in the pool's threads.
- ``gevent`` / ``eventlet``: a loop of ``notify(); sleep(1.0)`` in its own greenlet
  (gunicorn/workers/ggevent.py ``run``; geventlet.py ``run`` in the gunicorn releases that
  still ship the eventlet worker).
- gunicorn's native ``asgi``: its main loop beats while requests are tasks on the event loop
  (gunicorn/workers/gasgi.py); ``uvicorn_worker.UvicornWorker``: uvicorn's server tick calls
  gunicorn's ``notify`` every ``timeout / 2`` s (uvicorn/server.py ``on_tick``,
  uvicorn_worker ``callback_notify``).

For all but sync, gunicorn documents that ``timeout`` "is not tied to the length of time
required to handle a single request" (https://docs.gunicorn.org/en/stable/settings.html#timeout;
and benoitc in https://github.com/benoitc/gunicorn/issues/2111: "for the sync worker the timeout
behaves like a request timeout"). There nginx's ``proxy_read_timeout`` is the only request
limit: nginx answers 504 and closes the upstream connection, and the handler runs on to its end
(tests/test_render_real_stack.py shows each of these on nginx + gunicorn).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class TimeoutModel:
    """``kills_slow_requests``: a request running longer than gunicorn's ``timeout`` kills its
    worker (sync). ``heartbeat``: what keeps beating while a request runs, when nothing does
    that for the request; ``blocked_by``: what stops the heartbeat and so gets a worker killed."""

    kills_slow_requests: bool
    heartbeat: str
    blocked_by: str


SYNC = TimeoutModel(True, "", "a request running this long")
THREADS = TimeoutModel(False, "the main thread beats every second while request threads run",
                       "a stuck main thread")
GREENLETS = TimeoutModel(False, "a greenlet of its own beats every second while requests run",
                         "code that never yields to the hub (CPU-bound or a blocking C call)")
EVENT_LOOP = TimeoutModel(False, "the event loop beats while requests await",
                          "an event loop blocked this long (a blocking call in an async handler)")

MODELS: dict[str, TimeoutModel] = {
    "sync": SYNC,
    "gthread": THREADS,
    "gevent": GREENLETS,
    "eventlet": GREENLETS,
    "asgi": EVENT_LOOP,
    "uvicorn_worker.UvicornWorker": EVENT_LOOP,
    "uvicorn.workers.UvicornWorker": EVENT_LOOP,
}

# What bounds a handler's work once nginx has given up on it: nothing in gunicorn does.
APP_BOUNDS_ITS_WORK = ("the handler runs on after nginx gives up: bound slow work in the app "
                       "(database statement timeouts, timeouts on outgoing calls)")


def timeout_model(worker_class: str) -> TimeoutModel:
    """The model of a worker class as gunicorn.conf.py names it; a class not known here is
    treated as sync, the one whose timeout cuts requests."""
    return MODELS.get(worker_class, SYNC)
