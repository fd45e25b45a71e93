"""Edges of the TLS and hygiene rules (CG702 ssl-weak-ciphers, CG703 hsts-missing, CG706
ssl-ecdh-curve-pq, CG709 ssl-listen-missing, CG802 error-log-off, CG803 default-server-missing,
CG804 low-keepalive-requests): the documented examples at their exact place, the near misses on
both sides of each rule's boundary (inherited values, sockets other servers share, files the
deployment provides), and what the messages say nginx does, on the real nginx."""

from __future__ import annotations

import http.client
import re
import socket
import ssl
import subprocess

import pytest

import confgen
from confgen.lint.engine import get_rule
from confgen.nginx import versions
from conftest import require_binary
from lint_helpers import only
from test_rules25_nginx_behaviour import _handshake
from test_rules_edges_engine import check_documented_examples, fetch, lint_file, linted, nginx_serving, parsed, place

HSTS = 'add_header Strict-Transport-Security "max-age=31536000" always;'
# The real ones, taken before conftest's tls_library_unknown replaces them for each test.
INSTALLED_TLS_LIBRARY, INSTALLED_CIPHER_FAMILIES = versions.installed_tls_library, versions.installed_cipher_families


@pytest.mark.parametrize("name, expected", [
    ("ssl-weak-ciphers", [("ssl_ciphers", 1, ["broken suites (RC4-SHA, DES-CBC3-SHA)", "!aNULL:!MD5"])]),
    ("hsts-missing", [("server {", 1, ["sends no Strict-Transport-Security header", "max-age=31536000"])]),
    ("ssl-ecdh-curve-pq", [("ssl_ecdh_curve", 1, ["X25519MLKEM768 only exists from OpenSSL 3.5", "does not start",
                                                  "prefix with ?"])]),
    ("ssl-listen-missing", [("listen 443;", 1, ["certificate (/etc/ssl/example.pem)", "no listen with ssl",
                                                "port 443 speaks plain HTTP", "listen 443 ssl"])]),
    ("error-log-off", [("error_log off", 1, ['a file named "off"', "/dev/null"])]),
    ("default-server-missing", [("listen 80; server_name a.example", 1, ["2 servers listen on *:80",
                                                                        "none is default_server",
                                                                        "nginx.conf:3"])]),
    ("low-keepalive-requests", [("keepalive_requests 100", 1, ["keepalive_requests 100 closes client connections "
                                                               "every 100 requests", "1000 since 1.19.10"])]),
])
def test_documented_bad_example_fires_at_its_directive_and_good_example_is_silent(tmp_path, name, expected):
    check_documented_examples(tmp_path, name, expected)


def findings(tmp_path, nginx: str, rule: str, **options):
    return only(linted(tmp_path, nginx, **options), rule)


# ---------------------------------------------------------------------------------------------
# CG702 ssl-weak-ciphers


@pytest.mark.parametrize("ciphers, weak", [
    ("ECDHE-RSA-DES-CBC3-SHA:HIGH", "ECDHE-RSA-DES-CBC3-SHA"),      # 3DES inside a modern-looking name
    ("HIGH:aNULL", "aNULL"),                                          # anonymous: authenticates nothing
    ("EXP-RC4-MD5:HIGH", "EXP-RC4-MD5"),
    ("DHE-RSA-SEED-SHA ECDHE-RSA-AES128-GCM-SHA256", "DHE-RSA-SEED-SHA"),   # space-separated also counts
    ('"HIGH:eNULL:!MD5"', "eNULL"),
])
def test_ssl_weak_ciphers_names_only_the_broken_suites(tmp_path, ciphers, weak):
    [finding] = findings(tmp_path, f"server {{\n    listen 443 ssl;\n    ssl_ciphers {ciphers};\n}}\n", "ssl-weak-ciphers")
    assert (finding.line, finding.col) == (3, 5)
    assert f"broken suites ({weak})" in finding.message


@pytest.mark.parametrize("ciphers", [
    "HIGH:!aNULL:!MD5",                                   # nginx's own default
    '"ALL:!RC4:!DES:!3DES:!MD5:!aNULL:!eNULL:!EXPORT"',   # every weak word excluded
    "ECDHE+AESGCM:ECDHE+CHACHA20:-RC4",
    "HIGH:!aNULL:!MD5:@STRENGTH",
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES256-GCM-SHA384:DHE-RSA-CHACHA20-POLY1305",
])
def test_ssl_weak_ciphers_is_silent_for_excluded_or_current_suites(tmp_path, ciphers):
    assert findings(tmp_path, f"server {{\n    listen 443 ssl;\n    ssl_ciphers {ciphers};\n}}\n", "ssl-weak-ciphers") == []


@pytest.mark.parametrize("ciphers, weak", [
    # OpenSSL reads the list in order: "+" only moves ciphers already in it, "-" removes them
    # until a later term adds them again, "!" removes them for good (issue 25).
    ("HIGH:-RC4:+RC4", None),
    ("HIGH:!aNULL:+aNULL", None),
    ("RC4-SHA:HIGH:-RC4", None),
    ("RC4-SHA:HIGH:!RC4", None),
    ("!3DES:DES-CBC3-SHA:HIGH", None),                  # banned before: never added
    ("HIGH:!aNULL+ECDH:aNULL+ECDH", None),
    ("EXP-RC4-MD5:HIGH:!MD5", None),                    # the suite uses MD5: removed whole
    ('"DEFAULT:!aNULL"', None),
    ("HIGH:-aNULL:aNULL", "aNULL"),                     # "-" then added again
    ("-3DES:DES-CBC3-SHA:HIGH", "DES-CBC3-SHA"),
    ("DES-CBC3-SHA:HIGH:!DES", "DES-CBC3-SHA"),         # DES is single DES, not triple DES
    ("RC4:HIGH:!MD5", "RC4"),                           # only RC4-MD5 goes; RC4-SHA stays
    ("RC4:HIGH:!RC4-MD5", "RC4"),                       # one suite by name removes only that one
    ("HIGH:RSA+RC4:@STRENGTH", "RSA+RC4"),
])
def test_ssl_weak_ciphers_reads_the_list_in_order_as_openssl_does(tmp_path, ciphers, weak):
    found = findings(tmp_path, f"server {{\n    listen 443 ssl;\n    ssl_ciphers {ciphers};\n}}\n", "ssl-weak-ciphers")
    assert [(f.line, f.col) for f in found] == ([] if weak is None else [(3, 5)])
    if weak is not None:
        assert f"broken suites ({weak})" in found[0].message


@pytest.mark.parametrize("ciphers, anonymous", [("HIGH:-aNULL:+aNULL", False), ("HIGH:-aNULL:aNULL", True)])
def test_a_plus_term_adds_no_cipher_on_nginx_as_ssl_weak_ciphers_reads_it(
        tmp_path, self_signed_cert, ciphers, anonymous):
    # A client that offers only anonymous suites (aNULL, OpenSSL's security level 0 on both
    # sides): nginx completes the handshake only where the list holds them.
    cert, key = self_signed_cert
    body = (f"    server {{\n        listen 127.0.0.1:{{port}} ssl;\n        ssl_certificate {cert};\n"
            f"        ssl_certificate_key {key};\n        ssl_protocols TLSv1.2;\n"
            f"        ssl_ciphers \"{ciphers}:@SECLEVEL=0\";\n        return 200 ok;\n    }}\n")
    with nginx_serving(tmp_path, body) as (port, _, conf):
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
        context.maximum_version = ssl.TLSVersion.TLSv1_2
        context.set_ciphers("aNULL:@SECLEVEL=0")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=5) as raw, context.wrap_socket(raw) as tls:
                negotiated = tls.cipher()[0]
        except ssl.SSLError:
            negotiated = None
        found = only(lint_file(conf), "ssl-weak-ciphers")
    assert (negotiated is not None) is anonymous, negotiated
    if anonymous:
        assert negotiated.startswith(("ADH", "AECDH"))
    assert [(f.line, f.col) for f in found] == ([place(conf.read_text(), "ssl_ciphers")] if anonymous else [])


def test_ssl_weak_ciphers_is_reported_once_where_written_not_in_every_server_inheriting_it(tmp_path):
    nginx = ("http {\n    ssl_ciphers RC4-SHA:HIGH;\n    server { listen 443 ssl; server_name a.example; }\n"
             "    server { listen 443 ssl; server_name b.example; }\n}\n")
    assert [(f.line, f.col) for f in findings(tmp_path, nginx, "ssl-weak-ciphers")] == [(2, 5)]


# What the TLS library has and accepts: monkeypatched as conftest's tls_library_unknown says (the
# installed library is checked against the real nginx below).
DEBIAN_12 = frozenset({"MD5", "eNULL", "aNULL"})     # what `openssl ciphers` lists on Debian 12's OpenSSL 3.0
WEAK_BUILD = frozenset(versions.BROKEN_CIPHER_FAMILIES)  # a build with enable-weak-ssl-ciphers (and more)


def _library(monkeypatch, library, families):
    monkeypatch.setattr(versions, "installed_tls_library", lambda target: library)
    monkeypatch.setattr(versions, "installed_cipher_families", lambda target: families)


@pytest.mark.parametrize("ciphers, library, families, weak", [
    # Debian 12's OpenSSL 3.0: no RC4 or 3DES suite to enable; NULL, anonymous and MD5 suites
    # exist but are refused at the default security level, and accepted at @SECLEVEL=0.
    ("RC4-SHA:DES-CBC3-SHA:HIGH", (3, 0, 22), DEBIAN_12, None),
    ("ECDHE-RSA-DES-CBC3-SHA:HIGH:RC4", (3, 0, 22), DEBIAN_12, None),
    ("NULL-MD5:aNULL:HIGH", (3, 0, 22), DEBIAN_12, None),
    ('"NULL-MD5:HIGH:@SECLEVEL=0"', (3, 0, 22), DEBIAN_12, "NULL-MD5"),
    ('"DES-CBC3-SHA:aNULL:HIGH:@SECLEVEL=0"', (3, 0, 22), DEBIAN_12, "aNULL"),
    # An OpenSSL 3 built with enable-weak-ssl-ciphers has them.
    ("RC4-SHA:DES-CBC3-SHA:HIGH", (3, 0, 22), WEAK_BUILD, "RC4-SHA, DES-CBC3-SHA"),
    # OpenSSL 1.0.2 has no security levels: NULL suites it has are accepted.
    ("NULL-MD5:HIGH", (1, 0, 2), WEAK_BUILD, "NULL-MD5"),
    # The library known from nginx -V, its families not (no openssl command of that version).
    ("NULL-MD5:DES-CBC3-SHA:HIGH", (3, 0, 22), None, "DES-CBC3-SHA"),
])
def test_ssl_weak_ciphers_reports_only_what_the_installed_library_has_and_accepts(
        tmp_path, monkeypatch, ciphers, library, families, weak):
    _library(monkeypatch, library, families)
    found = findings(tmp_path, f"server {{\n    listen 443 ssl;\n    ssl_ciphers {ciphers};\n}}\n", "ssl-weak-ciphers")
    assert [(f.line, f.col, f.severity) for f in found] == ([] if weak is None else [(3, 5, "warning")])
    if weak is not None:
        assert f"broken suites ({weak})" in found[0].message
        if families is not None:
            assert "if nginx's OpenSSL" not in found[0].message       # known: no hedge
        else:
            assert "if nginx's OpenSSL has them (Debian 12's OpenSSL 3.0 has no 3DES suite)" in found[0].message


@pytest.mark.parametrize("ciphers, named", [
    ("DES-CBC3-SHA", "DES-CBC3-SHA"),
    ("RC4:3DES:!aNULL", "RC4, 3DES"),
    ('"ECDHE-RSA-DES-CBC3-SHA:@STRENGTH"', "ECDHE-RSA-DES-CBC3-SHA"),
])
def test_a_list_of_only_suites_the_library_lacks_is_an_error_nginx_does_not_start_with(
        tmp_path, monkeypatch, ciphers, named):
    _library(monkeypatch, (3, 0, 22), DEBIAN_12)
    [finding] = findings(tmp_path, f"server {{\n    listen 443 ssl;\n    ssl_ciphers {ciphers};\n}}\n", "ssl-weak-ciphers")
    assert (finding.line, finding.col, finding.severity) == (3, 5, "error")
    assert finding.message.startswith(f"ssl_ciphers names only suites the installed nginx's OpenSSL 3.0.22 does not "
                                      f"have ({named}): `nginx -t` fails with \"no cipher match\"")
    # With the suites in the library, or another suite beside them, nginx starts: no error.
    _library(monkeypatch, (3, 0, 22), WEAK_BUILD)
    [finding] = findings(tmp_path / "weak", f"server {{\n    ssl_ciphers {ciphers};\n}}\n", "ssl-weak-ciphers")
    assert finding.severity == "warning"
    _library(monkeypatch, (3, 0, 22), DEBIAN_12)
    assert findings(tmp_path / "high", f"server {{\n    ssl_ciphers {ciphers}:HIGH;\n}}\n".replace('":HIGH', ':HIGH"'),
                    "ssl-weak-ciphers") == []


@pytest.mark.parametrize("ciphers, hedge", [
    ("RC4-SHA:DES-CBC3-SHA:HIGH", " if nginx's OpenSSL has them (Debian 12's OpenSSL 3.0 has no RC4 or 3DES suite)"),
    ("NULL-MD5:HIGH", " if nginx's OpenSSL accepts them (OpenSSL 1.1.0 and newer refuse NULL, anonymous, MD5 and "
                      "export suites at their default security level)"),
    ("RC4-SHA:aNULL", " if nginx's OpenSSL has and accepts them (Debian 12's OpenSSL 3.0 has no RC4 suite; OpenSSL "
                      "1.1.0 and newer refuse"),
    ('"NULL-MD5:HIGH:@SECLEVEL=0"', ";"),          # accepted wherever the library has it
    ("HIGH:IDEA", " if nginx's OpenSSL has them (Debian 12's OpenSSL 3.0 has no IDEA suite);"),
])
def test_with_the_library_unknown_the_message_says_on_what_the_suites_depend(tmp_path, ciphers, hedge):
    [finding] = findings(tmp_path, f"server {{\n    listen 443 ssl;\n    ssl_ciphers {ciphers};\n}}\n", "ssl-weak-ciphers")
    assert finding.severity == "warning"
    named = ciphers.strip('"').replace(":HIGH", "").replace("HIGH:", "").replace(":@SECLEVEL=0", "").replace(":", ", ")
    assert finding.message.startswith(f"ssl_ciphers enables broken suites ({named}){hedge}"), finding.message


def _client_hello(suites: list[int]) -> bytes:
    """A TLSv1.2 ClientHello offering only ``suites`` (with the extensions ECDHE and RSA-PSS
    need), written by hand: the local OpenSSL cannot offer a suite it does not have."""
    import os
    import struct

    body = b"\x03\x03" + os.urandom(32) + b"\x00"
    listed = b"".join(struct.pack(">H", suite) for suite in suites)
    body += struct.pack(">H", len(listed)) + listed + b"\x01\x00"
    signatures = bytes.fromhex("0804040105010201")
    groups = bytes.fromhex("001d0017")
    extensions = (struct.pack(">HHH", 13, len(signatures) + 2, len(signatures)) + signatures
                  + struct.pack(">HHH", 10, len(groups) + 2, len(groups)) + groups
                  + struct.pack(">HHBB", 11, 2, 1, 0))
    body += struct.pack(">H", len(extensions)) + extensions
    handshake = b"\x01" + struct.pack(">I", len(body))[1:] + body
    return b"\x16\x03\x01" + struct.pack(">H", len(handshake)) + handshake


def _server_answers(port: int, suite: int) -> bool:
    """Whether nginx answers a ClientHello offering only ``suite`` with a ServerHello (rather
    than a handshake_failure alert)."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as client:
        client.sendall(_client_hello([suite]))
        record = b""
        while len(record) < 6 and (chunk := client.recv(6 - len(record))):
            record += chunk
    if record[:1] == b"\x15":                    # alert
        return False
    assert record[:1] == b"\x16" and record[5:6] == b"\x02", record   # handshake: ServerHello
    return True


DES_CBC3_SHA, NULL_MD5, AECDH_AES128_SHA, AES128_GCM_SHA256 = 0x000A, 0x0001, 0xC018, 0x009C


def test_the_installed_library_decides_what_ssl_ciphers_enables_on_nginx(tmp_path, self_signed_cert, nginx_check,
                                                                          monkeypatch):
    """On the installed nginx, with its library's families asked as the rule asks them: a
    DES-CBC3-SHA the library lacks is refused to a client offering only it (and alone fails
    `nginx -t` with "no cipher match"); NULL-MD5 and anonymous suites it has are refused at the
    default security level and accepted at @SECLEVEL=0. The rule says the same."""
    require_binary("nginx")
    monkeypatch.setattr(versions, "installed_tls_library", INSTALLED_TLS_LIBRARY)
    monkeypatch.setattr(versions, "installed_cipher_families", INSTALLED_CIPHER_FAMILIES)
    versions.installed_nginx_build.cache_clear()
    build = versions.installed_nginx_build()
    target = versions.parse_version(build.version)
    library, families = INSTALLED_TLS_LIBRARY(target), INSTALLED_CIPHER_FAMILIES(target)
    if library is None or families is None or library < (1, 1, 0):
        pytest.skip(f"the installed nginx's library cannot be told or has no security levels ({build.tls_library})")
    if not {"MD5", "eNULL", "aNULL"} <= families:
        pytest.skip(f"the installed library has no NULL-MD5 or anonymous suites: {sorted(families)}")
    has_3des = "3DES" in families
    cert, key = self_signed_cert
    tls = (f"        ssl_certificate {cert};\n        ssl_certificate_key {key};\n"
           f"        ssl_protocols TLSv1.2;\n")
    answered = {}
    for name, ciphers in (("3des", "DES-CBC3-SHA:AES128-GCM-SHA256"),
                          ("default", "NULL-MD5:AECDH-AES128-SHA:AES128-GCM-SHA256"),
                          ("lowered", "NULL-MD5:AECDH-AES128-SHA:AES128-GCM-SHA256:@SECLEVEL=0")):
        body = (f"    server {{\n        listen 127.0.0.1:{{port}} ssl;\n{tls}        ssl_ciphers \"{ciphers}\";\n"
                f"        return 200 ok;\n    }}\n")
        with nginx_serving(tmp_path / name, body) as (port, _, conf):
            answered[name] = {suite: _server_answers(port, suite)
                              for suite in (DES_CBC3_SHA, NULL_MD5, AECDH_AES128_SHA, AES128_GCM_SHA256)}
            found = only(parsed(confgen.lint_project([str(conf)], select=["ALL"], nginx_version=build.version)),
                         "ssl-weak-ciphers")
            answered[name]["reported"] = [f.message.split("(")[1].split(")")[0] for f in found]
    assert answered["3des"] == {DES_CBC3_SHA: has_3des, NULL_MD5: False, AECDH_AES128_SHA: False,
                                AES128_GCM_SHA256: True, "reported": ["DES-CBC3-SHA"] if has_3des else []}
    assert answered["default"] == {DES_CBC3_SHA: False, NULL_MD5: False, AECDH_AES128_SHA: False,
                                   AES128_GCM_SHA256: True, "reported": []}
    assert answered["lowered"] == {DES_CBC3_SHA: False, NULL_MD5: True, AECDH_AES128_SHA: True,
                                   AES128_GCM_SHA256: True, "reported": ["NULL-MD5, AECDH-AES128-SHA"]}
    # DES-CBC3-SHA alone: nginx does not start where the library lacks it, as the rule says.
    config = (f"error_log stderr;\npid nginx.pid;\nevents {{}}\nhttp {{\n    server {{\n"
              f"        listen 127.0.0.1:8443 ssl;\n{tls}        ssl_ciphers DES-CBC3-SHA;\n    }}\n}}\n")
    ok, output = nginx_check(config)
    assert ok is has_3des, output
    if not has_3des:
        assert 'SSL_CTX_set_cipher_list("DES-CBC3-SHA") failed' in output and "no cipher match" in output, output
    [finding] = only(linted(tmp_path / "alone", config, nginx_version=build.version), "ssl-weak-ciphers")
    assert finding.severity == ("warning" if has_3des else "error")
    assert ("nginx does not start" in finding.message) is not has_3des


# ---------------------------------------------------------------------------------------------
# CG703 hsts-missing


@pytest.mark.parametrize("nginx, files", [
    # Inherited from http, set in a location, or with the header name in another case.
    (f"http {{\n    {HSTS}\n    server {{\n        listen 443 ssl;\n    }}\n}}\n", {}),
    (f"server {{\n    listen 443 ssl;\n    location / {{ {HSTS} }}\n}}\n", {}),
    ('server {\n    listen 443 ssl;\n    add_header strict-transport-security "max-age=63072000" always;\n}\n', {}),
    # A catch-all that only closes connections, or refuses every handshake; a plain-HTTP server.
    ("server {\n    listen 443 ssl default_server;\n    return 444;\n}\n", {}),
    ("server {\n    listen 443 ssl default_server;\n    ssl_reject_handshake on;\n}\n", {}),
    ("server {\n    listen 80;\n}\n", {}),
    # An included file in the tree that sets it, or one the deployment provides that may.
    ("server {\n    listen 443 ssl;\n    include snippets/hsts.conf;\n}\n", {"snippets/hsts.conf": HSTS + "\n"}),
    ("server {\n    listen 443 ssl;\n    include /etc/nginx/provided-by-the-deployment/hsts.conf;\n}\n", {}),
])
def test_hsts_missing_is_silent_where_the_header_is_sent_or_may_be(tmp_path, nginx, files):
    assert findings(tmp_path, nginx, "hsts-missing", files=files) == []


MORE_HSTS = "more_set_headers \"Strict-Transport-Security: max-age=31536000\";"


@pytest.mark.parametrize("nginx", [
    # The headers-more module's more_set_headers, which the other header rules read (issue 25).
    f"server {{\n    listen 443 ssl;\n    {MORE_HSTS}\n}}\n",
    f"http {{\n    {MORE_HSTS}\n    server {{\n        listen 443 ssl;\n    }}\n}}\n",
    f"server {{\n    listen 443 ssl;\n    location / {{ {MORE_HSTS} }}\n}}\n",
    "server {\n    listen 443 ssl;\n"
    "    more_set_headers -s '200 301' 'strict-transport-security:max-age=63072000';\n}\n",
])
def test_hsts_missing_is_silent_where_more_set_headers_sends_it(tmp_path, nginx):
    assert findings(tmp_path, nginx, "hsts-missing") == []


@pytest.mark.parametrize("directive", [
    "more_set_headers 'X-Frame-Options: DENY';",                        # another header
    "more_clear_headers Strict-Transport-Security;",                     # clears it, sends none
    "more_set_headers 'Strict-Transport-Security:';",                    # no value: clears it too
])
def test_hsts_missing_with_more_headers_directives_that_do_not_send_it(tmp_path, directive):
    nginx = f"server {{\n    listen 443 ssl;\n    {directive}\n}}\n"
    [finding] = findings(tmp_path, nginx, "hsts-missing")
    assert (finding.line, finding.col) == (1, 1)


def test_hsts_missing_when_a_servers_own_add_header_drops_the_inherited_one(tmp_path):
    # nginx's add_header: a level with its own add_header inherits none from outside.
    nginx = (f"http {{\n    {HSTS}\n    server {{\n        listen 443 ssl;\n        server_name a.example;\n"
             f"        add_header X-Frame-Options DENY;\n    }}\n    server {{\n        listen 443 ssl;\n"
             f"        server_name b.example;\n    }}\n}}\n")
    [finding] = findings(tmp_path, nginx, "hsts-missing")
    assert (finding.line, finding.col) == (3, 5)


def test_hsts_missing_with_an_included_file_that_sets_other_headers(tmp_path):
    result = linted(tmp_path, "server {\n    listen 443 ssl;\n    include snippets/headers.conf;\n}\n",
                    files={"snippets/headers.conf": "add_header X-Content-Type-Options nosniff always;\n"})
    [finding] = only(result, "hsts-missing")
    assert (finding.file, finding.line, finding.col) == (str(tmp_path / "nginx.conf"), 1, 1)


# ---------------------------------------------------------------------------------------------
# CG706 ssl-ecdh-curve-pq


@pytest.mark.parametrize("curves, risky", [
    # The Kyber drafts are no OpenSSL group, in any version (issue 25: not "from OpenSSL 3.5").
    ("X25519Kyber768Draft00:X25519", "X25519Kyber768Draft00 is no OpenSSL group (only an added provider's):"),
    # OpenSSL's names are case-insensitive.
    ("x25519mlkem768:prime256v1", "x25519mlkem768 only exists from OpenSSL 3.5:"),
    ("SecP256r1MLKEM768:X25519MLKEM768:X25519", "SecP256r1MLKEM768, X25519MLKEM768 only exist from OpenSSL 3.5:"),
    ("?X25519MLKEM768:X25519Kyber768Draft00", "X25519Kyber768Draft00 is no OpenSSL group"),  # only the unmarked one
    ("X25519MLKEM768:X25519Kyber768Draft00", "X25519MLKEM768 only exists from OpenSSL 3.5 and X25519Kyber768Draft00 is "
                                             "no OpenSSL group"),
])
def test_ssl_ecdh_curve_pq_names_every_unmarked_post_quantum_group(tmp_path, curves, risky):
    [finding] = findings(tmp_path, f"server {{\n    listen 443 ssl;\n    ssl_ecdh_curve {curves};\n}}\n", "ssl-ecdh-curve-pq")
    assert (finding.line, finding.col) == (3, 5) and finding.message.startswith(risky)
    # The advice says what each way out needs (issue 25: the ? itself needs OpenSSL 3.3).
    assert "leave `auto` (OpenSSL 3.5 then offers X25519MLKEM768 by itself)" in finding.message
    assert "prefix with ? to skip a missing group, which needs OpenSSL 3.3 or newer" in finding.message


@pytest.mark.parametrize("curves", ["auto", "X25519:prime256v1:secp384r1", "?X25519MLKEM768:X25519", "prime256v1"])
def test_ssl_ecdh_curve_pq_is_silent_for_classical_groups_auto_and_optional_ones(tmp_path, curves):
    assert findings(tmp_path, f"server {{\n    listen 443 ssl;\n    ssl_ecdh_curve {curves};\n}}\n",
                    "ssl-ecdh-curve-pq") == []


def _openssl_version(nginx: str) -> tuple[int, int]:
    built = subprocess.run([nginx, "-V"], capture_output=True, text=True, timeout=30).stderr
    found = re.search(r"OpenSSL (\d+)\.(\d+)", built)
    return (int(found.group(1)), int(found.group(2))) if found else (0, 0)


def test_nginx_refuses_to_start_with_a_post_quantum_group_its_openssl_lacks(nginx_check, self_signed_cert, tmp_path):
    nginx = require_binary("nginx")
    if _openssl_version(nginx) >= (3, 5):
        pytest.skip("this nginx's OpenSSL has the ML-KEM groups: the rule's case cannot be shown here")
    cert, key = self_signed_cert

    def config(curves: str) -> str:
        return (f"error_log stderr;\npid nginx.pid;\nevents {{}}\nhttp {{\n    server {{\n        listen 127.0.0.1:8443 ssl;\n"
                f"        ssl_certificate {cert};\n        ssl_certificate_key {key};\n        ssl_ecdh_curve {curves};\n"
                f"    }}\n}}\n")

    bad_curves = "X25519MLKEM768:X25519:prime256v1"    # the documented Bad example's list
    ok, output = nginx_check(config(bad_curves))
    assert not ok and "SSL_CTX_set1_curves_list" in output and "X25519MLKEM768" in output, output
    # The documented Good example (auto) starts here.
    good = re.search(r"ssl_ecdh_curve ([^;]+);", get_rule("ssl-ecdh-curve-pq").doc.good).group(1)
    ok, output = nginx_check(config(good))
    assert good == "auto" and ok, output
    [finding] = only(linted(tmp_path / "bad", config(bad_curves)), "ssl-ecdh-curve-pq")
    assert (finding.line, finding.col) == place(config(bad_curves), "ssl_ecdh_curve")
    for fine in ("X25519:prime256v1", "auto"):
        ok, output = nginx_check(config(fine))
        assert ok, output
        assert only(linted(tmp_path / fine.replace(":", "-"), config(fine)), "ssl-ecdh-curve-pq") == []


def test_nginx_rejects_the_question_mark_itself_with_openssl_before_3_3(nginx_check, self_signed_cert):
    # The message's claim about the ? prefix: ignored when missing only from OpenSSL 3.3.
    nginx = require_binary("nginx")
    if _openssl_version(nginx) >= (3, 3):
        pytest.skip("this nginx's OpenSSL reads the ? prefix: the older behaviour cannot be shown here")
    cert, key = self_signed_cert
    ok, output = nginx_check(f"error_log stderr;\npid nginx.pid;\nevents {{}}\nhttp {{\n    server {{\n"
                             f"        listen 127.0.0.1:8443 ssl;\n        ssl_certificate {cert};\n"
                             f"        ssl_certificate_key {key};\n        ssl_ecdh_curve ?X25519MLKEM768:X25519;\n"
                             f"    }}\n}}\n")
    assert not ok and "group '?X25519MLKEM768' cannot be set" in output, output


# ---------------------------------------------------------------------------------------------
# CG709 ssl-listen-missing

CERT = "ssl_certificate /etc/ssl/site.pem;\n    ssl_certificate_key /etc/ssl/site.key;\n"


@pytest.mark.parametrize("nginx, version", [
    # A certificate inherited from http by a plain-HTTP server is not this server's own.
    (f"http {{\n    {CERT}    server {{\n        listen 80;\n    }}\n}}\n", "1.22.1"),
    # Another server's listen ... ssl on the same socket (the wildcard spelled another way) makes it TLS.
    (f"server {{\n    listen 0.0.0.0:443;\n    {CERT}}}\nserver {{\n    listen 443 ssl;\n    {CERT}}}\n", "1.22.1"),
    # One of the server's sockets is TLS through the other server: the plain one is taken as meant.
    (f"server {{\n    listen 443;\n    listen 8443;\n    {CERT}}}\nserver {{\n    listen 443 ssl;\n    {CERT}}}\n",
     "1.22.1"),
    # The old `ssl on;` still works before 1.25.1; QUIC is TLS too; a unix socket is left alone.
    (f"server {{\n    listen 443;\n    {CERT}    ssl on;\n}}\n", "1.22.1"),
    (f"server {{\n    listen 443 quic reuseport;\n    {CERT}}}\n", "1.25.1"),
    (f"server {{\n    listen unix:/run/nginx-tls.sock;\n    {CERT}}}\n", "1.22.1"),
])
def test_ssl_listen_missing_is_silent_where_the_socket_speaks_tls_or_the_certificate_is_not_the_servers(
        tmp_path, nginx, version):
    assert findings(tmp_path, nginx, "ssl-listen-missing", nginx_version=version) == []


def test_ssl_listen_missing_names_every_plain_port_and_points_at_the_first(tmp_path):
    nginx = f"server {{\n    listen 443;\n    listen 8443;\n    {CERT}}}\n"
    [finding] = findings(tmp_path, nginx, "ssl-listen-missing")
    assert (finding.code, finding.severity, finding.line, finding.col) == ("CG709", "error", 2, 5)
    assert "port 443, 8443 speaks plain HTTP" in finding.message and "(listen 443 ssl)" in finding.message


def test_a_specific_address_is_its_own_socket_even_beside_a_wildcard_ssl_listen(tmp_path, self_signed_cert):
    # The boundary of "another server's listen makes the socket TLS": *:PORT ssl does not make
    # 127.0.0.1:PORT TLS; nginx keeps the ssl flag per address (checked here), so the server on
    # 127.0.0.1 with its certificate speaks plain HTTP and is reported.
    cert, key = self_signed_cert
    tls = f"ssl_certificate {cert}; ssl_certificate_key {key};"
    body = (f"    server {{\n        listen 127.0.0.1:{{port}};\n        server_name a.test;\n        {tls}\n"
            f"        return 200 plain;\n    }}\n"
            f"    server {{\n        listen {{port}} ssl;\n        server_name b.test;\n        {tls}\n"
            f"        return 200 tls;\n    }}\n")
    with nginx_serving(tmp_path, body) as (port, _, conf):
        status, _, answer = fetch(port, "/")
        handshake = _handshake(port)
        found = only(lint_file(conf), "ssl-listen-missing")
    assert (status, answer, handshake) == (200, b"plain", False)
    assert [(f.line, f.col) for f in found] == [place(conf.read_text(), "listen 127.0.0.1:")]


# ---------------------------------------------------------------------------------------------
# CG802 error-log-off


@pytest.mark.parametrize("nginx, places", [
    ("http {\n    server {\n        error_log off;\n    }\n}\n", [(3, 9)]),
    ("http {\n    error_log off crit;\n    server { location / { error_log off; } }\n}\n", [(2, 5), (3, 27)]),
    ('error_log "off";\n', [(1, 1)]),                            # quoted, it is the same word
    ("error_log /dev/null;\nhttp { error_log stderr crit; access_log off; }\n", []),
])
def test_error_log_off_is_reported_at_every_level(tmp_path, nginx, places):
    assert [(f.line, f.col) for f in findings(tmp_path, nginx, "error-log-off")] == places


def test_error_log_off_inside_a_server_still_writes_a_file_named_off(tmp_path):
    # A request for a missing file is logged at "error" level: with error_log off in the server,
    # nginx writes it to <prefix>/off.
    body = ("    server {\n        listen 127.0.0.1:{port};\n        error_log off;\n"
            "        root {root}/no-such-site;\n    }\n")
    with nginx_serving(tmp_path, body) as (port, prefix, conf):
        status = fetch(port, "/missing.html")[0]
        found = only(lint_file(conf), "error-log-off")
    assert status == 404
    assert "missing.html" in (prefix / "off").read_text() and "No such file or directory" in (prefix / "off").read_text()
    assert [(f.line, f.col) for f in found] == [place(conf.read_text(), "error_log off")]


def test_nginx_t_creates_the_file_named_off_for_a_main_level_error_log_off(nginx_check, tmp_path):
    config = "error_log off;\npid nginx.pid;\nevents {}\nhttp {}\n"
    ok, output = nginx_check(config)
    assert ok, output
    assert (tmp_path / "nginx-prefix" / "off").is_file()   # nginx_check's prefix
    [finding] = only(linted(tmp_path / "lint", config), "error-log-off")
    assert (finding.line, finding.col) == (1, 1)


# ---------------------------------------------------------------------------------------------
# CG803 default-server-missing


def _http(servers: str, *, before: str = "") -> str:
    return f"events {{}}\nhttp {{\n{before}{servers}}}\n"


TWO_ON_80 = "    server { listen 80; server_name a.example; }\n    server { listen 80; server_name b.example; }\n"


@pytest.mark.parametrize("nginx, files", [
    # A bare snippet: the rest of the deployment may hold the default server.
    ("server { listen 80; server_name a.example; }\nserver { listen 80; server_name b.example; }\n", {}),
    # One server per socket (another port, or a specific address beside the wildcard).
    (_http("    server { listen 80; server_name a.example; }\n    server { listen 8080; server_name b.example; }\n"), {}),
    (_http("    server { listen 80; server_name a.example; }\n    server { listen 127.0.0.1:80; server_name b.example; }\n"), {}),
    # The old spelling `default`, and a default server in an included file of the tree.
    (_http("    server { listen 80; server_name a.example; }\n    server { listen 80 default; server_name b.example; }\n"), {}),
    (_http(TWO_ON_80, before="    include conf.d/*.conf;\n"),
     {"conf.d/catch-all.conf": "server { listen 80 default_server; return 444; }\n"}),
])
def test_default_server_missing_is_silent_where_a_default_exists_or_may(tmp_path, nginx, files):
    assert findings(tmp_path, nginx, "default-server-missing", files=files) == []


@pytest.mark.parametrize("nginx", [
    # A file the deployment provides, around the servers or in one of them, may hold the default.
    _http(TWO_ON_80, before="    include /etc/nginx/provided-by-the-deployment/catch-all.conf;\n"),
    "include /etc/nginx/provided-by-the-deployment/catch-all.conf;\n" + _http(TWO_ON_80),
    _http("    server {\n        listen 80;\n        server_name a.example;\n"
          "        include /etc/nginx/provided-by-the-deployment/listen.conf;\n    }\n"
          "    server { listen 80; server_name b.example; }\n"),
])
def test_default_server_missing_is_silent_beside_a_file_the_deployment_provides(tmp_path, nginx):
    assert findings(tmp_path, nginx, "default-server-missing") == []


def test_default_server_missing_beside_a_provided_file_that_cannot_hold_a_listen(tmp_path):
    # In a location, or in a server on another socket: neither makes a default for *:80.
    nginx = _http("    server {\n        listen 80;\n        server_name a.example;\n"
                  "        location / { include /etc/nginx/provided-by-the-deployment/app.conf; }\n    }\n"
                  "    server { listen 80; server_name b.example; }\n"
                  "    server { listen 8080; include /etc/nginx/provided-by-the-deployment/other.conf; }\n")
    [finding] = findings(tmp_path, nginx, "default-server-missing")
    assert (finding.line, finding.col) == place(nginx, "listen 80")
    assert "2 servers listen on *:80 and none is default_server" in finding.message


@pytest.mark.parametrize("servers, socket_, place_needle", [
    # No listen at all is *:80 for nginx.
    ("    server { server_name a.example; }\n    server { server_name b.example; }\n", "*:80", "server { server_name a"),
    # 0.0.0.0:80 and 80 are one socket.
    ("    server { listen 0.0.0.0:80; server_name a.example; }\n    server { listen 80; server_name b.example; }\n",
     "*:80", "listen 0.0.0.0:80"),
    # A default on the IPv6 socket leaves the IPv4 one without.
    ("    server { listen 80; listen [::]:80; server_name a.example; }\n"
     "    server { listen 80; listen [::]:80 default_server; server_name b.example; }\n", "*:80", "listen 80; listen [::]"),
    ("    server { listen 443 ssl; server_name a.example; }\n    server { listen 443 ssl; server_name b.example; }\n"
     "    server { listen 80 default_server; return 444; }\n", "*:443", "listen 443 ssl; server_name a"),
])
def test_default_server_missing_per_socket(tmp_path, servers, socket_, place_needle):
    nginx = _http(servers)
    [finding] = findings(tmp_path, nginx, "default-server-missing")
    assert (finding.line, finding.col) == place(nginx, place_needle)
    assert f"2 servers listen on {socket_} and none is default_server" in finding.message


def test_unknown_host_names_go_to_the_first_server_read_as_default_server_missing_says(tmp_path):
    servers = ("    server {\n        listen 127.0.0.1:{port};\n        server_name a.example;\n        return 200 a;\n    }\n"
               "    server {\n        listen 127.0.0.1:{port}%s;\n        server_name b.example;\n        return 200 b;\n    }\n")
    answers = {}
    for marked in ("", " default_server"):
        with nginx_serving(tmp_path / (marked.strip() or "unmarked"), servers % marked) as (port, _, conf):
            answers[marked] = fetch(port, "/", {"Host": "scanner.invalid"})[2]
            text = conf.read_text()
            found = only(lint_file(conf), "default-server-missing")
        assert [(f.line, f.col) for f in found] == ([] if marked else [place(text, "listen 127.0.0.1")])
    assert answers == {"": b"a", " default_server": b"b"}


# ---------------------------------------------------------------------------------------------
# CG804 low-keepalive-requests


@pytest.mark.parametrize("value, reported", [("999", True), ("1", True), ("1000", False), ("10000", False), ("0", False)])
def test_low_keepalive_requests_below_1000(tmp_path, value, reported):
    found = findings(tmp_path, f"server {{\n    keepalive_requests {value};\n}}\n", "low-keepalive-requests")
    assert [(f.line, f.col) for f in found] == ([(2, 5)] if reported else [])
    if reported:
        assert found[0].severity == "info" and f"every {value} requests" in found[0].message


def test_low_keepalive_requests_in_a_location_and_not_in_an_upstream(tmp_path):
    nginx = ("http {\n    upstream app {\n        server 127.0.0.1:8000;\n        keepalive 16;\n"
             "        keepalive_requests 100;\n    }\n    server {\n        location /api/ {\n"
             "            keepalive_requests 50;\n        }\n    }\n}\n")
    assert [(f.line, f.col) for f in findings(tmp_path, nginx, "low-keepalive-requests")] == [(9, 13)]


def test_nginx_closes_a_client_connection_after_keepalive_requests_as_low_keepalive_requests_says(tmp_path):
    # (The limit is applied where nginx picks the location: a return at the server level skips it.)
    body = ("    server {\n        listen 127.0.0.1:{port};\n        keepalive_requests 2;\n"
            "        location / { return 200 ok; }\n    }\n")
    with nginx_serving(tmp_path, body) as (port, _, conf):
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        try:
            answers = []
            for _ in range(2):
                connection.request("GET", "/")
                response = connection.getresponse()
                response.read()
                answers.append(response.getheader("Connection"))
            closed = connection.sock is None     # http.client closes it when the server says so
        finally:
            connection.close()
        found = only(lint_file(conf), "low-keepalive-requests")
    assert answers == ["keep-alive", "close"] and closed
    assert [(f.line, f.col) for f in found] == [place(conf.read_text(), "keepalive_requests 2")]
    assert "every 2 requests" in found[0].message
