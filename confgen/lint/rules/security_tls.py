"""TLS servers (CG70x): protocols and ciphers that should be gone, HSTS, OCSP stapling that
cannot work, and post-quantum groups that stop nginx on older OpenSSL."""

from __future__ import annotations

import re
from typing import Iterator, NamedTuple

from confgen.lint.context import LintContext
from confgen.lint.fixes.base import Fix
from confgen.lint.fixes.edits import Unfixable
from confgen.lint.fixes.nginx_edits import insert_after, insert_first, replace_args
from confgen.lint.registry import Finding, rule
from confgen.lint.rules.security_common import (
    UPSTREAM_PASS,
    defaults_of,
    header_values,
    http_servers,
    is_tls_server,
    listen_socket,
    only_redirects,
    rejects_tls_handshake,
    servers_by_socket,
)
from confgen.lint.rules.security_headers import effective_add_headers

WEAK_PROTOCOLS = ("SSLv2", "SSLv3", "TLSv1", "TLSv1.1")
# OpenSSL cipher-string words for broken or export-grade suites (matched as whole words).
# OpenSSL's cipher-string keywords for broken suites, and the family each names (ciphers(1)):
# DES is single DES only, 3DES triple DES; NULL is eNULL; ADH/AECDH are anonymous (aNULL).
WEAK_CIPHER_KEYWORDS = {"RC4": "RC4", "RC2": "RC2", "DES": "DES", "3DES": "3DES", "MD5": "MD5", "NULL": "eNULL",
                        "ENULL": "eNULL", "ANULL": "aNULL", "ADH": "aNULL", "AECDH": "aNULL", "EXPORT": "EXPORT",
                        "EXP": "EXPORT", "LOW": "LOW", "IDEA": "IDEA", "SEED": "SEED"}
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
    ``ssl_protocols`` on an older nginx offers them too. Judged at the default server of each
    TLS socket: nginx negotiates the protocol with its settings before it knows the server name,
    so another server's ``ssl_protocols`` there has no effect (ssl-protocols-not-default-server
    reports that one).

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

    Fix safety: Unsafe: clients that only speak the weak protocols (old Android, embedded
    devices) can no longer connect.

    How the TLS library changes it: OpenSSL 3 refuses SSLv3, TLSv1 and TLSv1.1 at its default
    security level unless the cipher string says ``@SECLEVEL=0`` (checked with the installed
    nginx 1.22.1 and OpenSSL 3.0). When the nginx linted for is the installed one and runs with
    OpenSSL 3, listed old protocols are dead entries and are not reported; an explicit list that
    leaves out TLSv1.3 still is, at info, since it keeps clients on TLSv1.2. With another target
    the library is not known and the message says what OpenSSL 3 would do.

    References:
        https://nginx.org/en/docs/http/ngx_http_ssl_module.html#ssl_protocols
        https://docs.openssl.org/3.0/man7/migration_guide/
    """
    reported: set[int] = set()
    servers = tls_servers(ctx)
    reported_servers = {id(server) for server in servers}
    for server in servers:
        # The protocols negotiated are the default server's (nginx chooses them before SNI).
        negotiator = next(iter(defaults_of(ctx, server, tls_only=True)), server)
        if negotiator is not server and (server.find("ssl_protocols") or id(negotiator) in reported_servers):
            continue    # reported at the default server, or as ssl-protocols-not-default-server
        written = ctx.nginx.effective("ssl_protocols", negotiator)
        if not written and (ctx.unresolved_include(server) or ctx.unresolved_include(negotiator)):
            continue    # a file the deployment provides may set it
        protocols = _protocols(ctx, negotiator)    # two lines in one block add up
        weak = [p for p in protocols if p in WEAK_PROTOCOLS]
        if not weak:
            continue
        weak_lines = [d for d in written if any(p in WEAK_PROTOCOLS for p in d.args)]
        directive = weak_lines[0] if weak_lines else None
        anchor = directive or server
        if id(anchor) in reported:
            continue
        reported.add(id(anchor))
        fix = Fix(lambda fx, lines=tuple(weak_lines), s=server: _strong_protocols(fx, lines, s), safe=False)
        how = "" if directive else f" (nginx's default before 1.27.3; target {'.'.join(map(str, ctx.version))})"
        library, lowered = _tls_library(ctx), _security_level_zero(ctx, negotiator)
        if library is not None and library >= OPENSSL_3 and not lowered:
            # OpenSSL 3 refuses them at its default security level: only a list without TLSv1.3
            # still changes what clients get.
            if directive is not None and "TLSv1.3" not in protocols:
                yield ctx.finding(anchor, f"ssl_protocols leaves out TLSv1.3, so clients that speak it get "
                                          f"TLSv1.2 (the {', '.join(weak)} it lists are refused anyway: the installed "
                                          f"nginx's OpenSSL {'.'.join(map(str, library))} refuses them at its default "
                                          f"security level); write `ssl_protocols TLSv1.2 TLSv1.3;`",
                                  severity="info", fix=fix)
            continue
        unless = "" if library is not None or lowered else \
            " unless its nginx runs with OpenSSL 3 or newer, which refuses them at its default security level"
        why = " (`@SECLEVEL=0` lets OpenSSL 3 accept them)" if lowered else ""
        yield ctx.finding(ctx.block_anchor(anchor) if directive is None else anchor,
                          f"this TLS server accepts {', '.join(weak)}{how}{why}{unless}: write "
                          f"`ssl_protocols TLSv1.2 TLSv1.3;`", fix=fix)


# OpenSSL 3.0 lowered the security of SHA-1 and MD5 signatures in TLS, "resulting in SSL 3, TLS 1.0,
# TLS 1.1 and DTLS 1.0 no longer working at the default security level of 1" (its 3.0 migration
# guide); a cipher string with @SECLEVEL=0 brings them back.
OPENSSL_3 = (3, 0, 0)


def _tls_library(ctx) -> tuple[int, ...] | None:
    """The OpenSSL version of the nginx linted for, when it is the installed one."""
    from confgen.nginx.versions import installed_tls_library

    return ctx.cached("security:tls_library", lambda: installed_tls_library(ctx.version))


def _security_level_zero(ctx, server) -> bool:
    """Whether the server's cipher settings lower OpenSSL's security level to 0."""
    written = [*ctx.nginx.effective("ssl_ciphers", server), *ctx.nginx.effective("ssl_conf_command", server)]
    return any("@seclevel=0" in arg.lower() for d in written for arg in d.args)


def _strong_protocols(fx, weak_lines, server) -> list:
    line = "ssl_protocols TLSv1.2 TLSv1.3;"
    if weak_lines:
        edits = []
        for directive in weak_lines:
            strong = [a for a in directive.args if a not in WEAK_PROTOCOLS] or ["TLSv1.2", "TLSv1.3"]
            edits.extend(fx.same_everywhere(directive, lambda d, words=" ".join(strong): [replace_args(fx, d, words)]))
        return edits
    http = server.parent
    if http is not None and http.name == "http" and http.column > 0:
        # Once for every server, in the http block: nginx negotiates the protocol with the
        # default server's settings, so one written in a named server has no effect.
        try:
            return [insert_first(fx, http, line)]
        except Unfixable:
            pass
    listens = [d for d in server.block or () if d.name == "listen" and d.file == server.file]
    if listens:
        return [insert_after(fx, listens[-1], line)]
    return [insert_first(fx, server, line)]


class _CipherTerm(NamedTuple):
    written: str
    families: frozenset      # the broken families every cipher it names belongs to
    suite: bool              # one suite by name (ECDHE-RSA-DES-CBC3-SHA), not a keyword or A+B


def _cipher_term(body: str) -> _CipherTerm:
    upper = body.upper()
    if "-" in upper:        # a suite's name: its parts say what it uses
        parts = upper.split("-")
        families = {WEAK_CIPHER_KEYWORDS[p] for p in parts if p in WEAK_CIPHER_KEYWORDS and p != "DES"}
        if "CBC3" in parts or "3DES" in parts:
            families.add("3DES")
        elif "DES" in parts:
            families.add("DES")
        return _CipherTerm(body, frozenset(families), True)
    # A keyword, or keywords joined by "+" (the ciphers that match all of them).
    return _CipherTerm(body, frozenset(WEAK_CIPHER_KEYWORDS[p] for p in upper.split("+") if p in WEAK_CIPHER_KEYWORDS),
                       False)


def weak_cipher_words(cipher_string: str) -> list[str]:
    """The terms of an OpenSSL cipher string that leave broken suites in the list (see
    weak_cipher_terms)."""
    return [term.written for term in weak_cipher_terms(cipher_string)]


def weak_cipher_terms(cipher_string: str) -> list[_CipherTerm]:
    """The terms of an OpenSSL cipher string that leave broken suites in the list, read in order
    as OpenSSL does (ciphers(1)): a term without prefix adds ciphers; ``-`` removes them (a later
    term may add them again) and ``!`` removes them for good; ``+`` only moves ciphers already
    in the list to its end and adds none; ``@STRENGTH``/``@SECLEVEL=n`` sort or filter. A
    removal by keyword (``-RC4``, ``!aNULL``, ``!RC4+MD5`` when every part is such a keyword)
    takes out every term whose ciphers all belong to it (and ``!aNULL+ECDH`` a later
    ``aNULL+ECDH``); one by suite name only that suite."""
    added: list[_CipherTerm] = []
    banned: list[_CipherTerm] = []

    def removes(removal: _CipherTerm, term: _CipherTerm) -> bool:
        if removal.suite:
            return term.suite and term.written.upper() == removal.written.upper()
        parts = set(removal.written.upper().split("+"))
        if not term.suite and parts <= set(term.written.upper().split("+")):
            return True     # the term's ciphers match every keyword the removal names
        return bool(removal.families) and all(p in WEAK_CIPHER_KEYWORDS for p in parts) \
            and removal.families <= term.families

    for token in re.split(r"[:,;\s]+", cipher_string):
        if not token or token.startswith("@"):
            continue
        prefix = token[0] if token[0] in "!-+" else ""
        term = _cipher_term(token[len(prefix):])
        if prefix == "+":
            continue
        if prefix:
            added = [t for t in added if not removes(term, t)]
            if prefix == "!":
                banned.append(term)
            continue
        if term.families and not any(removes(ban, term) for ban in banned):
            added.append(term)
    unique: dict[str, _CipherTerm] = {}
    for term in added:
        unique.setdefault(term.written, term)
    return list(unique.values())


def _adding_terms(cipher_string: str) -> list[_CipherTerm]:
    """Every term of a cipher string that adds ciphers (no prefix, not ``@STRENGTH``)."""
    return [_cipher_term(token) for token in re.split(r"[:,;\s]+", cipher_string)
            if token and token[0] not in "!-+@"]


@rule(code="CG702", name="ssl-weak-ciphers", severity="warning")
def ssl_weak_ciphers(ctx: LintContext) -> Iterator[Finding]:
    """``ssl_ciphers`` enables broken cipher suites (RC4, DES/3DES, MD5, NULL, EXPORT, anonymous).

    Such suites are breakable (SWEET32, RC4 biases) or authenticate nothing (aNULL): a client
    that prefers them, or an attacker who downgrades to them, gets no real protection. Use a
    current list such as Mozilla's "intermediate". The list is read in order as OpenSSL reads
    it: a suite removed with ``-`` or ``!`` (``!`` for good) is not reported, nor is a ``+``
    term, which only moves ciphers already in the list and adds none (``HIGH:-RC4:+RC4`` holds
    no RC4).

    How the TLS library changes it: a suite the library does not have is not enabled by naming
    it. From OpenSSL 1.1.0, RC4 and 3DES suites are only in builds configured with
    ``enable-weak-ssl-ciphers`` (OpenSSL's CHANGES) and single-DES ones are gone; Debian 12's
    OpenSSL 3.0 has none of RC4, RC2, DES, 3DES, IDEA, SEED, EXPORT or LOW (``openssl ciphers
    -v 'DES-CBC3-SHA:@SECLEVEL=0'`` answers "no cipher match"; nginx 1.22.1 with it refuses a
    client that offers only DES-CBC3-SHA, and ``ssl_ciphers DES-CBC3-SHA;`` alone fails ``nginx
    -t``). OpenSSL 1.1.0 and newer also refuse NULL, anonymous, MD5 and export suites at their
    default security level unless the list says ``@SECLEVEL=0`` (checked on nginx 1.22.1 with
    OpenSSL 3.0). When the nginx linted for is the installed one, its library is asked which
    families it has (the ``openssl`` command, when it runs the same library version and nginx
    was not built with its own copy; asked once and cached): a term it has no suite of is not
    reported, nor is a NULL, anonymous or MD5 term at the default security level, and a list
    that names nothing but suites it lacks is reported as an error, since nginx does not start
    with it. With another target the library is not known and the message says on what the
    suites depend.

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

    References:
        https://nginx.org/en/docs/http/ngx_http_ssl_module.html#ssl_ciphers
        https://docs.openssl.org/3.0/man1/openssl-ciphers/
        https://docs.openssl.org/3.0/man3/SSL_CTX_set_security_level/
        https://github.com/openssl/openssl/blob/openssl-3.0/CHANGES.md
    """
    for directive in ctx.all("ssl_ciphers"):
        written = " ".join(directive.args)
        weak = weak_cipher_terms(written)
        if not weak:
            continue
        library, present = _tls_library(ctx), _cipher_families(ctx)
        lowered = "@seclevel=0" in written.lower()
        if present is not None:
            lacking = [t for t in weak if not t.families <= present]
            adding = _adding_terms(written)
            if lacking and all(t.families and not t.families <= present for t in adding):
                which = f"OpenSSL {'.'.join(map(str, library))}" if library else "TLS library"
                yield ctx.finding(directive, f"ssl_ciphers names only suites the installed nginx's {which} does not "
                                             f"have ({', '.join(t.written for t in adding)}): `nginx -t` fails with "
                                             f"\"no cipher match\" and nginx does not start; use a current list "
                                             f"such as Mozilla's intermediate", severity="error")
                continue
            weak = [t for t in weak if t.families <= present]
        if library is not None and library >= SECURITY_LEVELS and not lowered:
            weak = [t for t in weak if not t.families & LEVEL_REFUSED]
        if not weak:
            continue
        verbs, notes = [], []
        lacked = [f for f in WEAK_BUILD_LACKS if any(f in t.families for t in weak)]
        if present is None and lacked:
            verbs.append("has")
            notes.append(f"Debian 12's OpenSSL 3.0 has no {_either(lacked)} suite")
        if library is None and not lowered and any(t.families & LEVEL_REFUSED for t in weak):
            verbs.append("accepts")
            notes.append("OpenSSL 1.1.0 and newer refuse NULL, anonymous, MD5 and export suites at their default "
                         "security level")
        hedge = f" if nginx's OpenSSL {' and '.join(verbs)} them ({'; '.join(notes)})" if notes else ""
        yield ctx.finding(directive, f"ssl_ciphers enables broken suites ({', '.join(t.written for t in weak)})"
                                     f"{hedge}; use a current list such as Mozilla's intermediate and exclude "
                                     f"!aNULL:!MD5")


# The families Debian 12's OpenSSL 3.0 has no suite of (`openssl ciphers -v 'F:@SECLEVEL=0'`
# answers "no cipher match" for each). OpenSSL's CHANGES: from 1.1.0, RC4 and 3DES suites need a
# build configured with enable-weak-ssl-ciphers, as EXPORT and LOW ones do from 1.0.2g; single DES
# suites are gone (openssl-ciphers(1)); Debian's build has no RC2, IDEA or SEED suite either.
WEAK_BUILD_LACKS = ("RC4", "RC2", "DES", "3DES", "IDEA", "SEED", "EXPORT", "LOW")
# What OpenSSL 1.1.0 and newer refuse from security level 1 (the default; Debian's is 2): suites
# below 80 bits (no encryption, export, low), MD5 MACs, and no authentication (shown on nginx
# 1.22.1 with OpenSSL 3.0: NULL-MD5 and AECDH-AES128-SHA refused, accepted with @SECLEVEL=0).
LEVEL_REFUSED = frozenset({"eNULL", "aNULL", "MD5", "EXPORT", "LOW"})
SECURITY_LEVELS = (1, 1, 0)


def _either(names: list[str]) -> str:
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} or {names[-1]}"


def _cipher_families(ctx) -> frozenset[str] | None:
    """The broken cipher families the TLS library of the nginx linted for has, when it is the
    installed one and that can be told."""
    from confgen.nginx.versions import installed_cipher_families

    return ctx.cached("security:cipher_families", lambda: installed_cipher_families(ctx.version))


@rule(group="hardening", code="CG703", name="hsts-missing", severity="warning")
def hsts_missing(ctx: LintContext) -> Iterator[Finding]:
    """A TLS server sends no ``Strict-Transport-Security`` header.

    Without HSTS a browser follows a plain ``http://`` link or a downgrade by an attacker on
    the network before it ever sees the redirect to https, and cookies can leak on the way.
    Add ``add_header Strict-Transport-Security "max-age=31536000" always;``. The headers-more
    module's ``more_set_headers "Strict-Transport-Security: max-age=..."`` in or around the
    server counts too. A catch-all with ``ssl_reject_handshake on``, or one that only closes
    connections (``return 444``), is not reported.

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

    References:
        https://developer.mozilla.org/en-US/docs/Web/HTTP/Headers/Strict-Transport-Security
        https://nginx.org/en/docs/http/ngx_http_headers_module.html#add_header
        https://github.com/openresty/headers-more-nginx-module#more_set_headers
    """
    for server in tls_servers(ctx):
        if any(r.args[:1] == ["444"] for r in server.find("return")) or ctx.unresolved_include(server):
            continue
        levels = [server] + [d for d in server.walk() if d.name in ("location", "if") and d.is_block]
        if any(any(h.args[0].lower() == "strict-transport-security" for h in effective_add_headers(ctx, level))
               for level in levels):
            continue
        if any(_more_sets_hsts(level) for level in [*levels, *server.ancestors()]):
            continue
        yield ctx.finding(ctx.block_anchor(server), "this TLS server sends no Strict-Transport-Security header: "
                                                    "browsers can be downgraded to http; add "
                                                    "`add_header Strict-Transport-Security \"max-age=31536000\" always;`")


def _more_sets_hsts(level) -> bool:
    """Whether ``level`` itself sets the header with the headers-more module
    (``more_set_headers "Strict-Transport-Security: max-age=..."``), as the other header rules
    read it; its own inheritance is not modelled, so one anywhere in or around the server counts."""
    for directive in level.find("more_set_headers"):
        for value in header_values(directive):
            name, colon, text = value.partition(":")
            if colon and name.strip().lower() == "strict-transport-security" and text.strip():
                return True
    return False


def letsencrypt_certificates(ctx, server) -> list:
    """The server's ``ssl_certificate`` directives that name a Let's Encrypt (certbot, acme) path."""
    return [c for c in ctx.nginx.effective("ssl_certificate", server)
            if c.args and LETSENCRYPT_PATH_RE.search(c.args[0])]


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

    References:
        https://nginx.org/en/docs/http/ngx_http_ssl_module.html#ssl_stapling
        https://letsencrypt.org/2024/12/05/ending-ocsp/
    """
    for server in tls_servers(ctx):
        stapling = _setting(ctx, "ssl_stapling", server)
        if stapling is None or stapling.args[:1] != ["on"]:
            continue
        certificates = letsencrypt_certificates(ctx, server)
        if certificates:
            yield ctx.finding(stapling, f"{certificates[0].args[0]} is a Let's Encrypt certificate, which has no "
                                        f"OCSP responder since 2025: ssl_stapling does nothing; turn it off")


@rule(group="hardening", code="CG705", name="ssl-stapling-no-resolver", severity="info")
def ssl_stapling_no_resolver(ctx: LintContext) -> Iterator[Finding]:
    """``ssl_stapling on`` without a ``resolver`` (or ``ssl_stapling_file``).

    Without a resolver nginx looks up the OCSP responder's host name once, when it loads the
    config, and fetches from those addresses until the next reload, logging "no resolver defined
    to resolve ..." each time (on nginx 1.22.1 the fetch still reaches the responder, set 19's
    sysreptor check). When the responder's addresses change, as those behind a CDN do, stapling
    fails until a reload and clients do the slower OCSP lookup themselves; the nginx docs pair
    ``ssl_stapling`` with ``resolver`` for that. A Let's Encrypt certificate is left to
    ``ssl-stapling-letsencrypt``, which says to turn stapling off there (there is no responder).

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

    References:
        https://nginx.org/en/docs/http/ngx_http_ssl_module.html#ssl_stapling
        https://nginx.org/en/docs/http/ngx_http_core_module.html#resolver
    """
    for server in tls_servers(ctx):
        stapling = _setting(ctx, "ssl_stapling", server)
        if stapling is None or stapling.args[:1] != ["on"]:
            continue
        if ctx.nginx.effective("resolver", server) or ctx.nginx.effective("ssl_stapling_file", server):
            continue
        if letsencrypt_certificates(ctx, server) or ctx.unresolved_include(server):
            continue
        yield ctx.finding(stapling, "ssl_stapling is on but no resolver is configured: nginx resolves the OCSP "
                                    "responder's name only when it loads the config, so stapling fails once the "
                                    "responder's addresses change, until a reload; add `resolver`")


@rule(group="hardening", code="CG706", name="ssl-ecdh-curve-pq", severity="warning")
def ssl_ecdh_curve_pq(ctx: LintContext) -> Iterator[Finding]:
    """``ssl_ecdh_curve`` names a post-quantum group without the ``?`` that makes it optional.

    OpenSSL rejects the whole list when one group is unknown, and nginx then does not start (a
    reload keeps the old config). The ML-KEM hybrids (``X25519MLKEM768``, ``SecP256r1MLKEM768``,
    ``SecP384r1MLKEM1024``) only exist from OpenSSL 3.5; the Kyber drafts
    (``X25519Kyber768Draft00``) are no OpenSSL group at all, only an added provider's. Debian 12
    and Ubuntu 24.04 ship OpenSSL 3.0. Leave ``auto`` (nginx's default): with OpenSSL 3.5 or
    newer it offers ``X25519MLKEM768`` first by itself (OpenSSL's default group list), and on
    an older one the classical groups. Where nginx's OpenSSL is 3.3 or newer, a ``?`` before a
    group skips it when missing (``?X25519MLKEM768:X25519:prime256v1``); OpenSSL 3.0 to 3.2
    reject the ``?`` itself ("group '?X25519MLKEM768' cannot be set").

    Bad:
        server {
            ssl_ecdh_curve X25519MLKEM768:X25519:prime256v1;
        }

    Good:
        server {
            ssl_ecdh_curve auto;
        }

    References:
        https://nginx.org/en/docs/http/ngx_http_ssl_module.html#ssl_ecdh_curve
        https://docs.openssl.org/3.5/man3/SSL_CTX_set1_curves/
        https://github.com/openssl/openssl/blob/openssl-3.5/CHANGES.md
    """
    for directive in ctx.all("ssl_ecdh_curve"):
        groups = [g for arg in directive.args for g in arg.split(":") if g]
        risky = [g for g in groups if POST_QUANTUM_RE.search(g) and not g.startswith("?")]
        if not risky:
            continue
        mlkem = [g for g in risky if "mlkem" in g.lower()]
        drafts = [g for g in risky if g not in mlkem]
        what = []
        if mlkem:
            what.append(f"{', '.join(mlkem)} only exist{'s' if len(mlkem) == 1 else ''} from OpenSSL 3.5")
        if drafts:
            what.append(f"{', '.join(drafts)} {'is' if len(drafts) == 1 else 'are'} no OpenSSL group (only an "
                        f"added provider's)")
        yield ctx.finding(directive, f"{' and '.join(what)}: where nginx's OpenSSL lacks one it rejects the whole "
                                     f"list and nginx does not start; leave `auto` (OpenSSL 3.5 then offers "
                                     f"X25519MLKEM768 by itself), or prefix with ? to skip a missing group, which "
                                     f"needs OpenSSL 3.3 or newer (3.0, as on Debian 12 and Ubuntu 24.04, rejects "
                                     f"the ? too)")


def default_servers(ctx) -> list[tuple[tuple, object, list]]:
    """(socket, its default server, the other servers) for every TLS socket several http servers
    share."""
    return [(socket, default, [s for s in servers if s is not default])
            for socket, (default, servers) in servers_by_socket(ctx, tls_only=True).items() if len(servers) > 1]


def _protocols(ctx, server) -> list[str]:
    return ctx.nginx.effective_args("ssl_protocols", server) or []


@rule(code="CG707", name="ssl-protocols-not-default-server", severity="warning", needs=("full",))
def ssl_protocols_not_default_server(ctx: LintContext) -> Iterator[Finding]:
    """``ssl_protocols`` set in a server that is not the default server of its ``listen``.

    nginx negotiates the TLS version with the default server's settings, before it knows which
    server the client asked for (SNI): a named server's ``ssl_protocols TLSv1.2 TLSv1.3`` has no
    effect when the default server (or nginx's own default, which lacks TLSv1.3 before 1.23.4)
    says otherwise. Set ``ssl_protocols`` once in the http block, or in the default server.

    Bad:
        events {}
        http {
            server { listen 443 ssl default_server; ssl_reject_handshake on; }
            server {
                listen 443 ssl;
                server_name app.example.com;
                ssl_protocols TLSv1.2 TLSv1.3;
            }
        }

    Good:
        events {}
        http {
            ssl_protocols TLSv1.2 TLSv1.3;
            server { listen 443 ssl default_server; ssl_reject_handshake on; }
            server {
                listen 443 ssl;
                server_name app.example.com;
            }
        }

    References:
        https://nginx.org/en/docs/http/ngx_http_ssl_module.html#ssl_protocols
        https://nginx.org/en/docs/http/ngx_http_core_module.html#listen
        https://nginx.org/en/docs/http/request_processing.html
    """
    reported: set[int] = set()
    for (address, port), default, others in default_servers(ctx):
        if ctx.unresolved_include(default):
            continue
        in_force = _protocols(ctx, default)
        for server in others:
            own = server.find("ssl_protocols")
            if not own or id(own[-1]) in reported:
                continue
            wanted = list(own[-1].args)
            if set(wanted) == set(in_force):
                continue
            reported.add(id(own[-1]))
            how = "its ssl_protocols" if ctx.nginx.effective("ssl_protocols", default) else \
                f"nginx {'.'.join(map(str, ctx.version))}'s default"
            yield ctx.finding(own[-1], f"nginx negotiates TLS on {address}:{port} with the default server "
                                       f"({default.file}:{default.line}), whose protocols are {how}: "
                                       f"{' '.join(in_force) or 'none'}; this server's `ssl_protocols "
                                       f"{' '.join(wanted)}` has no effect there; set it in the http block or "
                                       f"the default server")


def _provided_file_in(ctx, server) -> bool:
    """Whether the server includes a file the deployment provides (which may pass the
    variable); the unknown includer of a bare server snippet is not one: its locations are here."""
    include = ctx.unresolved_include(server, inherited=False)
    return include is not None and not include.args[0].startswith("<")


def _mentions(block, variable: str) -> bool:
    return any(variable in arg for directive in block.walk() for arg in directive.args)


@rule(code="CG708", name="ssl-early-data-unmarked", severity="warning")
def ssl_early_data_unmarked(ctx: LintContext) -> Iterator[Finding]:
    """``ssl_early_data on`` without telling the app which requests came as 0-RTT early data.

    TLS 1.3 early data is sent before the handshake completes, and an attacker who recorded it
    can replay it: a POST that transfers money or places an order runs twice. nginx's
    documentation: "to protect against such attacks at the application layer, the
    ``$ssl_early_data`` variable should be used". Pass it (``proxy_set_header Early-Data
    $ssl_early_data;``, RFC 8470, so the app can answer ``425 Too Early``), refuse such requests
    in nginx (``if ($ssl_early_data) { return 425; }`` for non-idempotent ones), or leave early
    data off. Reported for servers that hand requests to an app (``proxy_pass``, ``uwsgi_pass``
    ...) where no directive in the server (nor a ``map`` at http level) uses
    ``$ssl_early_data``.

    Bad:
        server {
            listen 443 ssl;
            ssl_early_data on;
            location / {
                proxy_pass http://127.0.0.1:8000;
            }
        }

    Good:
        server {
            listen 443 ssl;
            ssl_early_data on;
            location / {
                proxy_set_header Early-Data $ssl_early_data;
                proxy_pass http://127.0.0.1:8000;
            }
        }

    References:
        https://nginx.org/en/docs/http/ngx_http_ssl_module.html#ssl_early_data
        https://nginx.org/en/docs/http/ngx_http_ssl_module.html#var_ssl_early_data
        https://www.rfc-editor.org/rfc/rfc8470
    """
    enabled = [d for d in ctx.all("ssl_early_data") if d.args[:1] == ["on"]]
    if not enabled or any(_mentions(table, "$ssl_early_data") for name in ("map", "geo") for table in ctx.all(name)):
        return
    for directive in enabled:
        level = directive.parent
        servers = [level] if level.name == "server" else [s for s in http_servers(ctx) if level in s.ancestors()]
        unmarked = [s for s in servers
                    if (ctx.nginx.effective_args("ssl_early_data", s) or ["off"])[0] == "on"
                    and any(d.name in UPSTREAM_PASS for d in s.walk())
                    and not _mentions(s, "$ssl_early_data") and not _provided_file_in(ctx, s)]
        if not unmarked:
            continue
        where = "this server never uses" if unmarked == [level] else f"{len(unmarked)} server(s) never use"
        yield ctx.finding(directive, f"ssl_early_data on accepts replayable 0-RTT requests, and {where} "
                                     f"$ssl_early_data: the app cannot tell them apart; pass it "
                                     f"(proxy_set_header Early-Data $ssl_early_data) or refuse them with 425")


@rule(code="CG709", name="ssl-listen-missing", severity="error")
def ssl_listen_missing(ctx: LintContext) -> Iterator[Finding]:
    """A server holds its own certificate, but none of its ``listen`` sockets has ``ssl``.

    TLS is a property of the listening socket: only ``listen ... ssl`` (or ``quic``) makes
    nginx speak TLS on it, for every server on that address and port. A server with
    ``ssl_certificate`` and ``listen 443;`` serves plain HTTP on port 443: browsers fail the
    handshake ("wrong version number"), and the certificate is never used. (The ``ssl on``
    directive that once did this was deprecated in 1.15.0 and removed in 1.25.1.) Not reported
    when another server's ``listen`` makes the same socket TLS, for a certificate inherited
    from the http level by a plain-HTTP server, or for a server that only redirects (a
    server-level ``return 301``, or its ``location /`` redirects) or shares a name with a server
    that listens with ``ssl``: that is the plain-HTTP side of a site whose TLS side is elsewhere,
    its certificate lines are unused, and ``listen 80 ssl`` there would answer every plain-HTTP
    visitor with 400 instead of the redirect. Also reported: one ``listen`` of a server without
    ``ssl`` on the port another of its ``listen`` has it on (``listen 443 ssl; listen [::]:443;``):
    that socket speaks plain HTTP to IPv6 clients (checked on nginx 1.22.1).

    Bad:
        server {
            listen 443;
            server_name example.com;
            ssl_certificate /etc/ssl/example.pem;
            ssl_certificate_key /etc/ssl/example.key;
            ssl_protocols TLSv1.2 TLSv1.3;
            add_header Strict-Transport-Security "max-age=31536000" always;
        }

    Good:
        server {
            listen 443 ssl;
            server_name example.com;
            ssl_certificate /etc/ssl/example.pem;
            ssl_certificate_key /etc/ssl/example.key;
            ssl_protocols TLSv1.2 TLSv1.3;
            add_header Strict-Transport-Security "max-age=31536000" always;
        }

    References:
        https://nginx.org/en/docs/http/ngx_http_core_module.html#listen
        https://nginx.org/en/docs/http/ngx_http_ssl_module.html#ssl
        https://nginx.org/en/docs/http/configuring_https_servers.html
    """
    tls_sockets = set(servers_by_socket(ctx, tls_only=True))
    yield from _twin_listen_without_ssl(ctx, tls_sockets)
    tls_names = {name.lower() for server in http_servers(ctx)
                 if any(l.ssl or l.quic for l in ctx.nginx.listens(server))
                 for directive in server.find("server_name") for name in directive.args}
    for server in http_servers(ctx):
        certificate = next(iter(server.find("ssl_certificate")), None)
        listens = ctx.nginx.listens(server)
        if certificate is None or not listens or any(l.ssl or l.quic for l in listens):
            continue
        names = {name.lower() for directive in server.find("server_name") for name in directive.args}
        if only_redirects(server) or names & tls_names - {"", "_"}:
            # The plain-HTTP twin of a TLS server (or a redirector to it): its certificate lines
            # are unused, and `listen 80 ssl` would break the redirect (400 "The plain HTTP
            # request was sent to HTTPS port").
            continue
        if (ctx.nginx.effective_args("ssl", server) or ["off"])[0] == "on":
            continue  # the old `ssl on;` (nginx before 1.25.1)
        plain = [l for l in listens if not l.is_unix and listen_socket(l) not in tls_sockets]
        if not plain or len(plain) < len([l for l in listens if not l.is_unix]):
            continue  # some socket of the server is TLS through another server's listen
        ports = ", ".join(dict.fromkeys(str(l.port) for l in plain))
        yield ctx.finding(plain[0].directive,
                          f"this server has a certificate ({certificate.args[0] if certificate.args else '?'}) but "
                          f"no listen with ssl: port {ports} speaks plain HTTP and TLS clients fail the handshake; "
                          f"add ssl to the listen (listen {plain[0].port} ssl)")


def _twin_listen_without_ssl(ctx: LintContext, tls_sockets: set) -> Iterator[Finding]:
    """``listen 443 ssl; listen [::]:443;`` in one server: the IPv6 socket (or the other address)
    speaks plain HTTP on the TLS port, so TLS clients reaching it fail the handshake."""
    for server in http_servers(ctx):
        listens = [l for l in ctx.nginx.listens(server) if not l.is_unix]
        tls_ports = {l.port for l in listens if l.ssl}
        for listen in listens:
            if listen.ssl or listen.quic or listen.port not in tls_ports or listen_socket(listen) in tls_sockets:
                continue
            twin = next(l for l in listens if l.ssl and l.port == listen.port)
            written = " ".join(listen.directive.args)
            yield ctx.finding(listen.directive, f"`listen {written}` has no ssl, though this server's "
                                                f"`listen {' '.join(twin.directive.args)}` has: that socket speaks "
                                                f"plain HTTP on port {listen.port}, so TLS clients reaching it there "
                                                f"fail the handshake; write `listen {written} ssl`")


@rule(code="CG712", name="ssl-certificate-key-mixup", severity="error")
def ssl_certificate_key_mixup(ctx: LintContext) -> Iterator[Finding]:
    """``ssl_certificate_key`` names certbot's certificate file (``fullchain.pem``), or ``ssl_certificate`` its key.

    certbot keeps four files in ``/etc/letsencrypt/live/NAME/``: ``cert.pem``, ``chain.pem`` and
    ``fullchain.pem`` hold certificates, ``privkey.pem`` the private key. A certificate file
    given as the key holds no key: ``nginx -t`` fails with ``cannot load certificate key ...
    PEM_read_bio_PrivateKey() failed`` (checked on nginx 1.22.1), and so does the key given as
    the certificate. Judged by those file names only; a file of another name may hold both.

    Bad:
        server {
            listen 443 ssl;
            ssl_certificate /etc/letsencrypt/live/example.com/fullchain.pem;
            ssl_certificate_key /etc/letsencrypt/live/example.com/fullchain.pem;
        }

    Good:
        server {
            listen 443 ssl;
            ssl_certificate /etc/letsencrypt/live/example.com/fullchain.pem;
            ssl_certificate_key /etc/letsencrypt/live/example.com/privkey.pem;
        }

    References:
        https://nginx.org/en/docs/http/ngx_http_ssl_module.html#ssl_certificate_key
        https://eff-certbot.readthedocs.io/en/stable/using.html#where-are-my-certificates
    """
    wrong = {"ssl_certificate_key": _CERTBOT_CERTIFICATES, "ssl_certificate": {"privkey.pem"},
             "proxy_ssl_certificate_key": _CERTBOT_CERTIFICATES, "proxy_ssl_certificate": {"privkey.pem"}}
    for name, files in wrong.items():
        for directive in ctx.all(name):
            path = directive.args[0] if directive.args else ""
            if "$" in path or path.rsplit("/", 1)[-1] not in files:
                continue
            holds = "a private key" if name.endswith("certificate") else "certificates and no private key"
            right = path.rsplit("/", 1)[0] + "/" + ("fullchain.pem" if name.endswith("certificate") else "privkey.pem")
            yield ctx.finding(directive, f"{name} names {path}, which holds {holds} (certbot's file names): nginx "
                                         f"refuses to start (cannot load it); write `{name} {right}`")


_CERTBOT_CERTIFICATES = frozenset({"cert.pem", "chain.pem", "fullchain.pem"})


@rule(code="CG710", name="ssl-client-certificate-unverified", severity="warning")
def ssl_client_certificate_unverified(ctx: LintContext) -> Iterator[Finding]:
    """``ssl_client_certificate`` without ``ssl_verify_client``: no client certificate is asked for.

    ``ssl_client_certificate`` only names the CAs client certificates are checked against; nginx
    requests and checks one only with ``ssl_verify_client on`` (or ``optional``,
    ``optional_no_ca``), which is ``off`` by default. Without it every client connects as before,
    so an origin meant to accept only a CDN's authenticated pulls (Cloudflare's authenticated
    origin pulls) or only holders of a certificate accepts anyone. Not reported where
    ``ssl_stapling on`` is in force: before ``ssl_trusted_certificate`` (1.3.7) that file also
    served to verify OCSP responses.

    Bad:
        events {}
        http {
            server {
                listen 443 ssl;
                ssl_client_certificate /etc/nginx/origin-pull-ca.pem;
            }
        }

    Good:
        events {}
        http {
            server {
                listen 443 ssl;
                ssl_client_certificate /etc/nginx/origin-pull-ca.pem;
                ssl_verify_client on;
            }
        }

    References:
        https://nginx.org/en/docs/http/ngx_http_ssl_module.html#ssl_client_certificate
        https://nginx.org/en/docs/http/ngx_http_ssl_module.html#ssl_verify_client
        https://developers.cloudflare.com/ssl/origin-configuration/authenticated-origin-pull/set-up/
    """
    for server in tls_servers(ctx):
        certificate = _setting(ctx, "ssl_client_certificate", server)
        if certificate is None or ctx.unresolved_include(server) or not ctx.nginx.is_full:
            continue    # in a snippet, the http block it goes in may set ssl_verify_client
        verify = _setting(ctx, "ssl_verify_client", server)
        stapling = _setting(ctx, "ssl_stapling", server)
        if (verify is not None and verify.args[:1] != ["off"]) or (stapling is not None and stapling.args[:1] == ["on"]):
            continue
        if any(d.args[:1] not in ([], ["off"]) for d in server.walk() if d.name == "ssl_verify_client"):
            continue    # asked for in a location (a renegotiation nginx refuses with TLSv1.3; not this rule's)
        yield ctx.finding(certificate, f"ssl_client_certificate {certificate.args[0] if certificate.args else ''} "
                                       f"without ssl_verify_client: nginx asks no client for a certificate, so "
                                       f"every client is accepted; add `ssl_verify_client on;`")


@rule(code="CG711", name="hsts-malformed", severity="warning")
def hsts_malformed(ctx: LintContext) -> Iterator[Finding]:
    """A ``Strict-Transport-Security`` value browsers cannot parse, so they ignore the header.

    RFC 6797 separates directives with ``;``, requires exactly one ``max-age`` whose value is a
    number of seconds, and tells browsers to ignore a header that does not parse (section 8.1):
    ``max-age=31536000: includeSubDomains`` or ``max-age=31536000, includeSubDomains`` protect
    nothing, however long the max-age. Values built from variables are not checked; one value
    written in several places is one finding, at the first, naming how many more there are.

    Bad:
        server {
            add_header Strict-Transport-Security "max-age=31536000: includeSubDomains" always;
        }

    Good:
        server {
            add_header Strict-Transport-Security "max-age=31536000; includeSubDomains" always;
        }

    References:
        https://www.rfc-editor.org/rfc/rfc6797#section-6.1
        https://www.rfc-editor.org/rfc/rfc6797#section-8.1
    """
    # One value copied to several places is one mistake: one finding, at its first place.
    by_value: dict[str, list] = {}
    for directive in ctx.all("add_header"):
        if len(directive.args) < 2 or directive.args[0].lower() != "strict-transport-security" or "$" in directive.args[1]:
            continue
        by_value.setdefault(directive.args[1], []).append(directive)
    for value, places in by_value.items():
        problem = hsts_problem(value)
        if problem:
            more = f" (and {len(places) - 1} more place{'s' if len(places) > 2 else ''})" if len(places) > 1 else ""
            yield ctx.finding(places[0], f"Strict-Transport-Security \"{value}\"{more} does not parse ({problem}): "
                                         f"browsers ignore the header; write directives separated by ';', e.g. "
                                         f"\"max-age=31536000; includeSubDomains\"")


_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")


def hsts_problem(value: str) -> str | None:
    """Why an HSTS header value does not parse as RFC 6797 section 6.1 writes it, or None."""
    seen: set[str] = set()
    for part in value.split(";"):
        part = part.strip()
        if not part:
            continue
        name, equals, argument = part.partition("=")
        name = name.strip().lower()
        if not _TOKEN.fullmatch(name):
            return f"{part!r} is not a directive"
        if name in seen:
            return f"{name} is given twice"
        seen.add(name)
        argument = argument.strip()
        if name == "max-age" and not re.fullmatch(r'"?\d+"?', argument):
            return f"max-age {argument!r} is not a number of seconds"
    return None if "max-age" in seen else "no max-age"
