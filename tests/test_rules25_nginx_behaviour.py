"""What the installed nginx does in the cases issue 25's rule changes rest on, checked by running
it: the URI part of proxy_pass after `rewrite ... break`, two content handlers in one location,
a named capture in a redirecting rewrite, allow/deny after `set_real_ip_from 0.0.0.0/0`, and
an event stream's upstream connection when its client leaves. Skipped without nginx unless CONFGEN_REQUIRE_NGINX=1."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
import warnings
from pathlib import Path

import pytest

from lint_helpers import line_of, lint_config, only
from conftest import free_port, owns_listener, require_binary
from test_nginx_model import _RecordingBackend


def _get(port: int, path: str, server, headers: str = "", method: str = "GET") -> bytes:
    """The whole response to one GET (or ``method``), retried while nginx starts (10 s at most):
    a refused connection, or one closed with no answer (nginx always answers), is tried again."""
    deadline = time.monotonic() + 10
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=5) as client:
                client.sendall(f"{method} {path} HTTP/1.0\r\nHost: example.test\r\n{headers}\r\n".encode())
                data = b""
                while chunk := client.recv(65536):
                    data += chunk
            if data or time.monotonic() > deadline or server.poll() is not None:
                return data
        except OSError:
            if time.monotonic() > deadline or server.poll() is not None:
                raise
        time.sleep(0.05)


@contextlib.contextmanager
def _running_nginx(tmp_path, http_body: str, name: str = "nginx.conf"):
    """nginx (the installed binary) with ``http_body`` in its http block, in the foreground under
    ``tmp_path``: yields (the process, the config's path), stopped on leaving."""
    nginx = require_binary("nginx")
    (tmp_path / "logs").mkdir(exist_ok=True)
    conf = tmp_path / name
    conf.write_text(f"pid {tmp_path}/nginx.pid;\nerror_log {tmp_path}/error.log;\nevents {{}}\nhttp {{\n"
                    f"    access_log off;\n{http_body}}}\n")
    server = subprocess.Popen([nginx, "-p", str(tmp_path), "-c", str(conf), "-g", "daemon off;"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        yield server, conf
    finally:
        server.terminate()
        server.wait(timeout=10)


@contextlib.contextmanager
def _running_nginx_on_a_free_port(tmp_path, http_body_for):
    """nginx with ``http_body_for(port)`` in its http block, on a port it is seen to hold: when
    another test took the port between probing and binding, again on another (5 tries). Yields
    (the process, the config's path, the port)."""
    for _ in range(5):
        port = free_port()
        with _running_nginx(tmp_path, http_body_for(port)) as (server, conf):
            if owns_listener(server, port, time.monotonic() + 10):
                yield server, conf, port
                return
    raise AssertionError("no free port nginx could hold in 5 tries")


SERVER = """
    location /c/ {{
        rewrite ^/c/(.*)$ /rewritten/$1 break;
        proxy_pass http://127.0.0.1:{backend}/v1/;
    }}
    location /a/ {{
        proxy_pass http://127.0.0.1:{backend};
        uwsgi_pass 127.0.0.1:{closed};
    }}
    location /b/ {{
        uwsgi_pass 127.0.0.1:{closed};
        proxy_pass http://127.0.0.1:{backend};
    }}
    location /named/ {{
        rewrite ^/named/(a|b)/(?<p>\\W*)$ http://storage/$p redirect;
    }}
    location /numbered/ {{
        rewrite ^/numbered/(a|b)/(\\W*)$ http://storage/$2 redirect;
    }}
    location /admin/ {{
        set_real_ip_from 0.0.0.0/0;
        real_ip_header X-Forwarded-For;
        allow 10.1.2.3;
        deny all;
        proxy_set_header X-Client $remote_addr;
        proxy_pass http://127.0.0.1:{backend};
    }}
"""


def _answer_from_files(tmp_path, files: dict[str, str], server_body: str, path: str) -> tuple[bytes, Path]:
    """nginx's answer to GET ``path`` from a server made of ``server_body`` (``{files}`` in it is a
    directory holding ``files``, readable by nginx's workers), and the config's path."""
    directory = tempfile.mkdtemp(prefix="confgen-files-", dir="/tmp")
    os.chmod(directory, 0o755)      # nginx's workers (nobody, under root) read it
    for name, text in files.items():
        target = Path(directory) / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
        for parent in target.relative_to(directory).parents:
            os.chmod(Path(directory) / parent, 0o755)
    port = free_port()
    try:
        body = server_body.format(files=directory)
        with _running_nginx(tmp_path, f"    server {{\n        listen 127.0.0.1:{port};\n{body}    }}\n") \
                as (server, conf):
            return _get(port, path, server), conf
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def test_the_installed_nginx_does_what_the_rules_say(tmp_path):
    backend = _RecordingBackend()
    port, closed = free_port(), free_port()
    body = textwrap.indent(textwrap.dedent(SERVER.format(backend=backend.port, closed=closed)), " " * 8)
    try:
        with _running_nginx(tmp_path, f"    server {{\n        listen 127.0.0.1:{port};\n{body}    }}\n") as (server, conf):
            # rewrite ... break: the rewritten URI goes upstream whole, the URI part /v1/ is ignored.
            assert b" 200 " in _get(port, "/c/x", server).split(b"\r\n")[0]
            assert backend.requests[-1].startswith("GET /rewritten/x HTTP/1.0")
            # Two content handlers: the one written last answers (uwsgi to a closed port: 502).
            assert b" 502 " in _get(port, "/a/x", server).split(b"\r\n")[0]
            assert b" 200 " in _get(port, "/b/x", server).split(b"\r\n")[0]
            # A named capture in a redirect is copied raw; a numbered one is escaped.
            assert b"Location: http://storage/\n\n" in _get(port, "/named/a/%0a%0a", server)
            assert b"Location: http://storage/%0A%0A\r\n" in _get(port, "/numbered/a/%0a%0a", server)
            # Trusting every peer: the client names its own address, and allow/deny believes it.
            assert b" 403 " in _get(port, "/admin/", server).split(b"\r\n")[0]
            spoofed = _get(port, "/admin/", server, "X-Forwarded-For: 10.1.2.3\r\n")
            assert b" 200 " in spoofed.split(b"\r\n")[0] and "X-Client: 10.1.2.3\r\n" in backend.requests[-1]
    finally:
        backend.sock.close()

    result = lint_config(tmp_path, conf.read_text(), nginx_version="1.22.1")
    assert only(result, "proxy-pass-normalized") == []          # the /v1/ the rule would judge is ignored
    lines = conf.read_text().splitlines()
    a, b = lines.index("        location /a/ {") + 1, lines.index("        location /b/ {") + 1
    # The dead handler is reported: proxy_pass in /a/ (the line after it), uwsgi_pass in /b/.
    conflicts = only(result, "content-handler-conflict")
    assert [f.line for f in conflicts] == [a + 1, b + 1]
    assert "uwsgi_pass" in conflicts[0].message.split("so ")[0] and "proxy_pass (" in conflicts[0].message
    assert f"the last one, proxy_pass ({conf}:{b + 2})" in conflicts[1].message
    # Listening on loopback only, just a process on this machine can connect: not reported;
    # on every address it is.
    assert only(result, "real-ip-from-everyone") == []
    public = lint_config(tmp_path, conf.read_text().replace(f"listen 127.0.0.1:{port};", "listen 80;"),
                         nginx_version="1.22.1")
    [trust_all] = only(public, "real-ip-from-everyone")
    assert trust_all.line == lines.index("            set_real_ip_from 0.0.0.0/0;") + 1
    splitting = only(result, "http-splitting")
    assert [f.message.split(" ")[0] for f in splitting] == ["$p"]   # the named capture, not $2


def _handshake(port: int, maximum_version=None) -> bool:
    """Whether a TLS handshake with 127.0.0.1:port succeeds (at most ``maximum_version``)."""
    import ssl

    context = ssl.create_default_context()
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    if maximum_version is not None:
        context.maximum_version = maximum_version
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as raw, \
                context.wrap_socket(raw, server_hostname="example.test"):
            return True
    except (ssl.SSLError, OSError):
        return False


def test_tls_is_a_property_of_the_socket_as_ssl_listen_missing_says(tmp_path, self_signed_cert):
    """A server with a certificate and `listen PORT;` speaks plain HTTP there; another server's
    `listen PORT ssl` on the same socket makes it TLS for both (so that one is not reported)."""
    cert, key = self_signed_cert
    alone, shared = free_port(), free_port()
    tls = f"ssl_certificate {cert}; ssl_certificate_key {key};"
    with _running_nginx(tmp_path, f"    server {{ listen 127.0.0.1:{alone}; server_name a.test; {tls} return 200 a; }}\n"
                                  f"    server {{ listen 127.0.0.1:{shared} ssl; server_name b.test; {tls} return 200 b; }}\n"
                                  f"    server {{ listen 127.0.0.1:{shared}; server_name c.test; {tls} return 200 c; }}\n"
                        ) as (server, conf):
        assert b" 200 " in _get(alone, "/", server).split(b"\r\n")[0]   # plain HTTP on the "TLS" server
        assert not _handshake(alone)
        assert _handshake(shared)                                       # TLS for c.test too
    found = only(lint_config(tmp_path, conf.read_text(), nginx_version="1.22.1"), "ssl-listen-missing")
    assert [(f.line, f.severity) for f in found] == [(6, "error")]


def test_a_plain_http_redirector_with_certificate_lines_is_not_told_to_listen_with_ssl(tmp_path, self_signed_cert):
    """The http -> https redirector of a site often carries the TLS server's certificate lines.
    They are unused there, and the advice `listen 80 ssl` would break the redirect: on real nginx
    the redirect answers 301 as written and 400 with `ssl` added. Not reported; a server that
    serves content on a plain socket with a certificate still is."""
    cert, key = self_signed_cert
    tls = f"ssl_certificate {cert}; ssl_certificate_key {key};"
    bodies = {
        "return": "return 301 https://a.test$request_uri;",
        "location": "location / { return 308 https://a.test$request_uri; } location /.well-known/ { root /tmp; }",
        "rewrite": "rewrite ^(.*)$ https://a.test$1 permanent;",
    }
    for kind, body in bodies.items():
        answers = {}
        for listen in ("", " ssl"):
            port = free_port()
            with _running_nginx(tmp_path, f"    server {{ listen 127.0.0.1:{port}{listen}; server_name a.test; "
                                          f"{tls} {body} }}\n", f"{kind}{bool(listen)}.conf") as (server, conf):
                answers[listen] = _get(port, "/x", server).split(b"\r\n")[0]
            if not listen:
                assert not only(lint_config(tmp_path, conf.read_text(), nginx_version="1.22.1"),
                                "ssl-listen-missing"), kind
        assert answers[""].split()[1] in (b"301", b"308"), (kind, answers)
        assert answers[" ssl"].split()[1] == b"400", (kind, answers)  # the advice would break it

    # The plain side of a site whose TLS server is another block: silent too. Content served with a
    # certificate on a plain socket, with no TLS twin: reported.
    twin = ("events {}\nhttp {\n"
            "    server { listen 80; server_name a.test; ssl_certificate /c; ssl_certificate_key /k; location / { proxy_pass http://127.0.0.1:9; } }\n"
            "    server { listen 443 ssl; server_name a.test; ssl_certificate /c; ssl_certificate_key /k; location / { proxy_pass http://127.0.0.1:9; } }\n"
            "    server { listen 8443; server_name b.test; ssl_certificate /c; ssl_certificate_key /k; location / { proxy_pass http://127.0.0.1:9; } }\n}\n")
    found = only(lint_config(tmp_path, twin, nginx_version="1.22.1"), "ssl-listen-missing")
    assert [(f.line, f.col) for f in found] == [(5, 14)] and "port 8443" in found[0].message


def test_a_modifier_written_against_its_path_is_read_as_nginx_reads_it(tmp_path):
    """`location ~^/~guido(.*)` is a regex location (nginx reads the ~ glued to the pattern), so its
    $1 is the capture: real nginx redirects /~guido/abc to .../abc; `location =/x` is exact."""
    port = free_port()
    with _running_nginx(tmp_path, f"    server {{\n        listen 127.0.0.1:{port};\n"
                                  f"        location ~^/~guido(.*) {{ return 301 https://example.org/g$1; }}\n"
                                  f"        location =/x {{ return 200 exact; }}\n"
                                  f"        location / {{ return 200 prefix; }}\n    }}\n") as (server, conf):
        redirect = _get(port, "/~guido/abc", server)
        exact, longer = _get(port, "/x", server), _get(port, "/xy", server)
    assert b" 301 " in redirect.split(b"\r\n")[0] and b"Location: https://example.org/g/abc" in redirect
    assert exact.endswith(b"exact") and longer.endswith(b"prefix")
    found = lint_config(tmp_path, conf.read_text(), nginx_version="1.22.1")
    assert only(found, "invalid-capture-reference") == []
    from confgen.nginx.model import LocationMatch, location_match
    from confgen.nginx.parse import load_nginx

    locations = load_nginx(str(conf), nginx_version="1.22.1").find_all("location")
    assert [location_match(d) for d in locations] == [LocationMatch("~", "^/~guido(.*)"), LocationMatch("=", "/x"),
                                                      LocationMatch("", "/")]


class _StreamingBackend:
    """An HTTP/1.1 keep-alive server on 127.0.0.1: /plain answers and waits for the next request
    on the same connection, /stream/ sends a Server-Sent Event every 50 ms until the peer goes
    (at most 10 s). It counts connections and records the ones that ended while streaming."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        self.streams_ended = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn):
        with conn:
            conn.settimeout(10)
            data = b""
            while True:
                while b"\r\n\r\n" not in data:
                    chunk = conn.recv(65536)
                    if not chunk:
                        return
                    data += chunk
                head, _, data = data.partition(b"\r\n\r\n")
                if not head.split(b" ")[1].startswith(b"/stream/"):
                    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
                    continue
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n")
                deadline = time.monotonic() + 10
                try:
                    while time.monotonic() < deadline:
                        conn.sendall(b"9\r\ndata: x\n\n\r\n")
                        time.sleep(0.05)
                except OSError:
                    self.streams_ended.set()
                return


def test_an_event_stream_connection_never_returns_to_the_pool(tmp_path):
    """Why upstream-no-keepalive and proxy-pass-no-upstream skip event-stream locations: nginx
    reuses a pooled connection for ordinary requests, but closes the upstream connection of a
    stream when the client leaves it, so a pool gains nothing there."""
    backend = _StreamingBackend()
    port = free_port()
    proxied = 'proxy_pass http://app; proxy_http_version 1.1; proxy_set_header Connection "";'
    try:
        with _running_nginx(tmp_path, f"    upstream app {{ server 127.0.0.1:{backend.port}; keepalive 4; }}\n"
                                      f"    server {{\n        listen 127.0.0.1:{port};\n"
                                      f"        location /plain {{ {proxied} }}\n"
                                      f"        location /stream/ {{ {proxied} proxy_buffering off; }}\n    }}\n"
                            ) as (server, _):
            _stream_and_leave(port, server, backend)
    finally:
        backend.sock.close()


def _stream_and_leave(port: int, server, backend) -> None:
    assert b" 200 " in _get(port, "/plain", server).split(b"\r\n")[0]
    assert b" 200 " in _get(port, "/plain", server).split(b"\r\n")[0]
    assert backend.connections == 1                       # the pool is reused for plain requests
    with socket.create_connection(("127.0.0.1", port), timeout=5) as client:
        client.sendall(b"GET /stream/ HTTP/1.1\r\nHost: example.test\r\n\r\n")
        received = b""
        while b"data: x" not in received and (chunk := client.recv(65536)):
            received += chunk
        assert b"data: x" in received
    # The client left mid-stream: nginx closes the upstream connection instead of pooling it.
    assert backend.streams_ended.wait(5)
    assert b" 200 " in _get(port, "/plain", server).split(b"\r\n")[0]
    assert backend.connections == 2                       # plain requests still share one pooled connection


def test_event_stream_locations_are_not_told_to_pool(tmp_path):
    stream = """
        events {}
        http {
            upstream events { server 127.0.0.1:9102; }
            server {
                listen 80;
                location /api/stream/ { proxy_pass http://events; proxy_buffering off; }
                location /sse { proxy_pass http://127.0.0.1:9103; proxy_buffering off; proxy_cache off; }
            }
        }
    """
    stream = textwrap.dedent(stream).lstrip()
    result = lint_config(tmp_path, stream, nginx_version="1.22.1")
    assert only(result, "upstream-no-keepalive") == [] and only(result, "proxy-pass-no-upstream") == []
    # A stream path that buffers, or an unbuffered path that names no stream, is an ordinary route.
    lines = stream.splitlines()
    buffered = stream.replace("proxy_buffering off; proxy_cache off;", "")
    assert [f.line for f in only(lint_config(tmp_path, buffered, nginx_version="1.22.1"),
                                 "proxy-pass-no-upstream")] == [next(i for i, t in enumerate(lines, 1) if "/sse" in t)]
    renamed = stream.replace("/api/stream/", "/api/download/")
    assert [f.line for f in only(lint_config(tmp_path, renamed, nginx_version="1.22.1"),
                                 "upstream-no-keepalive")] == [next(i for i, t in enumerate(lines, 1) if "upstream" in t)]


def test_a_resolver_is_asked_only_by_what_resolves_while_running(tmp_path):
    """Why resolver-external skips a resolver nothing uses: nginx resolves proxy_pass and upstream
    names once, at start, without it; only a run-time name (a variable in proxy_pass) queries it."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    listener.bind(("127.0.0.1", 0))
    listener.settimeout(3)
    backend = _RecordingBackend()
    port = free_port()
    try:
        with _running_nginx(tmp_path, f"    upstream app {{ server 127.0.0.1:{backend.port}; }}\n"
                                      f"    server {{\n        listen 127.0.0.1:{port};\n"
                                      f"        resolver 127.0.0.1:{listener.getsockname()[1]} valid=1s;\n"
                                      f"        resolver_timeout 1s;\n"
                                      f"        location / {{ proxy_pass http://app; }}\n"
                                      f"        location /runtime {{ set $peer probe.test; "
                                      f"proxy_pass http://$peer:{backend.port}; }}\n    }}\n") as (server, conf):
            assert b" 200 " in _get(port, "/", server).split(b"\r\n")[0]
            listener.settimeout(0.5)
            with contextlib.suppress(socket.timeout):
                assert listener.recv(512) is None, "a request through the upstream asked the resolver"
            listener.settimeout(3)
            _get(port, "/runtime", server)                  # no answer comes: 502 after resolver_timeout
            assert b"\x05probe\x04test\x00" in listener.recv(512)
    finally:
        listener.close()
        backend.sock.close()
    # The rule follows: a public resolver beside only the upstream is silent, with the variable it is not.
    text = conf.read_text()
    resolver_line = next(line for line in text.splitlines() if "resolver 127" in line)
    public = text.replace(resolver_line, "        resolver 8.8.8.8;")
    assert [f.line for f in only(lint_config(tmp_path, public, nginx_version="1.22.1"), "resolver-external")] == [
        next(i for i, line in enumerate(public.splitlines(), 1) if "resolver 8.8.8.8" in line)]
    unused = "\n".join(line for line in public.splitlines() if "/runtime" not in line)
    assert only(lint_config(tmp_path, unused, nginx_version="1.22.1"), "resolver-external") == []


def test_a_named_location_counts_with_the_paths_that_hand_requests_to_it(tmp_path):
    """`location /ws/ { try_files $uri @ws; }` makes @ws a WebSocket-only location: no pool advice;
    handed over from `location /` it carries ordinary requests, and is advised. Long polls (Odoo's
    /longpolling) are not pool candidates either."""
    ws = textwrap.dedent("""\
        events {}
        http {
          upstream asgi { server unix:/tmp/asgi.socket; }
          map $http_upgrade $connection_upgrade { default upgrade; '' close; }
          server { listen 80;
            location /ws/ { try_files $uri @ws; }
            location @ws { proxy_pass http://asgi; proxy_http_version 1.1;
              proxy_set_header Upgrade $http_upgrade; proxy_set_header Connection $connection_upgrade; } } }
        """)
    assert only(lint_config(tmp_path, ws, nginx_version="1.22.1"), "upstream-no-keepalive") == []
    everything = ws.replace("location /ws/ {", "location / {")
    assert [f.line for f in only(lint_config(tmp_path, everything, nginx_version="1.22.1"),
                                 "upstream-no-keepalive")] == [3]
    odoo = ("events {}\nhttp { server { listen 80;\n"
            "  location /longpolling { proxy_pass http://127.0.0.1:8072; }\n"
            "  location / { proxy_pass http://127.0.0.1:8069; } } }\n")
    assert [f.line for f in only(lint_config(tmp_path, odoo, nginx_version="1.22.1"),
                                 "proxy-pass-no-upstream")] == [4]


def _tls10_handshake(port: int) -> bool:
    """Whether a TLSv1.0 handshake completes (the client itself at OpenSSL's security level 0)."""
    import ssl

    client = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    client.check_hostname, client.verify_mode = False, ssl.CERT_NONE
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)   # TLSv1 is what the test is about
        client.minimum_version = client.maximum_version = ssl.TLSVersion.TLSv1
    client.set_ciphers("DEFAULT:@SECLEVEL=0")
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as raw, client.wrap_socket(raw):
            return True
    except (ssl.SSLError, OSError):
        return False


def test_openssl_3_refuses_old_protocols_unless_the_security_level_is_lowered(tmp_path, self_signed_cert, monkeypatch):
    """Why ssl-weak-protocols trusts the installed nginx's OpenSSL: with OpenSSL 3, a listed TLSv1
    is refused at the default security level and accepted with @SECLEVEL=0 in ssl_ciphers."""
    from confgen.nginx import versions

    if not ssl_library_is_openssl_3():
        pytest.skip("the installed nginx does not run with OpenSSL 3")
    cert, key = self_signed_cert
    plain, lowered = free_port(), free_port()
    tls = f"ssl_certificate {cert}; ssl_certificate_key {key}; ssl_protocols TLSv1 TLSv1.1 TLSv1.2;"
    with _running_nginx(tmp_path, f"    server {{ listen 127.0.0.1:{plain} ssl; {tls} return 200; }}\n"
                                  f"    server {{ listen 127.0.0.1:{lowered} ssl; {tls} "
                                  f"ssl_ciphers DEFAULT:@SECLEVEL=0; return 200; }}\n") as (server, conf):
        _wait_listening(lowered, server)
        assert not _tls10_handshake(plain)
        assert _tls10_handshake(lowered)
    monkeypatch.setattr(versions, "installed_tls_library", lambda target: (3, 0, 22))
    found = only(lint_config(tmp_path, conf.read_text(), nginx_version="1.22.1"), "ssl-weak-protocols")
    lines = conf.read_text().splitlines()
    assert [(f.line, f.severity) for f in found] == [
        (next(i for i, t in enumerate(lines, 1) if str(plain) in t), "info"),      # only TLSv1.3 is missing
        (next(i for i, t in enumerate(lines, 1) if str(lowered) in t), "warning")]
    assert "leaves out TLSv1.3" in found[0].message and "@SECLEVEL=0" in found[1].message
    monkeypatch.setattr(versions, "installed_tls_library", lambda target: (1, 1, 1))
    assert [f.severity for f in only(lint_config(tmp_path, conf.read_text(), nginx_version="1.22.1"),
                                     "ssl-weak-protocols")] == ["warning", "warning"]


def ssl_library_is_openssl_3() -> bool:
    from confgen.nginx import versions

    versions.installed_nginx_build.cache_clear()
    build = versions.installed_nginx_build()
    return build is not None and (build.tls_library or "").startswith("OpenSSL 3")


def _wait_listening(port: int, server) -> None:
    """Wait until nginx listens on ``port`` (10 s at most)."""
    deadline = time.monotonic() + 10
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            if time.monotonic() > deadline or server.poll() is not None:
                raise
            time.sleep(0.05)


def test_a_relay_back_to_this_nginx_gets_no_pool_or_host_advice(tmp_path):
    """kobo-docker's /elb/ health-check relay: proxy_pass to nginx's own port 80, the virtual
    host taken from the path. No app is behind it and its Host picks one of this config's own
    servers: neither pool advice nor host-spoofing; the CR/LF a capture can carry still is."""
    relay = textwrap.dedent("""\
        events {}
        http {
          server { listen 80 default_server; server_name _;
            location / { return 204; }
            location ~ /elb/([^/]*)/(.*)$ { proxy_pass http://127.0.0.1/$2; proxy_set_header Host $1; } }
          server { listen 80; server_name app.example.org;
            location / { proxy_pass http://127.0.0.1:8000; proxy_set_header Host $http_host; } }
        }
        """)
    result = lint_config(tmp_path, relay, nginx_version="1.22.1")
    assert [f.line for f in only(result, "proxy-pass-no-upstream")] == [7]     # the app, not the relay
    assert [f.line for f in only(result, "host-spoofing")] == [7]
    assert [f.line for f in only(result, "http-splitting")] == [5]
    # To another port nothing here listens on, it is an app again.
    elsewhere = relay.replace("http://127.0.0.1/$2", "http://127.0.0.1:9000/$2")
    assert [f.line for f in only(lint_config(tmp_path, elsewhere, nginx_version="1.22.1"), "host-spoofing")] == [5, 7]


def test_uri_in_an_exact_location_is_the_location_itself(tmp_path):
    """`location = /ng-app { return 301 $uri/; }` (SEED): nginx picks it only for the decoded URI
    /ng-app, so $uri there cannot carry CR/LF; a request that tries falls through to `location /`.
    http-splitting is silent there, and still reports $uri in a prefix location."""
    port = free_port()
    body = (f"    server {{\n        listen 127.0.0.1:{port};\n"
            f"        location = /ng-app {{ return 301 $uri/; }}\n"
            f"        location /p/ {{ return 301 $uri/x; }}\n"
            f"        location / {{ return 200 fallthrough; }}\n    }}\n")
    with _running_nginx(tmp_path, body) as (server, conf):
        exact = _get(port, "/ng-app", server)
        injected = _get(port, "/ng-app%0d%0aX-Injected:%20yes", server)
    assert b" 301 " in exact.split(b"\r\n")[0] and b"/ng-app/\r\n" in exact
    assert b" 200 " in injected.split(b"\r\n")[0] and b"X-Injected" not in injected
    lines = conf.read_text().splitlines()
    found = only(lint_config(tmp_path, conf.read_text(), nginx_version="1.22.1"), "http-splitting")
    assert [f.line for f in found] == [next(i for i, t in enumerate(lines, 1) if "location /p/" in t)]


@pytest.mark.parametrize("text, line", [
    ("events {}\nhttp {\n    server {\n        listen 127.0.0.1:{port};\n        include zones.conf;\n    }\n}\n", 1),
    ("worker_connections 512;\nevents {}\nhttp { server { listen 127.0.0.1:{port}; } }\n", 1),
    ("events {}\nhttp {\n    worker_processes 2;\n    server { listen 127.0.0.1:{port}; }\n}\n", 3),
    ("events {}\nhttp {\n    server {\n        listen 127.0.0.1:{port};\n        location / { map $uri $x { default 1; } }\n    }\n}\n", 5),
])
def test_a_directive_outside_its_level_stops_nginx_and_is_reported(tmp_path, text, line):
    """IntelOwl's locations.conf starts with limit_req_zone and is included inside a server:
    nginx -t fails. The same for process settings below the top and events settings outside it."""
    nginx = require_binary("nginx")
    (tmp_path / "logs").mkdir()
    (tmp_path / "zones.conf").write_text("limit_req_zone $binary_remote_addr zone=one:10m rate=1r/s;\n")
    conf = tmp_path / "nginx.conf"
    conf.write_text(f"pid {tmp_path}/nginx.pid;\nerror_log {tmp_path}/error.log;\n"
                    + text.replace("{port}", str(free_port())))
    checked = subprocess.run([nginx, "-t", "-p", str(tmp_path), "-c", str(conf)], capture_output=True, text=True,
                             timeout=30)
    assert checked.returncode != 0 and "directive is not allowed here" in checked.stderr
    [found] = only(lint_config(tmp_path, conf.read_text(), nginx_version="1.22.1",
                               files={"zones.conf": "limit_req_zone $binary_remote_addr zone=one:10m rate=1r/s;\n"}),
                   "directive-not-allowed-here")
    assert found.line == (line if "include" in text else line + 2) and found.severity == "error"


def test_the_one_level_directives_are_those_crossplanes_tables_keep_at_one_level():
    import crossplane.analyzer as analyzer

    from confgen.lint.rules.directives import EVENTS_ONLY, MAIN_ONLY, TOP_LEVEL_TABLES

    arguments = (analyzer.NGX_CONF_NOARGS | analyzer.NGX_CONF_TAKE1 | analyzer.NGX_CONF_TAKE2 | analyzer.NGX_CONF_TAKE3
                 | analyzer.NGX_CONF_TAKE4 | analyzer.NGX_CONF_TAKE5 | analyzer.NGX_CONF_TAKE6 | analyzer.NGX_CONF_TAKE7
                 | analyzer.NGX_CONF_BLOCK | analyzer.NGX_CONF_FLAG | analyzer.NGX_CONF_ANY | analyzer.NGX_CONF_1MORE
                 | analyzer.NGX_CONF_2MORE)

    def contexts(name):
        bits = 0
        for mask in analyzer.DIRECTIVES[name]:
            bits |= mask & ~arguments
        return bits

    mains = analyzer.NGX_HTTP_MAIN_CONF | analyzer.NGX_STREAM_MAIN_CONF | analyzer.NGX_MAIL_MAIN_CONF
    assert all(contexts(n) & analyzer.NGX_HTTP_MAIN_CONF and not contexts(n) & ~mains for n in TOP_LEVEL_TABLES)
    assert all(not contexts(n) & ~(analyzer.NGX_MAIN_CONF | analyzer.NGX_DIRECT_CONF) for n in MAIN_ONLY)
    assert all(not contexts(n) & ~analyzer.NGX_EVENT_CONF for n in EVENTS_ONLY)


def test_a_line_break_in_the_proxy_pass_host_sends_no_request(tmp_path):
    """hypothesis/via: a capture that can hold CR/LF but reaches only proxy_pass's host[:port]. To
    write a header line it must carry ":", which nginx reads as an invalid port: 500, and the
    upstream sees nothing. So http-splitting counts only what follows the host."""
    backend = _RecordingBackend()
    port = free_port()
    try:
        with _running_nginx(tmp_path, f"    server {{\n        listen 127.0.0.1:{port};\n"
                                      f"        location ~ ^/p/(?<h>[^/]+)/ {{ proxy_pass http://$h:{backend.port}/fixed; }}\n"
                                      f"    }}\n") as (server, conf):
            answer = _get(port, "/p/127.0.0.1%0d%0aX-Injected:%20yes/", server)
            time.sleep(0.2)
    finally:
        backend.sock.close()
    assert answer.split(b"\r\n")[0].split()[1] in (b"500", b"502") and backend.requests == []
    assert only(lint_config(tmp_path, conf.read_text(), nginx_version="1.22.1"), "http-splitting") == []


def test_uri_rebuilt_from_the_raw_request_uri_carries_no_decoded_line_break(tmp_path):
    """hypothesis/via proxies `$uri` after `rewrite ^ $request_uri;`: from there $uri is the raw,
    percent-encoded URI, so %0d%0a reaches the upstream still encoded; http-splitting is silent,
    and reports the same location without that rewrite."""
    backend = _RecordingBackend()
    port = free_port()
    location = ("        location ~ ^/p/ {\n            rewrite ^ $request_uri;\n"
                "            rewrite ^/p/(.*)$ /$1 break;\n"
                f"            proxy_pass http://127.0.0.1:{backend.port}$uri;\n        }}\n")
    try:
        with _running_nginx(tmp_path, f"    server {{\n        listen 127.0.0.1:{port};\n{location}    }}\n"
                            ) as (server, conf):
            _get(port, "/p/a%0d%0aX-Injected:%20yes", server)
    finally:
        backend.sock.close()
    assert backend.requests[-1].startswith("GET /a%0d%0aX-Injected:%20yes HTTP/1.0")
    assert "\r\nX-Injected" not in backend.requests[-1]
    assert only(lint_config(tmp_path, conf.read_text(), nginx_version="1.22.1"), "http-splitting") == []
    decoded = conf.read_text().replace("rewrite ^ $request_uri;", "")
    assert only(lint_config(tmp_path, decoded, nginx_version="1.22.1"), "http-splitting")


def test_a_client_ca_without_ssl_verify_client_asks_no_certificate(tmp_path, self_signed_cert):
    """CAPEv2's Cloudflare origin pull: ssl_client_certificate alone lets a client without a
    certificate through (200); with ssl_verify_client on, nginx answers 400."""
    import ssl

    cert, key = self_signed_cert
    open_port, verified = free_port(), free_port()
    tls = f"ssl_certificate {cert}; ssl_certificate_key {key}; ssl_client_certificate {cert};"
    with _running_nginx(tmp_path, f"    server {{ listen 127.0.0.1:{open_port} ssl; {tls} return 200 in; }}\n"
                                  f"    server {{ listen 127.0.0.1:{verified} ssl; {tls} ssl_verify_client on; "
                                  f"return 200 in; }}\n") as (server, conf):
        _wait_listening(verified, server)
        client = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        client.check_hostname, client.verify_mode = False, ssl.CERT_NONE
        statuses = []
        for port in (open_port, verified):
            with socket.create_connection(("127.0.0.1", port), timeout=5) as raw, client.wrap_socket(raw) as tls_socket:
                tls_socket.sendall(b"GET / HTTP/1.0\r\nHost: a.test\r\n\r\n")
                statuses.append(tls_socket.recv(65536).split(b"\r\n")[0].split()[1])
    assert statuses == [b"200", b"400"]
    lines = conf.read_text().splitlines()
    found = only(lint_config(tmp_path, conf.read_text(), nginx_version="1.22.1"), "ssl-client-certificate-unverified")
    assert [f.line for f in found] == [next(i for i, t in enumerate(lines, 1) if str(open_port) in t)]


@pytest.mark.parametrize("group, reported", [("(.*)", False), ("([^/]*)", True)])
def test_a_capture_that_takes_only_a_cr_writes_no_header_line_to_the_app(tmp_path, group, reported):
    """NiceGUI's subpath example: `proxy_set_header X-Forwarded-Prefix /nicegui/$1/` with $1 from
    `^/nicegui/(.*)$`. PCRE's `.` takes a CR but not a LF: a LF never matches the location, and a
    bare CR stays inside the header's line, which the app's parser does not end there (RFC 9112).
    A group that takes a LF does write a line of its own."""
    backend = _RecordingBackend()
    port = free_port()
    try:
        with _running_nginx(tmp_path, f"    server {{\n        listen 127.0.0.1:{port};\n"
                                      f"        location ~ ^/p/{group}$ {{ proxy_set_header X-P /p/$1/; "
                                      f"proxy_pass http://127.0.0.1:{backend.port}; }}\n"
                                      f"        location / {{ return 404; }}\n    }}\n") as (server, conf):
            _get(port, "/p/a%0dX-Injected:%20yes", server)
            line_feed = _get(port, "/p/a%0aX-Injected:%20yes", server)
            time.sleep(0.2)
    finally:
        backend.sock.close()
    heads = [request.split("\r\n") for request in backend.requests]
    assert "X-P: /p/a\rX-Injected: yes/" in heads[0]                     # the CR stays inside the line
    if reported:
        assert any(line.startswith("X-Injected: yes") for line in "\n".join(heads[1]).split("\n"))
    else:
        assert b" 404 " in line_feed.split(b"\r\n")[0] and len(heads) == 1  # a LF does not match `.`
    found = only(lint_config(tmp_path, conf.read_text(), nginx_version="1.22.1"), "http-splitting")
    assert bool(found) is reported


@pytest.mark.parametrize("static_elsewhere", [False, True])
def test_a_variable_in_the_path_makes_nginx_resolve_the_host_while_running(tmp_path, static_elsewhere):
    """NiceGUI's subpath example: `proxy_pass http://app:8080/$1?$args`. A variable anywhere in the
    URL makes nginx look the host up per request: without a resolver every request is a 502. A
    proxy_pass of the same host:port without variables elsewhere creates the server group that
    the run-time URL then finds without DNS."""
    backend = _RecordingBackend()
    port = free_port()
    static = f"        location /static-route/ {{ proxy_pass http://localhost:{backend.port}; }}\n" \
        if static_elsewhere else ""
    try:
        with _running_nginx(tmp_path, f"    server {{\n        listen 127.0.0.1:{port};\n"
                                      f"        location ~ ^/n/(.*)$ {{ proxy_pass http://localhost:{backend.port}/$1; }}\n"
                                      f"{static}    }}\n") as (server, conf):
            answer = _get(port, "/n/x", server)
    finally:
        backend.sock.close()
    status = answer.split(b"\r\n")[0].split()[1]
    assert status == (b"200" if static_elsewhere else b"502")
    found = only(lint_config(tmp_path, conf.read_text(), nginx_version="1.22.1"), "missing-resolver")
    assert bool(found) is not static_elsewhere


def _nginx_t_with_server_line(tmp_path, line: str):
    """`nginx -t` of a server holding ``line`` (at line 7 of the file): (the result, the file)."""
    nginx = require_binary("nginx")
    (tmp_path / "logs").mkdir()
    conf = tmp_path / "nginx.conf"
    conf.write_text(f"pid {tmp_path}/nginx.pid;\nerror_log {tmp_path}/error.log;\nevents {{}}\nhttp {{\n"
                    f"  server {{\n    listen 127.0.0.1:{free_port()};\n    {line}\n  }}\n}}\n")
    return subprocess.run([nginx, "-t", "-p", str(tmp_path), "-c", str(conf)], capture_output=True, text=True,
                          timeout=30), conf


@pytest.mark.parametrize("line, refused", [
    ("ssl_ciphers ECDHE-RSA-AES128-GCM-SHA256: ECDHE:!aNULL;", True),          # jumpserver's installer
    ("ssl_certificate /etc/ssl/a.crt\n    ssl_certificate_key /etc/ssl/a.key;", True),  # GitLab's, a `;` missing
    ("gzip yes;", True),
    ("root;", True),
    ('ssl_ciphers "ECDHE-RSA-AES128-GCM-SHA256: ECDHE";', False),
    ("gzip ON;", False),
    ("types { text/html html htm; }", False),       # table entries are no directives
])
def test_a_directive_nginx_refuses_for_its_arguments_is_reported(tmp_path, line, refused):
    checked, conf = _nginx_t_with_server_line(tmp_path, line)
    assert (checked.returncode != 0) is refused
    if refused:
        assert "invalid number of arguments" in checked.stderr or "invalid value" in checked.stderr
    found = only(lint_config(tmp_path, conf.read_text(), nginx_version="1.22.1"), "directive-arguments")
    assert [f.line for f in found] == ([7] if refused else [])


@pytest.mark.parametrize("name, refused", [
    ("*", True), (".", True), ("*example.com", True), ("*.", True),     # inasafe-django's `server_name *;`
    ("*.example.com", False), (".example.com", False), ("www.example.*", False), ("_", False),
    ("~^(?<sub>.+)\\.example\\.com$", False),
])
def test_a_server_name_nginx_refuses_is_reported(tmp_path, name, refused):
    checked, conf = _nginx_t_with_server_line(tmp_path, f"server_name {name};")
    assert (checked.returncode != 0) is refused, checked.stderr
    if refused:
        assert f'server name "{name}" is invalid' in checked.stderr
    found = only(lint_config(tmp_path, conf.read_text(), nginx_version="1.22.1"), "server-name-invalid")
    assert [f.line for f in found] == ([7] if refused else [])


@pytest.mark.parametrize("address, error", [
    ("[::]80", "invalid host"),                 # set 23's nginx-uwsgi-python, a `:` missing
    ("[::]]:80", "invalid host"), ("[::1", "invalid host"),
    ("::80", "invalid port"), ("1.2.3.4:80:90", "invalid port"), ("*:http", "invalid port"),
    ("127.0.0.1:", "invalid port"), ("[::]:80x", "invalid port"), ("[::1]:", "invalid port"),
    (":80", "no host"), ("[fe80::1%eth0]:80", "invalid IPv6 address"),
    ("[::]:80", None), ("80", None), ("*:8080", None), ("[::1]", None), ("localhost:8080", None),
    ("127.0.0.1", None), ("0.0.0.0:443 ssl", None), ("unix:/run/site.sock", None),
])
def test_a_listen_address_nginx_cannot_read_is_reported(tmp_path, address, error):
    checked, conf = _nginx_t_with_server_line(tmp_path, f"listen {address};")
    if error is None:
        assert f'of the "listen" directive' not in checked.stderr, checked.stderr
    else:
        assert checked.returncode != 0 and f'{error} in "{address}" of the "listen" directive' in checked.stderr
    found = only(lint_config(tmp_path, conf.read_text(), nginx_version="1.22.1"), "listen-address-invalid")
    assert [f.line for f in found] == ([] if error is None else [7])
    if error is not None:
        assert f"nginx refuses to start ({error} in" in found[0].message


class _CookieBackend(_RecordingBackend):
    """An HTTP app on 127.0.0.1 that sets a new cookie on every response it makes, cacheable."""

    @property
    def served(self) -> int:
        return len(self.requests)

    def response(self) -> bytes:
        return (f"HTTP/1.1 200 OK\r\nSet-Cookie: session=client{self.served}\r\n"
                f"Cache-Control: max-age=60\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok").encode()


@pytest.mark.parametrize("hide, replayed", [("", True), ("proxy_hide_header Set-Cookie;", False),
                                             ("proxy_buffering off;", False)])   # nothing is stored then
def test_a_cache_that_ignores_set_cookie_replays_the_first_clients_cookie(tmp_path, hide, replayed):
    """cernopendata's uwsgi cache, with proxy_: `proxy_ignore_headers Set-Cookie` stores the
    response whole, and the cache hit gives the second client the first one's session cookie."""
    backend = _CookieBackend()
    # nginx's workers (nobody, when the tests run as root) write the cache: a directory they reach.
    cache = tempfile.mkdtemp(prefix="confgen-cache-", dir="/tmp")
    os.chmod(cache, 0o777)
    try:
        with _running_nginx_on_a_free_port(tmp_path, lambda port: (
                f"    proxy_cache_path {cache} keys_zone=pages:1m;\n"
                f"    server {{\n        listen 127.0.0.1:{port};\n"
                f"        location / {{ proxy_cache pages; proxy_ignore_headers Set-Cookie; {hide}\n"
                f"            proxy_pass http://127.0.0.1:{backend.port}; }}\n"
                f"    }}\n")) as (server, conf, port):
            first, second = _get(port, "/page", server), _get(port, "/page", server)
    finally:
        backend.sock.close()
        shutil.rmtree(cache, ignore_errors=True)
    assert b" 200 " in first.split(b"\r\n")[0], first
    stored = "buffering" not in hide
    assert backend.served == (1 if stored else 2)                   # the second answer came from the cache
    assert (b"Set-Cookie: session=client1" in second) is replayed
    found = only(lint_config(tmp_path, conf.read_text(), nginx_version="1.22.1"), "cache-replays-set-cookie")
    assert bool(found) is replayed


@pytest.mark.parametrize("alias, reported", [("static", True), ("static/", False)])
def test_an_alias_without_the_locations_slash_serves_sibling_paths(tmp_path, alias, reported):
    """greengo's `location /static/ { alias /app/static; }`: /static/css/a.css is read from
    /app/staticcss/a.css, so the files under /app/static/ answer 404."""
    answer, conf = _answer_from_files(tmp_path, {path: path for path in ("static/css/a.css", "staticcss/a.css")},
                                      f"        location /static/ {{{{ alias {{files}}/{alias}; }}}}\n",
                                      "/static/css/a.css")
    body = answer.split(b"\r\n\r\n", 1)[1]
    assert body == (b"staticcss/a.css" if reported else b"static/css/a.css")
    found = only(lint_config(tmp_path, conf.read_text(), nginx_version="1.22.1"), "alias-drops-slash")
    assert bool(found) is reported


@pytest.mark.parametrize("written, reported", [
    ("{root}/maintenance.html", True),          # openwisp's maintenance page: root spelled out again
    ("$document_root/maintenance.html", True),
    ("$realpath_root$uri.html", True),
    ("/maintenance.html", False),
])
def test_try_files_joins_root_to_a_file_written_as_a_filesystem_path(tmp_path, written, reported):
    """try_files builds each file's path as root + argument, so a root (or $document_root) written
    into the argument is there twice and the file is never found."""
    answer, conf = _answer_from_files(tmp_path, {"maintenance.html": "maintenance"},
                                      f"        root {{files}};\n        location / {{{{ try_files "
                                      f"{written.replace('{root}', '{files}')} =418; }}}}\n", "/maintenance")
    assert answer.startswith(b"HTTP/1.1 418" if reported else b"HTTP/1.1 200"), answer[:40]
    found = only(lint_config(tmp_path, conf.read_text(), nginx_version="1.22.1"), "try-files-filesystem-path")
    assert bool(found) is reported
    if reported:
        assert "never found" in found[0].message and found[0].fix is not None and not found[0].fix.safe


def test_a_location_that_drops_an_outer_transfer_encoding_still_sends_the_body_framed(tmp_path):
    """quay: the server sets `proxy_set_header Transfer-Encoding $http_transfer_encoding`, a
    location its own headers. nginx frames the body it sends itself ($proxy_internal_chunked,
    $proxy_internal_body_length), so nothing is lost: proxy-header-inheritance does not count it."""
    backend = _RecordingBackend()
    port = free_port()
    site = (f"    server {{\n        listen 127.0.0.1:{port};\n"
            f"        proxy_set_header Transfer-Encoding $http_transfer_encoding;\n"
            f"        location /v2/ {{\n            proxy_set_header X-Request-Id $request_id;\n"
            f"            proxy_http_version 1.1;\n            proxy_request_buffering off;\n"
            f"            proxy_pass http://127.0.0.1:{backend.port};\n        }}\n    }}\n")
    try:
        with _running_nginx(tmp_path, site) as (server, conf):
            _get(port, "/", server)        # nginx is up (404 from the server's root)
            with socket.create_connection(("127.0.0.1", port), timeout=5) as client:
                client.sendall(b"POST /v2/blob HTTP/1.1\r\nHost: example.test\r\nTransfer-Encoding: chunked\r\n"
                               b"Connection: close\r\n\r\n5\r\nhello\r\n0\r\n\r\n")
                while client.recv(65536):
                    pass
    finally:
        backend.sock.close()
    sent = backend.requests[-1]   # read whole or streamed: framed either way
    assert "Content-Length: 5\r\n" in sent or "Transfer-Encoding: chunked\r\n" in sent, sent
    assert only(lint_config(tmp_path, conf.read_text(), nginx_version="1.22.1"), "proxy-header-inheritance") == []


AUTH_GATED = """
server {
    listen 80;
    location ~ ^/_storage_proxy/([^/]+)/([^/]+)/(.+) {
        auth_request /_storage_proxy_auth;
        resolver 127.0.0.53;
        proxy_pass $1://$2/$3;
        proxy_set_header Host $2;
        proxy_set_header X-Scope $2;
        add_header X-Storage $2;
    }
    location = /_storage_proxy_auth {
        proxy_pass http://127.0.0.1:8000;
        proxy_pass_request_body off;
        proxy_set_header Content-Length "";
        proxy_set_header X-Original-URI $request_uri;
    }
}
"""


def test_behind_auth_request_the_upstream_request_waits_for_the_auth_endpoints_answer(tmp_path):
    """quay's signed storage proxy: auth_request runs in the access phase, before proxy_pass
    builds the upstream request, so a refused request reaches no upstream (checked on nginx 1.22.1:
    an auth endpoint answering 401 leaves the attacker-chosen host uncontacted)."""
    target, auth = _RecordingBackend(), _RecordingBackend()
    auth.response = lambda: b"HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    port = free_port()
    site = (AUTH_GATED.replace("listen 80;", f"listen 127.0.0.1:{port};").replace("127.0.0.1:8000", f"127.0.0.1:{auth.port}")
            .replace("resolver 127.0.0.53;", ""))
    try:
        with _running_nginx(tmp_path, site) as (server, _):
            answer = _get(port, f"/_storage_proxy/http/127.0.0.1:{target.port}/x", server)
    finally:
        target.sock.close()
        auth.sock.close()
    assert b" 401 " in answer.split(b"\r\n")[0] and target.requests == [] and len(auth.requests) == 1
    result = lint_config(tmp_path, AUTH_GATED, nginx_version="1.22.1")
    assert not {"ssrf", "http-splitting", "host-spoofing", "proxy-header-inheritance"} & {f.rule for f in result.findings}
    assert any("auth_request lets through" in note for note in result.notes)
    # Without the gate each is reported; `satisfy any` opens the gate to another access check.
    for gate in ("", "auth_request /_storage_proxy_auth;\n        allow 10.0.0.0/8;\n        satisfy any;"):
        ungated = lint_config(tmp_path, AUTH_GATED.replace("auth_request /_storage_proxy_auth;", gate),
                              nginx_version="1.22.1")
        assert {"ssrf", "http-splitting"} <= {f.rule for f in ungated.findings}


@pytest.mark.parametrize("lines, reported", [
    ("gzip_types text/css application/json\n    gzip_min_length 1024;", True),    # mailu's front
    ("index index.html\n    autoindex on;", True),
    ("gzip_types text/css\n    application/json;", False),
    ("add_header X-Note \"see\n    index\";", False),                          # a quoted value
])
def test_a_missing_semicolon_before_a_directive_is_accepted_by_nginx_and_reported(tmp_path, lines, reported):
    """nginx -t accepts the swallowed directive as more values: nothing but confgen says so."""
    nginx = require_binary("nginx")
    conf = tmp_path / "nginx.conf"
    conf.write_text(f"pid {tmp_path}/nginx.pid;\nerror_log {tmp_path}/error.log;\nevents {{}}\nhttp {{\n"
                    f"  server {{\n    listen 127.0.0.1:{free_port()};\n    {lines}\n  }}\n}}\n")
    (tmp_path / "logs").mkdir()
    check = subprocess.run([nginx, "-t", "-p", str(tmp_path), "-c", str(conf)], capture_output=True, text=True)
    assert check.returncode == 0, check.stderr
    found = only(lint_config(tmp_path, conf.read_text(), nginx_version="1.22.1"), "missing-semicolon")
    assert bool(found) is reported
    if reported:
        assert found[0].line == 7 and "its `;` is missing" in found[0].message


@pytest.mark.parametrize("root, reported", [("{files}/favicon.ico", True), ("{files}", False)])
def test_a_root_that_names_the_locations_file_is_joined_to_the_uri_again(tmp_path, root, reported):
    """radarhub: `location /favicon.ico { root .../favicon.ico; }` opens .../favicon.ico/favicon.ico."""
    answer, conf = _answer_from_files(tmp_path, {"favicon.ico": "icon"},
                                      f"        location /favicon.ico {{{{ root {root}; }}}}\n", "/favicon.ico")
    assert answer.startswith(b"HTTP/1.1 404" if reported else b"HTTP/1.1 200"), answer[:40]
    found = only(lint_config(tmp_path, conf.read_text(), nginx_version="1.22.1"), "root-names-the-file")
    assert bool(found) is reported


def test_a_rate_limit_keyed_on_a_client_written_header_counts_nothing_without_it(tmp_path):
    """doaj: `limit_req_zone $http_cf_connecting_ip`: a client that leaves the header out is never
    limited, and one that names a new address each time is a new client."""
    port, backend = free_port(), _RecordingBackend()
    # (limit_req runs after the rewrite phase: a `return` would answer before it.)
    site = ("    limit_req_zone $http_cf_connecting_ip zone=api:1m rate=1r/m;\n"
            f"    server {{\n        listen 127.0.0.1:{port};\n"
            f"        location / {{ limit_req zone=api; proxy_pass http://127.0.0.1:{backend.port}; }}\n    }}\n")
    try:
        with _running_nginx(tmp_path, site) as (server, conf):
            def status(headers: str = "") -> bytes:
                return _get(port, "/", server, headers).split(b"\r\n")[0].split()[1]
            assert [status() for _ in range(3)] == [b"200"] * 3                        # no header: not counted
            assert [status("CF-Connecting-IP: 1.2.3.4\r\n") for _ in range(2)] == [b"200", b"503"]
            assert status("CF-Connecting-IP: 1.2.3.5\r\n") == b"200"                  # a new value: a new client
    finally:
        backend.sock.close()
    # Here nginx listens on loopback, where only this machine sends requests: not reported. On
    # a public address it is, unless an allow list closes the location.
    assert only(lint_config(tmp_path, conf.read_text(), nginx_version="1.22.1"), "rate-limit-key-spoofable") == []
    public = conf.read_text().replace(f"listen 127.0.0.1:{port};", "listen 80;")
    (finding,) = only(lint_config(tmp_path, public, nginx_version="1.22.1"), "rate-limit-key-spoofable")
    assert "$http_cf_connecting_ip" in finding.message
    trusted = public.replace("limit_req zone=api;", "limit_req zone=api; allow 10.0.0.0/8; deny all;", 1)
    assert only(lint_config(tmp_path, trusted, nginx_version="1.22.1"), "rate-limit-key-spoofable") == []


def test_a_regex_location_after_a_wider_one_is_never_chosen_for_its_uris(tmp_path):
    """eda-server: `location ~ ^/api/eda/` before `location ~ /api/eda/ws/[0-9a-z-]+`."""
    port = free_port()
    site = (f"    server {{\n        listen 127.0.0.1:{port};\n"
            "        location ~ ^/api/eda/ { return 200 api; }\n"
            "        location ~ /api/eda/ws/[0-9a-z-]+ { return 200 ws; }\n"
            "        location ~ ^/static/app\\.css { return 200 css; }\n"
            "        location ~* ^/static/ { return 200 static; }\n    }\n")
    with _running_nginx(tmp_path, site) as (server, conf):
        assert _get(port, "/api/eda/ws/abc", server).endswith(b"api")
        assert _get(port, "/static/app.css", server).endswith(b"css")
    (finding,) = only(lint_config(tmp_path, conf.read_text(), nginx_version="1.22.1"), "regex-location-shadowed")
    assert finding.line == line_of(conf, "/api/eda/ws/") and "^/api/eda/" in finding.message


def test_a_slash_before_request_uri_doubles_it_and_the_app_gets_the_doubled_path(tmp_path):
    """`return 301 http://host/$request_uri` sends /items to //items: nginx passes that path as
    sent to an app behind proxy_pass without a URI, and FastAPI does not route it."""
    import asyncio

    from fastapi import FastAPI

    redirecting, proxying, backend = free_port(), free_port(), _RecordingBackend()
    site = (f"    server {{\n        listen 127.0.0.1:{redirecting};\n"
            f"        return 301 http://127.0.0.1:{proxying}/$request_uri;\n    }}\n"
            f"    server {{\n        listen 127.0.0.1:{proxying};\n"
            f"        location /items {{ proxy_pass http://127.0.0.1:{backend.port}; }}\n    }}\n")
    try:
        with _running_nginx(tmp_path, site) as (server, conf):
            redirect = _get(redirecting, "/items?page=2", server)
            location = next(line for line in redirect.split(b"\r\n") if line.lower().startswith(b"location:"))
            assert location.split(b": ", 1)[1] == f"http://127.0.0.1:{proxying}//items?page=2".encode()
            followed = _get(proxying, "//items?page=2", server)
            assert followed.startswith(b"HTTP/1.1 200")       # nginx merged the slashes to pick the location ...
            assert backend.requests[-1].startswith("GET //items?page=2 ")   # ... and passed them on
    finally:
        backend.sock.close()

    app = FastAPI()
    app.get("/items")(lambda: {"items": []})

    def status(path: str) -> int:
        sent = []
        scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET", "scheme": "http",
                 "path": path, "raw_path": path.encode(), "query_string": b"", "headers": [(b"host", b"x")],
                 "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 80), "root_path": ""}

        async def receive():
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message):
            sent.append(message)
        asyncio.run(app(scope, receive, send))
        return sent[0]["status"]
    assert (status("/items"), status("//items")) == (200, 404)

    found = only(lint_config(tmp_path, conf.read_text(), nginx_version="1.22.1"), "double-slash-in-url")
    assert [f.line for f in found] == [line_of(conf, "/$request_uri")]
    assert found[0].fix is not None and found[0].fix.safe


def test_a_second_line_of_a_directive_whose_values_add_up_does_not_replace_the_first(tmp_path, self_signed_cert):
    """`include options-ssl.conf` (TLSv1.2 TLSv1.3) then `ssl_protocols TLSv1.3;` still accepts
    TLSv1.2; `gzip_proxied any;` then `gzip_proxied expired no-cache;` still compresses a proxied
    response that may be cached (`expires 1h`), which the second line alone leaves alone. (_get
    speaks HTTP/1.0, hence gzip_http_version 1.0.)"""
    import ssl

    cert, key = self_signed_cert
    (tmp_path / "options-ssl.conf").write_text("ssl_protocols TLSv1.2 TLSv1.3;\n")
    tls_port, plain_port = free_port(), free_port()
    site = (f"    server {{\n        listen 127.0.0.1:{tls_port} ssl;\n"
            f"        ssl_certificate {cert};\n        ssl_certificate_key {key};\n"
            f"        include {tmp_path}/options-ssl.conf;\n        ssl_protocols TLSv1.3;\n        return 200 ok;\n    }}\n"
            f"    server {{\n        listen 127.0.0.1:{plain_port};\n        gzip on;\n        gzip_types text/plain;\n"
            f"        gzip_min_length 1;\n        gzip_http_version 1.0;\n        gzip_proxied any;\n        gzip_proxied expired no-cache;\n"
            f"        expires 1h;\n        default_type text/plain;\n        return 200 \"{'x' * 200}\";\n    }}\n")
    with _running_nginx(tmp_path, site) as (server, conf):
        _get(plain_port, "/", server)                                   # started
        assert _handshake(tls_port, ssl.TLSVersion.TLSv1_2)     # TLSv1.2 still accepted
        proxied = _get(plain_port, "/", server, "Via: 1.1 balancer\r\nAccept-Encoding: gzip\r\n")
        assert b"Content-Encoding: gzip" in proxied.split(b"\r\n\r\n")[0]
    found = only(lint_config(tmp_path, conf.read_text(), nginx_version="1.22.1"), "directive-values-add-up")
    assert sorted(f.line for f in found) == [line_of(conf, "ssl_protocols TLSv1.3"),
                                             line_of(conf, "gzip_proxied expired")]
    assert "TLSv1.2 from the earlier line" in next(f.message for f in found if "ssl_protocols" in f.message)
    # Without the earlier line nothing adds up: the stricter value holds (not compressed).
    with _running_nginx(tmp_path, site.replace("        gzip_proxied any;\n", "")) as (server, conf):
        proxied = _get(plain_port, "/", server, "Via: 1.1 balancer\r\nAccept-Encoding: gzip\r\n")
        assert b"Content-Encoding: gzip" not in proxied.split(b"\r\n\r\n")[0]


def test_a_second_listen_of_the_tls_port_without_ssl_speaks_plain_http(tmp_path, self_signed_cert):
    """cap: `listen 443 ssl; listen [::]:443;` (here on a second loopback address): the second
    socket answers plain HTTP, so a TLS client fails there."""
    cert, key = self_signed_cert
    port = free_port()
    site = (f"    server {{\n        listen 127.0.0.1:{port} ssl;\n        listen 127.0.0.2:{port};\n"
            f"        ssl_certificate {cert};\n        ssl_certificate_key {key};\n        return 200 ok;\n    }}\n")
    with _running_nginx(tmp_path, site) as (server, conf):
        deadline = time.monotonic() + 10
        while not _handshake(port) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _handshake(port)
        with socket.create_connection(("127.0.0.2", port), timeout=5) as client:
            client.sendall(b"GET / HTTP/1.0\r\nHost: x\r\n\r\n")
            assert client.recv(100).startswith(b"HTTP/1.1 200")           # plain HTTP on the TLS port
    [found] = only(lint_config(tmp_path, conf.read_text(), nginx_version="1.22.1"), "ssl-listen-missing")
    assert found.line == line_of(conf, f"listen 127.0.0.2:{port};") and "write `listen" in found.message


def test_certbots_certificate_file_given_as_the_key_stops_nginx(tmp_path, self_signed_cert):
    nginx = require_binary("nginx")
    cert, key = self_signed_cert
    live = tmp_path / "live"
    live.mkdir()
    shutil.copy(cert, live / "fullchain.pem")
    shutil.copy(key, live / "privkey.pem")
    (tmp_path / "logs").mkdir()
    conf = tmp_path / "nginx.conf"
    for key_file, starts in (("fullchain.pem", False), ("privkey.pem", True)):
        conf.write_text(f"pid {tmp_path}/nginx.pid;\nerror_log {tmp_path}/error.log;\nevents {{}}\nhttp {{\n"
                        f"  server {{\n    listen 127.0.0.1:{free_port()} ssl;\n"
                        f"    ssl_certificate {live}/fullchain.pem;\n    ssl_certificate_key {live}/{key_file};\n  }}\n}}\n")
        check = subprocess.run([nginx, "-t", "-p", str(tmp_path), "-c", str(conf)], capture_output=True, text=True)
        assert (check.returncode == 0) is starts, check.stderr
        found = only(lint_config(tmp_path, conf.read_text(), nginx_version="1.22.1"), "ssl-certificate-key-mixup")
        assert [f.line for f in found] == ([] if starts else [line_of(conf, "ssl_certificate_key")])
        if not starts:
            assert "cannot load certificate key" in check.stderr and f"{live}/privkey.pem" in found[0].message


def test_a_file_limit_no_higher_than_worker_connections_runs_out_before_the_connections(tmp_path):
    """worker_rlimit_nofile 20 with worker_connections 20: 8 proxied clients hold 16 connections,
    yet nginx's own descriptors take the worker past the limit ("Too many open files"); with
    the limit at twice worker_connections it never runs out and every request is answered."""
    nginx = require_binary("nginx")
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)

    def slow_backend():
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return

            def answer(conn=conn):
                with conn:
                    conn.recv(4096)
                    time.sleep(1.5)
                    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
            threading.Thread(target=answer, daemon=True).start()
    threading.Thread(target=slow_backend, daemon=True).start()

    def statuses(limit: int) -> list[bytes]:
        port = free_port()
        (tmp_path / "logs").mkdir(exist_ok=True)
        conf = tmp_path / "nginx.conf"
        conf.write_text(f"pid {tmp_path}/nginx.pid;\nerror_log {tmp_path}/error.log;\nworker_processes 1;\n"
                        f"worker_rlimit_nofile {limit};\nevents {{ worker_connections 20; }}\nhttp {{\n  access_log off;\n"
                        f"  server {{ listen 127.0.0.1:{port}; location / {{ proxy_pass "
                        f"http://127.0.0.1:{listener.getsockname()[1]}; }} }}\n}}\n")
        server = subprocess.Popen([nginx, "-p", str(tmp_path), "-c", str(conf), "-g", "daemon off;"])
        try:
            _get(port, "/", server)                                        # started (and answered)
            answers: list[bytes] = []

            def ask():
                try:
                    answers.append(_get(port, "/", server).split(b"\r\n")[0])
                except OSError as error:
                    answers.append(repr(error).encode())
            clients = [threading.Thread(target=ask) for _ in range(8)]
            for client in clients:
                client.start()
            for client in clients:
                client.join(30)
            return answers
        finally:
            server.terminate()
            server.wait(timeout=10)
    log = tmp_path / "error.log"
    try:
        # Whether a request then fails (a 500 when the upstream socket cannot be opened) or only
        # waits (nginx accepts again once descriptors are free) is a matter of timing; the
        # worker running out of descriptors is not.
        statuses(20)
        assert "Too many open files" in log.read_text()
        log.write_text("")
        assert all(line.startswith(b"HTTP/1.1 200") for line in statuses(40))
        assert "Too many open files" not in log.read_text()
    finally:
        listener.close()
    found = only(lint_config(tmp_path, (tmp_path / "nginx.conf").read_text().replace("rlimit_nofile 40", "rlimit_nofile 20"),
                             nginx_version="1.22.1"), "worker-connections-nofile")
    assert len(found) == 1 and "raise it to 40" in found[0].message


def test_a_server_level_raw_uri_rewrite_leaves_location_captures_encoded(tmp_path):
    """perma: `rewrite ^ $request_uri;` in the server runs before the location regex matches, so
    what it captures keeps %0d%0a as written (http-splitting stays silent there)."""
    port = free_port()
    site = (f"    server {{\n        listen 127.0.0.1:{port};\n        rewrite ^ $request_uri;\n"
            f"        location ~ ^/p/(.*)$ {{ return 200 \"[$1]\"; }}\n    }}\n")
    with _running_nginx(tmp_path, site) as (server, conf):
        answer = _get(port, "/p/a%0d%0aX-Evil:%201", server)
    assert answer.endswith(b"[a%0d%0aX-Evil:%201]"), answer
    assert only(lint_config(tmp_path, conf.read_text(), nginx_version="1.22.1"), "http-splitting") == []


def test_a_proxied_head_answer_gets_no_content_length_from_nginx(tmp_path):
    """acme2certifier: `if ($request_method = "HEAD") { add_header Content-length 0; }` beside a
    pass to the app: nginx adds no Content-Length of its own to the proxied HEAD answer, so the
    added one is the only one (add-header-content-length gives a note there)."""
    class NoLength(_RecordingBackend):
        def response(self) -> bytes:
            return b"HTTP/1.1 200 OK\r\nReplay-Nonce: x\r\nConnection: close\r\n\r\n"

    port, backend = free_port(), NoLength()
    site = (f"    server {{\n        listen 127.0.0.1:{port};\n        location / {{\n"
            f"            proxy_pass http://127.0.0.1:{backend.port};\n"
            f"            if ($request_method = \"HEAD\") {{\n                add_header Content-length 0;\n"
            f"            }}\n        }}\n    }}\n")
    try:
        with _running_nginx(tmp_path, site) as (server, conf):
            head = _get(port, "/", server, method="HEAD")
    finally:
        backend.sock.close()
    assert head.lower().count(b"content-length") == 1, head
    result = lint_config(tmp_path, conf.read_text(), nginx_version="1.22.1")
    assert only(result, "add-header-content-length") == []
    assert any("proxied HEAD answer" in note for note in result.notes)


def test_a_sync_worker_past_its_timeout_ends_the_request_with_502_however_long_nginx_waits(tmp_path):
    """flaski: proxy_read_timeout raised far above gunicorn's timeout. The sync worker busy past
    `timeout = 2` is aborted and the request ends with an error then (gunicorn's 500), not when
    nginx's own 10 s run out."""
    require_binary("nginx")
    try:
        import gunicorn  # noqa: F401
    except ImportError:
        if os.environ.get("CONFGEN_REQUIRE_NGINX") == "1":
            pytest.fail("gunicorn is required (CONFGEN_REQUIRE_NGINX=1)")
        pytest.skip("gunicorn is not installed")
    (tmp_path / "slow_app.py").write_text(
        "import time\n\ndef application(environ, start_response):\n"
        "    time.sleep(float(environ.get('QUERY_STRING') or 0))\n"
        "    start_response('200 OK', [('Content-Length', '2')])\n    return [b'ok']\n")
    app_port, port = free_port(), free_port()
    (tmp_path / "gunicorn.conf.py").write_text(f"bind = '127.0.0.1:{app_port}'\nworker_class = 'sync'\ntimeout = 2\n")
    app = subprocess.Popen([sys.executable, "-m", "gunicorn", "-c", str(tmp_path / "gunicorn.conf.py"), "--chdir",
                            str(tmp_path), "slow_app:application"], start_new_session=True,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    site = (f"    server {{\n        listen 127.0.0.1:{port};\n        location / {{\n"
            f"            proxy_pass http://127.0.0.1:{app_port};\n            proxy_read_timeout 10s;\n"
            f"        }}\n    }}\n")
    try:
        with _running_nginx(tmp_path, site) as (server, conf):
            deadline = time.monotonic() + 15
            while not _get(port, "/", server).startswith(b"HTTP/1.1 200"):
                assert time.monotonic() < deadline, "gunicorn did not start"
                time.sleep(0.1)
            started = time.monotonic()
            answer = _get(port, "/?5", server)
            took = time.monotonic() - started
    finally:
        os.killpg(app.pid, signal.SIGTERM)
        app.wait(timeout=10)
    assert answer.split(b" ")[1] in (b"500", b"502"), answer[:40]
    assert took < 8, took                                   # the app's timeout, not nginx's 10 s
    result = lint_config(tmp_path, conf.read_text(), gunicorn=(tmp_path / "gunicorn.conf.py").read_text(),
                         nginx_version="1.22.1")
    # 10 s is not above nginx's default 60 s: nobody raised it for long requests, so it is quiet.
    assert only(result, "proxy-waits-past-app-timeout") == []
    raised = lint_config(tmp_path, conf.read_text().replace("proxy_read_timeout 10s", "proxy_read_timeout 600s"),
                         gunicorn=(tmp_path / "gunicorn.conf.py").read_text(), nginx_version="1.22.1")
    [found] = only(raised, "proxy-waits-past-app-timeout")
    assert "an error after 2s" in found.message


@pytest.mark.parametrize("refusal, served", [("", True), ("        location ~ \\.py$ {{ deny all; }}\n", False)])
def test_a_root_that_is_the_apps_directory_answers_its_settings_file(tmp_path, refusal, served):
    """mhn: `root /opt/mhn/server` (the directory supervisor runs uWSGI in) with `try_files $uri
    @app` answers GET /config.py with the file itself, before the app is asked."""
    body = ("        root {files};\n        location / {{ try_files $uri @app; }}\n"
            "        location @app {{ uwsgi_param REQUEST_METHOD $request_method; uwsgi_pass 127.0.0.1:9; }}\n"
            + refusal)
    answer, conf = _answer_from_files(tmp_path, {"config.py": "SECRET_KEY = 'x'\n"}, body, "/config.py")
    assert (b"SECRET_KEY" in answer) is served, answer[:60]
    root = next(line.split()[1].rstrip(";") for line in conf.read_text().splitlines() if line.strip().startswith("root"))
    supervisor = (f"[program:app]\ncommand=/opt/app/env/bin/uwsgi -s 127.0.0.1:9 -w app:app\n"
                  f"directory={root}\n")
    (tmp_path / "supervisord.conf").write_text(supervisor)
    from confgen.lint.engine import lint

    result = lint([str(conf)], gunicorn=str(tmp_path / "supervisord.conf"), select=["ALL"], nginx_version="1.22.1")
    found = only(result, "root-serves-app-code")
    assert bool(found) is served


def test_an_alias_without_slashes_serves_siblings_and_the_advice_keeps_the_bare_prefix_answering(tmp_path):
    """kitchenbook's `location /kitchen { alias .../dist; }`: /kitchen-old/x is read from
    dist-old/x, and /kitchen answers with a redirect to the directory; the advice (both ends in
    `/`, and an exact location redirecting the bare prefix) closes the first and keeps the second."""
    files = {"dist/index.html": "app\n", "dist-old/secret.txt": "secret\n"}
    for name in ("before", "bare", "lint", "after", "after-bare"):
        (tmp_path / name).mkdir()
    before = "        location /kitchen {{ alias {files}/dist; }}\n"
    answer, conf = _answer_from_files(tmp_path / "before", files, before, "/kitchen-old/secret.txt")
    assert b" 200 " in answer.split(b"\r\n")[0] and answer.endswith(b"secret\n")
    assert _answer_from_files(tmp_path / "bare", files, before, "/kitchen")[0].startswith(b"HTTP/1.1 301")
    message = only(lint_config(tmp_path / "lint", conf.read_text(), nginx_version="1.22.1"), "alias-traversal")[0].message
    advice = re.findall(r"`([^`]*)`", message)
    assert advice[0] == "location /kitchen/" and advice[2] == "location = /kitchen { return 301 /kitchen/; }"
    after = (f"        {advice[0]} {{{{ alias {{files}}/dist/; }}}}\n"
             f"        {advice[2].replace('{', '{{').replace('}', '}}')}\n")
    closed = _answer_from_files(tmp_path / "after", files, after, "/kitchen-old/secret.txt")[0]
    assert b" 200 " not in closed.split(b"\r\n")[0] and b"secret" not in closed
    moved = _answer_from_files(tmp_path / "after-bare", files, after, "/kitchen")[0]
    assert moved.startswith(b"HTTP/1.1 301") and b"/kitchen/\r\n" in moved


@pytest.mark.parametrize("host_line, reported", [("", True), ("proxy_set_header Host $host;", False)])
def test_without_a_host_header_the_app_gets_the_upstreams_name(tmp_path, host_line, reported):
    """fabrik's `proxy_pass http://django_server;` with no Host: the app is asked for
    `django_server`, not the name the client used; with `Host $host` it gets the client's."""
    backend = _RecordingBackend()
    try:
        def http_body(port):
            return (f"    upstream django_server {{ server 127.0.0.1:{backend.port}; }}\n"
                    f"    server {{\n        listen 127.0.0.1:{port};\n"
                    f"        location / {{ proxy_pass http://django_server; {host_line} }}\n    }}\n")
        with _running_nginx_on_a_free_port(tmp_path, http_body) as (server, conf, port):
            assert b" 200 " in _get(port, "/", server).split(b"\r\n")[0]
        sent = re.search(r"\r\nHost: ([^\r]*)\r\n", backend.requests[-1]).group(1)
    finally:
        backend.sock.close()
    assert sent == ("django_server" if reported else "example.test")
    (tmp_path / "lint").mkdir()
    result = lint_config(tmp_path / "lint", conf.read_text(), nginx_version="1.22.1",
                         app_command=f"gunicorn -b 127.0.0.1:{backend.port} shop.wsgi")
    found = only(result, "app-sees-upstream-host")
    assert bool(found) is reported
    if reported:
        assert f"`Host: {sent}`" in found[0].message and "ALLOWED_HOSTS" in found[0].message


@pytest.mark.parametrize("target, reported", [("https://$host", True), ("https://$host$request_uri", False)])
def test_a_redirect_to_the_host_alone_drops_the_path_and_query(tmp_path, target, reported):
    """test-applications-manager: `return 301 https://$host;` (its $request_uri emptied by
    envsubst) sends every page to the home page."""
    def http_body(port):
        return f"    server {{\n        listen 127.0.0.1:{port};\n        return 301 {target};\n    }}\n"
    with _running_nginx_on_a_free_port(tmp_path, http_body) as (server, conf, port):
        answer = _get(port, "/orders/42?tab=2", server)
    location = re.search(rb"\r\nLocation: ([^\r]*)\r\n", answer).group(1)
    assert location == (b"https://example.test" if reported else b"https://example.test/orders/42?tab=2")
    (tmp_path / "lint").mkdir()
    found = only(lint_config(tmp_path / "lint", conf.read_text(), nginx_version="1.22.1"), "redirect-drops-path")
    assert bool(found) is reported
