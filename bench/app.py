"""The benchmark's FastAPI app, and the app-side counters that measure upstream connection reuse.

Endpoints: ``/sync`` (a ``def`` handler, run in the thread pool), ``/async`` (``async def``),
``/sized`` (a JSON body of about ``BENCH_RESPONSE_BYTES`` bytes, the profile's
``avg_response_size``) and ``POST /submit`` (the idle-race scenario's non-idempotent request).

Reuse is counted here, on the app side, rather than read from the nginx config: what the config
asks for and what nginx does can differ (a pool smaller than the concurrency, ``Connection:
close`` sent upstream). When ``BENCH_STATS_DIR`` is set, every worker process keeps two counters in
a small memory-mapped file ``<dir>/<pid>.bin``: connections its event loop accepted and HTTP
requests the app received. The harness sums the files before and after each measurement.

Connections are counted where asyncio accepts them: ``loop.create_server`` is wrapped so that its
protocol factory, called exactly once per accepted connection, bumps the counter. Both uvicorn's
worker and gunicorn's native ``asgi`` worker serve through ``create_server``, so the count does not
depend on the worker class a configuration picks. uvloop's loop cannot be wrapped this way; the
harness reports reuse as unknown when connections stay at zero while requests arrive.
"""

from __future__ import annotations

import asyncio
import mmap
import os
import struct

from fastapi import FastAPI, Request

STATS_DIR_ENV = "BENCH_STATS_DIR"
RESPONSE_BYTES_ENV = "BENCH_RESPONSE_BYTES"
# Two unsigned 64-bit counters: connections accepted, requests received.
STATS_FORMAT = "<QQ"
STATS_SIZE = struct.calcsize(STATS_FORMAT)


class _WorkerCounters:
    """Per-process counters in a shared file; one writer (this process), read by the harness.

    The file is opened lazily and reopened after a fork, so an app preloaded in gunicorn's master
    (``preload_app``) still gets one file per worker.
    """

    def __init__(self, directory: str) -> None:
        self._directory = directory
        self._pid: int | None = None
        self._map: mmap.mmap | None = None
        self.connections = 0
        self.requests = 0

    def _ensure_open(self) -> mmap.mmap:
        pid = os.getpid()
        if self._map is None or self._pid != pid:
            path = os.path.join(self._directory, f"{pid}.bin")
            with open(path, "w+b") as handle:
                handle.write(b"\0" * STATS_SIZE)
                handle.flush()
                self._map = mmap.mmap(handle.fileno(), STATS_SIZE)
            self._pid = pid
            self.connections = self.requests = 0
        return self._map

    def count_connection(self) -> None:
        counters = self._ensure_open()
        self.connections += 1
        struct.pack_into(STATS_FORMAT, counters, 0, self.connections, self.requests)

    def count_request(self) -> None:
        counters = self._ensure_open()
        self.requests += 1
        struct.pack_into(STATS_FORMAT, counters, 0, self.connections, self.requests)


def read_stats(directory: str) -> tuple[int, int]:
    """(connections, requests) summed over every worker that has written to ``directory``."""
    connections = requests = 0
    for name in os.listdir(directory):
        if not name.endswith(".bin"):
            continue
        with open(os.path.join(directory, name), "rb") as handle:
            data = handle.read(STATS_SIZE)
        if len(data) == STATS_SIZE:
            worker_connections, worker_requests = struct.unpack(STATS_FORMAT, data)
            connections += worker_connections
            requests += worker_requests
    return connections, requests


def _count_accepted_connections(counters: _WorkerCounters) -> None:
    original_create_server = asyncio.base_events.BaseEventLoop.create_server

    async def create_server(self, protocol_factory, *args, **kwargs):
        def counting_factory():
            counters.count_connection()
            return protocol_factory()

        return await original_create_server(self, counting_factory, *args, **kwargs)

    asyncio.base_events.BaseEventLoop.create_server = create_server


class _CountRequests:
    """Pure ASGI wrapper (cheaper than a Starlette middleware) counting HTTP requests."""

    def __init__(self, inner, counters: _WorkerCounters) -> None:
        self._inner = inner
        self._counters = counters

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http":
            self._counters.count_request()
        await self._inner(scope, receive, send)


api = FastAPI()
_padding = "x" * max(0, int(os.environ.get(RESPONSE_BYTES_ENV, "2048")) - len('{"ok":true,"pad":""}'))


@api.get("/sync")
def sync_endpoint() -> dict:
    return {"ok": True, "kind": "sync"}


@api.get("/async")
async def async_endpoint() -> dict:
    return {"ok": True, "kind": "async"}


@api.get("/sized")
async def sized_endpoint() -> dict:
    return {"ok": True, "pad": _padding}


@api.post("/submit")
async def submit_endpoint(request: Request) -> dict:
    body = await request.body()
    return {"ok": True, "received": len(body)}


if os.environ.get(STATS_DIR_ENV):
    _counters = _WorkerCounters(os.environ[STATS_DIR_ENV])
    _count_accepted_connections(_counters)
    app = _CountRequests(api, _counters)
else:
    app = api
