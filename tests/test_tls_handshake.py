"""The rendered TLS config negotiates what it says, measured against the real nginx.

nginx takes the protocol versions (and ALPN) from the *default* server of a listening socket,
before SNI picks the named server; before 1.23.4 its default lacks TLSv1.3. So the test starts the
installed nginx on the rendered config (a self-signed certificate made here, high ports) and asks
`openssl s_client` what it gets, for each target version the installed nginx can parse.
"""

from __future__ import annotations

import http.client
import os
import pwd
import shutil
import socket
import ssl
import subprocess
import time
from pathlib import Path

import pytest

from confgen.nginx.versions import parse_version
from confgen.render.rendering import render_profile
from conftest import free_port, MINIMAL_PROFILE, local_paths, require_binary

NAME = "shop.example.test"
HSTS = 63072000



def _ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6) as probe:
            probe.bind(("::1", 0))
        return True
    except OSError:
        return False


def _installed_nginx_version(nginx: str) -> tuple[int, int, int]:
    output = subprocess.run([nginx, "-v"], capture_output=True, text=True, timeout=30).stderr
    return parse_version(output.strip().split("/")[-1].split()[0])


@pytest.fixture(params=["1.18", "1.22"], ids=lambda v: f"target-{v}")
def running_nginx(request, tmp_path, self_signed_cert):
    """The installed nginx serving the rendered TLS config: (https port, http port, target)."""
    nginx = require_binary("nginx")
    target = request.param
    if parse_version(target) > _installed_nginx_version(nginx):
        pytest.skip(f"the installed nginx is older than the target {target}")
    https_port, http_port = free_port(), free_port()
    webroot = tmp_path / "acme"
    (webroot / ".well-known" / "acme-challenge").mkdir(parents=True)
    (webroot / ".well-known" / "acme-challenge" / "token-1").write_text("token-1.proof")
    profile = local_paths({
        **MINIMAL_PROFILE,
        "server_names": [NAME],
        "tls": {"certificate": self_signed_cert[0], "certificate_key": self_signed_cert[1], "hsts_max_age": HSTS,
                "acme_webroot": str(webroot)},
        # Workers as this user (root in CI), so they can read the webroot under the test's tmp dir.
        "nginx": {"http_port": http_port, "https_port": https_port, "ipv6": _ipv6_loopback(),
                  "user": pwd.getpwuid(os.getuid()).pw_name},
        "nginx_version": target,
    }, tmp_path)
    prefix = tmp_path / "prefix"
    (prefix / "logs").mkdir(parents=True)
    (prefix / "conf").mkdir()
    mime = Path("/etc/nginx/mime.types")
    if mime.exists():
        shutil.copy(mime, prefix / "conf" / "mime.types")
    else:
        (prefix / "conf" / "mime.types").write_text("types { text/html html; }\n")
    (prefix / "conf" / "nginx.conf").write_text(render_profile(profile)["nginx.conf"])
    server = subprocess.Popen([nginx, "-p", str(prefix), "-c", str(prefix / "conf" / "nginx.conf"), "-g", "daemon off;"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 15
        while True:
            if server.poll() is not None:
                pytest.fail(f"nginx did not start: {server.stderr.read()}")
            try:
                socket.create_connection(("127.0.0.1", https_port), timeout=1).close()
                socket.create_connection(("127.0.0.1", http_port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail("nginx did not listen within 15 s")
                time.sleep(0.1)
        yield https_port, http_port, target
    finally:
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=15)


def s_client(port: int, *options: str, servername: str = NAME) -> tuple[int, str]:
    openssl = require_binary("openssl")
    result = subprocess.run(
        [openssl, "s_client", "-connect", f"127.0.0.1:{port}", "-servername", servername, *options],
        input="", capture_output=True, text=True, errors="replace", timeout=30,
    )
    return result.returncode, result.stdout + result.stderr


@pytest.mark.parametrize("protocol, name", [("-tls1_2", "TLSv1.2"), ("-tls1_3", "TLSv1.3")])
def test_modern_protocols_negotiate(running_nginx, protocol, name):
    port, _, _ = running_nginx
    code, output = s_client(port, protocol)
    assert code == 0, output
    assert f"Protocol  : {name}" in output or f"New, {name}" in output, output


@pytest.mark.parametrize("protocol", ["-tls1", "-tls1_1"])
def test_old_protocols_are_refused_by_the_server(running_nginx, protocol):
    port, _, _ = running_nginx
    # SECLEVEL=0 lets this client offer TLS 1.0/1.1 at all, so a failure is the server's refusal.
    code, output = s_client(port, protocol, "-cipher", "DEFAULT@SECLEVEL=0")
    assert code != 0, output
    assert "alert protocol version" in output, output  # alert 70, sent by the server


def test_http2_is_offered(running_nginx):
    port, _, _ = running_nginx
    code, output = s_client(port, "-alpn", "h2,http/1.1")
    assert code == 0 and "ALPN protocol: h2" in output, output


def _https_get(port: int, host: str = NAME) -> http.client.HTTPResponse:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE  # the certificate is self-signed
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=15)
    connection.sock = context.wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=15), server_hostname=host)
    connection.request("GET", "/", headers={"Host": host})
    return connection.getresponse()


def test_hsts_and_security_headers_are_sent_even_on_errors(running_nginx):
    port, _, _ = running_nginx
    response = _https_get(port)
    # No app runs behind it: a 502 from nginx, which must carry the headers too (`always`).
    assert response.status == 502
    assert response.getheader("Strict-Transport-Security") == f"max-age={HSTS}"
    assert response.getheader("X-Content-Type-Options") == "nosniff"
    assert response.getheader("X-Frame-Options") == "DENY"
    assert response.getheader("Referrer-Policy") == "strict-origin-when-cross-origin"


def test_unknown_name_is_refused(running_nginx):
    port, _, target = running_nginx
    if parse_version(target) >= (1, 19, 4):
        code, output = s_client(port, servername="unknown.example.test")
        assert code != 0 and "unrecognized name" in output, output  # ssl_reject_handshake
    else:  # no ssl_reject_handshake: the handshake completes, and the answer is no answer (444)
        with pytest.raises((http.client.RemoteDisconnected, ConnectionError)):
            _https_get(port, host="unknown.example.test")


def test_port_80_redirects_with_308(running_nginx):
    _, http_port, _ = running_nginx
    connection = http.client.HTTPConnection("127.0.0.1", http_port, timeout=15)
    connection.request("POST", "/orders?id=7", body=b"x", headers={"Host": NAME})
    response = connection.getresponse()
    assert response.status == 308
    assert response.getheader("Location") == f"https://{NAME}/orders?id=7"


def test_acme_challenge_is_served_before_the_redirect(running_nginx):
    _, http_port, _ = running_nginx
    connection = http.client.HTTPConnection("127.0.0.1", http_port, timeout=15)
    connection.request("GET", "/.well-known/acme-challenge/token-1", headers={"Host": NAME})
    response = connection.getresponse()
    assert response.status == 200 and response.read() == b"token-1.proof"
    assert response.getheader("Content-Type") == "text/plain"
