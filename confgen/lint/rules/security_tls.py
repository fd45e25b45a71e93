"""TLS servers (CG70x): protocols and ciphers that should be gone, HSTS, OCSP stapling that
cannot work, and post-quantum groups that stop nginx on older OpenSSL."""

from __future__ import annotations

import re
from typing import Iterator

from confgen.lint.context import LintContext
from confgen.lint.registry import Finding, rule
from confgen.lint.rules.security_common import http_servers, is_tls_server, rejects_tls_handshake
from confgen.lint.rules.security_headers import effective_add_headers

WEAK_PROTOCOLS = ("SSLv2", "SSLv3", "TLSv1", "TLSv1.1")
# OpenSSL cipher-string words for broken or export-grade suites (matched as whole words).
WEAK_CIPHER_WORDS = ("RC4", "RC2", "DES", "3DES", "DES-CBC3", "MD5", "NULL", "ENULL", "ANULL", "EXPORT", "EXP",
                     "ADH", "AECDH", "LOW", "IDEA", "SEED", "CBC3")
LETSENCRYPT_PATH_RE = re.compile(r"(^|/)(letsencrypt|certbot|acme)(/|$)|/etc/letsencrypt/", re.IGNORECASE)
POST_QUANTUM_RE = re.compile(r"mlkem|kyber", re.IGNORECASE)


def tls_servers(ctx) -> list:
    """http servers that complete TLS handshakes (a catch-all with ssl_reject_handshake does not)."""
    return ctx.cached("security:tls_servers", lambda: [s for s in http_servers(ctx)
                                                       if is_tls_server(ctx, s) and not rejects_tls_handshake(ctx, s)])


def _setting(ctx, name: str, server):
    found = ctx.nginx.effective(name, server)
    return found[-1] if found else None


@rule(code="CG701", name="ssl-weak-protocols", severity="warning")
def ssl_weak_protocols(ctx: LintContext) -> Iterator[Finding]:
    """A TLS server accepts SSLv3, TLSv1 or TLSv1.1, written or by nginx's default.

    These protocols have known attacks (POODLE, BEAST) and no modern client needs them; PCI DSS
    forbids them. nginx enables TLSv1 and TLSv1.1 by default before 1.27.3, so a server without
    ``ssl_protocols`` on an older nginx offers them too.

    Version: 1.22.1

    Bad:
        server {
            listen 443 ssl;
            ssl_certificate /etc/ssl/site.pem;
            ssl_certificate_key /etc/ssl/site.key;
            add_header Strict-Transport-Security "max-age=31536000" always;
        }

    Good:
        server {
            listen 443 ssl;
            ssl_certificate /etc/ssl/site.pem;
            ssl_certificate_key /etc/ssl/site.key;
            ssl_protocols TLSv1.2 TLSv1.3;
            add_header Strict-Transport-Security "max-age=31536000" always;
        }
    """
    reported: set[int] = set()
    for server in tls_servers(ctx):
        directive = _setting(ctx, "ssl_protocols", server)
        protocols = directive.args if directive else (ctx.nginx.default("ssl_protocols") or [])
        weak = [p for p in protocols if p in WEAK_PROTOCOLS]
        if not weak:
            continue
        anchor = directive or server
        if id(anchor) in reported:
            continue
        reported.add(id(anchor))
        how = "" if directive else f" (nginx's default before 1.27.3; target {'.'.join(map(str, ctx.version))})"
        yield ctx.finding(ctx.block_anchor(anchor) if directive is None else anchor,
                          f"this TLS server accepts {', '.join(weak)}{how}: write `ssl_protocols TLSv1.2 TLSv1.3;`")


def weak_cipher_words(cipher_string: str) -> list[str]:
    weak = []
    for token in re.split(r"[:,\s]+", cipher_string):
        if not token or token[0] in "!-":
            continue
        words = set(token.lstrip("+").upper().split("-")) | {token.lstrip("+").upper()}
        hits = [w for w in WEAK_CIPHER_WORDS if w in words]
        if hits:
            weak.append(token)
    return weak


@rule(code="CG702", name="ssl-weak-ciphers", severity="warning")
def ssl_weak_ciphers(ctx: LintContext) -> Iterator[Finding]:
    """``ssl_ciphers`` enables broken cipher suites (RC4, DES/3DES, MD5, NULL, EXPORT, anonymous).

    Such suites are breakable (SWEET32, RC4 biases) or authenticate nothing (aNULL): a client
    that prefers them, or an attacker who downgrades to them, gets no real protection. Use a
    current list such as Mozilla's "intermediate".

    Bad:
        server {
            listen 443 ssl;
            ssl_ciphers RC4-SHA:DES-CBC3-SHA:HIGH;
        }

    Good:
        server {
            listen 443 ssl;
            ssl_ciphers ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:!aNULL:!MD5;
        }
    """
    for directive in ctx.all("ssl_ciphers"):
        weak = weak_cipher_words(" ".join(directive.args))
        if weak:
            yield ctx.finding(directive, f"ssl_ciphers enables broken suites ({', '.join(weak)}); use a current "
                                         f"list such as Mozilla's intermediate and exclude !aNULL:!MD5")


@rule(code="CG703", name="hsts-missing", severity="warning")
def hsts_missing(ctx: LintContext) -> Iterator[Finding]:
    """A TLS server sends no ``Strict-Transport-Security`` header.

    Without HSTS a browser follows a plain ``http://`` link or a downgrade by an attacker on
    the network before it ever sees the redirect to https, and cookies can leak on the way.
    Add ``add_header Strict-Transport-Security "max-age=31536000" always;``. A catch-all with
    ``ssl_reject_handshake on``, or one that only closes connections (``return 444``), is not
    reported.

    Bad:
        server {
            listen 443 ssl;
            ssl_protocols TLSv1.2 TLSv1.3;
        }

    Good:
        server {
            listen 443 ssl;
            ssl_protocols TLSv1.2 TLSv1.3;
            add_header Strict-Transport-Security "max-age=31536000" always;
        }
    """
    for server in tls_servers(ctx):
        if any(r.args[:1] == ["444"] for r in server.find("return")):
            continue
        levels = [server] + [d for d in server.walk() if d.name in ("location", "if") and d.is_block]
        if any(any(h.args[0].lower() == "strict-transport-security" for h in effective_add_headers(ctx, level))
               for level in levels):
            continue
        yield ctx.finding(ctx.block_anchor(server), "this TLS server sends no Strict-Transport-Security header: "
                                                    "browsers can be downgraded to http; add "
                                                    "`add_header Strict-Transport-Security \"max-age=31536000\" always;`")


@rule(code="CG704", name="ssl-stapling-letsencrypt", severity="info")
def ssl_stapling_letsencrypt(ctx: LintContext) -> Iterator[Finding]:
    """OCSP stapling is on for a Let's Encrypt certificate, which has no OCSP responder.

    Let's Encrypt stopped running OCSP in 2025 and its certificates no longer name a responder:
    ``ssl_stapling on`` does nothing but log warnings at every start. Turn it off for these
    servers.

    Bad:
        server {
            listen 443 ssl;
            ssl_certificate /etc/letsencrypt/live/example.com/fullchain.pem;
            ssl_stapling on;
        }

    Good:
        server {
            listen 443 ssl;
            ssl_certificate /etc/letsencrypt/live/example.com/fullchain.pem;
            ssl_stapling off;
        }
    """
    for server in tls_servers(ctx):
        stapling = _setting(ctx, "ssl_stapling", server)
        if stapling is None or stapling.args[:1] != ["on"]:
            continue
        certificates = [c for c in ctx.nginx.effective("ssl_certificate", server)
                        if c.args and LETSENCRYPT_PATH_RE.search(c.args[0])]
        if certificates:
            yield ctx.finding(stapling, f"{certificates[0].args[0]} is a Let's Encrypt certificate, which has no "
                                        f"OCSP responder since 2025: ssl_stapling does nothing; turn it off")


@rule(code="CG705", name="ssl-stapling-no-resolver", severity="warning")
def ssl_stapling_no_resolver(ctx: LintContext) -> Iterator[Finding]:
    """``ssl_stapling on`` without a ``resolver`` (or ``ssl_stapling_file``).

    nginx must resolve the OCSP responder's host name itself; without a resolver it cannot,
    logs a warning and staples nothing, so clients do the slower OCSP lookup themselves.

    Bad:
        server {
            listen 443 ssl;
            ssl_stapling on;
        }

    Good:
        server {
            listen 443 ssl;
            ssl_stapling on;
            resolver 127.0.0.53;
        }
    """
    for server in tls_servers(ctx):
        stapling = _setting(ctx, "ssl_stapling", server)
        if stapling is None or stapling.args[:1] != ["on"]:
            continue
        if ctx.nginx.effective("resolver", server) or ctx.nginx.effective("ssl_stapling_file", server):
            continue
        yield ctx.finding(stapling, "ssl_stapling is on but no resolver is configured: nginx cannot reach the "
                                    "OCSP responder and staples nothing; add `resolver`")


@rule(code="CG706", name="ssl-ecdh-curve-pq", severity="warning")
def ssl_ecdh_curve_pq(ctx: LintContext) -> Iterator[Finding]:
    """``ssl_ecdh_curve`` names a post-quantum group without the ``?`` that makes it optional.

    OpenSSL rejects the whole list when one group is unknown, and the ML-KEM/Kyber hybrids only
    exist from OpenSSL 3.5: on Debian 12 or Ubuntu 24.04 nginx refuses to start (a reload keeps
    the old config). Prefix them with ``?`` (OpenSSL 3.3+) or leave ``auto``.

    Bad:
        server {
            ssl_ecdh_curve X25519MLKEM768:X25519:prime256v1;
        }

    Good:
        server {
            ssl_ecdh_curve ?X25519MLKEM768:X25519:prime256v1;
        }
    """
    for directive in ctx.all("ssl_ecdh_curve"):
        groups = [g for arg in directive.args for g in arg.split(":") if g]
        risky = [g for g in groups if POST_QUANTUM_RE.search(g) and not g.startswith("?")]
        if risky:
            yield ctx.finding(directive, f"{', '.join(risky)} only exist{'s' if len(risky) == 1 else ''} from "
                                         f"OpenSSL 3.5; on an older OpenSSL nginx rejects the whole list and does "
                                         f"not start; prefix with ? or use auto")
