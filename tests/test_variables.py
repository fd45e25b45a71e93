"""The variable model (confgen/nginx/variables.py): where a value at a place in the tree comes
from, what it can hold, and which part of a URL it lands in."""

from __future__ import annotations

import pytest

from confgen.nginx.parse import load_nginx
from confgen.nginx.variables import (
    Source,
    host_segments,
    leaves,
    parse_regex,
    references,
    variables_of,
)


def model_and(text: str, name: str, nth: int = 0):
    """The model of ``text`` and its ``nth`` directive named ``name``."""
    config = load_nginx(text, nginx_version="1.22.1")
    directive = [d for d in config.walk() if d.name == name][nth]
    return variables_of(config), directive


def sources_of(text: str, name: str, arg: int = 0, nth: int = 0) -> list[Source]:
    model, directive = model_and(text, name, nth)
    return model.sources(directive.args[arg], directive)


def hosts_of(text: str, name: str = "proxy_pass", nth: int = 0) -> list[tuple]:
    model, directive = model_and(text, name, nth)
    return model.host_alternatives(directive.args[0], directive)


def test_references_read_nginx_spellings():
    assert [r.name for r in references("${Host}$arg_next/$10$uri")] == ["host", "arg_next", "1", "uri"]


# ---------------------------------------------------------------------------------------------
# Request data


@pytest.mark.parametrize("variable, line_breaks, slash", [
    ("$uri", True, True), ("$document_uri", True, True), ("$request_uri", False, True),
    ("$args", False, False), ("$query_string", False, False), ("$arg_next", False, False),
    ("$http_x_target", False, False), ("$cookie_session", False, False), ("$host", False, False),
    ("$http_host", False, False), ("$request_body", True, False),
])
def test_request_variables_are_controlled(variable, line_breaks, slash):
    [source] = sources_of(f"server {{ location / {{ add_header X {variable}; }} }}", "add_header", arg=1)
    assert (source.kind, source.controlled, source.line_breaks, source.leading_slash) == (
        "request", True, line_breaks, slash)


@pytest.mark.parametrize("variable", ["$remote_addr", "$scheme", "$proxy_host", "$is_args", "$server_name"])
def test_nginx_own_variables_are_not_controlled(variable):
    [source] = sources_of(f"server {{ location / {{ add_header X {variable}; }} }}", "add_header", arg=1)
    assert source.kind == "nginx" and not source.controlled


def test_a_constant_has_no_sources():
    assert sources_of("server { location / { add_header X constant; } }", "add_header", arg=1) == []


# ---------------------------------------------------------------------------------------------
# Captures: numbered and named in all three spellings, from every regex that makes them


@pytest.mark.parametrize("group", ["(?P<target>.*)", "(?<target>.*)", "(?'target'.*)"])
def test_named_captures_in_all_three_spellings(group):
    [source] = sources_of(f"server {{ location ~ /proxy/{group}$ {{ proxy_pass $target; }} }}", "proxy_pass")
    assert source.kind == "capture" and source.controlled and source.any_host
    assert source.line_breaks      # PCRE's . takes a CR, and $uri is decoded


@pytest.mark.parametrize("group, line_breaks, any_host", [
    ("(.*)", True, True), ("(\\W*)", True, True), ("([^/]+)", True, True),
    ("([a-z0-9-]+)", False, True),    # no CR/LF, but it spells localhost or redis
    ("(eu|us)", False, False),        # two fixed words
    ("(\\d{1,3})", False, False),
])
def test_a_capture_carries_what_its_group_can_match(group, line_breaks, any_host):
    [source] = sources_of(f'server {{ location ~ "^/p/{group}$" {{ return 302 https://x/$1; }} }}', "return", arg=1)
    assert (source.line_breaks, source.any_host) == (line_breaks, any_host)


def test_captures_of_a_raw_subject_carry_no_line_breaks():
    # $request_uri is never decoded: whatever its group matches, no CR/LF arrives.
    [source] = sources_of("server { location / { if ($request_uri ~ ^/(.*)$) { return 302 /x/$1; } } }",
                          "return", arg=1)
    assert source.controlled and not source.line_breaks


def test_captures_of_if_rewrite_map_and_server_name():
    text = """
        map $http_origin $tenant { ~^https://(?<who>[a-z]+)\\.example\\.com$ $who; default ""; }
        server {
            server_name ~^(?<sub>[a-z]+)\\.example\\.com$;
            location / {
                rewrite ^/old/(.*)$ /new/$1 break;
                add_header X-A $1;
                add_header X-B $sub;
                add_header X-C $tenant;
                if ($arg_x ~ ^(?<picked>.+)$) { add_header X-D $picked; }
            }
        }
    """
    model, _ = model_and(text, "add_header")
    config = model.config
    headers = {d.args[0]: d for d in config.walk() if d.name == "add_header"}
    [a] = model.sources("$1", headers["X-A"])
    assert "'^/old/(.*)$'" in a.origin and a.line_breaks
    [b] = model.sources("$sub", headers["X-B"])
    assert "from $host" in b.origin and not b.line_breaks
    c = model.sources("$tenant", headers["X-C"])
    assert [s.name for s in c] == ["$who"] and c[0].controlled and "from $http_origin" in c[0].origin
    [d] = model.sources("$picked", headers["X-D"])
    assert "from $arg_x" in d.origin and d.controlled and not d.line_breaks


def test_numbered_capture_scope_follows_nginx():
    text = """
        server {
            location ~ ^/(a)/(b)$ {
                if ($arg_x ~ ^(c)$) { return 302 /$1; }
                return 302 /$2;
            }
        }
    """
    model, inner = model_and(text, "return", 0)
    outer = [d for d in model.config.walk() if d.name == "return"][1]
    assert model.regex_in_scope(inner).pattern == "^(c)$" and model.regex_in_scope(inner).groups == 1
    assert model.regex_in_scope(outer).pattern == "^/(a)/(b)$"


def test_a_capture_with_no_regex_in_scope_is_empty():
    assert sources_of("server { location / { return 302 /$1; } }", "return", arg=1) == []


# ---------------------------------------------------------------------------------------------
# Flow: set chains, concatenation, map outputs


def test_set_chains_and_concatenation():
    text = """
        server {
            location / {
                set $a $arg_a;
                set $b "pre-${a}-post";
                set $c $b;
                add_header X $c;
            }
        }
    """
    model, directive = model_and(text, "add_header")
    [alternative] = model.expand("$c", directive)
    assert alternative[0] == "pre-" and alternative[1].name == "$arg_a" and alternative[2] == "-post"


def test_a_set_in_scope_wins_over_one_elsewhere():
    text = """
        server {
            location /a/ { set $t $arg_t; }
            location /b/ { set $t fixed; add_header X $t; }
        }
    """
    model, directive = model_and(text, "add_header")
    assert model.expand("$t", directive) == [("fixed",)]


def test_a_set_elsewhere_is_still_a_source():
    # Reached through an internal redirect from the location that sets it.
    text = "server { location /a/ { set $t $arg_t; } location /b/ { add_header X $t; } }"
    assert [s.name for s in sources_of(text, "add_header", arg=1)] == ["$arg_t"]


def test_map_outputs_come_from_their_entries_and_source():
    text = """
        map $arg_region $backend {
            default eu.internal;
            us us.internal;
            ~^(?<any>.+)$ $any.example;
        }
        server { location / { proxy_pass http://$backend; } }
    """
    hosts = hosts_of(text)
    assert ("eu.internal",) in hosts and ("us.internal",) in hosts
    free = [h for h in hosts if any(isinstance(s, Source) for s in h)]
    assert free and free[0][0].name == "$any" and "from $arg_region" in free[0][0].origin


def test_a_map_without_default_can_be_empty():
    text = "map $arg_r $x { a one; } server { location / { add_header X $x; } }"
    model, directive = model_and(text, "add_header")
    assert () in model.expand("$x", directive)


def test_code_set_variables_are_unknown_not_request_data():
    [source] = sources_of("perl_set $x 'sub { 1 }'; server { location / { add_header X $x; } }", "add_header", arg=1)
    assert source.kind == "code" and not source.controlled


def test_self_reference_ends():
    sources = sources_of("server { location / { set $a $a$arg_x; add_header X $a; } }", "add_header", arg=1)
    assert "$arg_x" in [s.name for s in sources]


def test_alternatives_are_capped():
    entries = " ".join(f"k{i} v{i};" for i in range(200))
    text = f"map $arg_r $x {{ {entries} ~(?<free>.*) $free; }} server {{ location / {{ add_header X $x; }} }}"
    model, directive = model_and(text, "add_header")
    expanded = model.expand("$x", directive)
    assert len(expanded) <= 64
    assert "$free" in [s.name for s in leaves(expanded)]    # the rest is summarised, not lost


# ---------------------------------------------------------------------------------------------
# Position: the host part of a URL


def test_request_uri_after_a_constant_host_is_the_path():
    text = 'server { location / { set $u "http://backend$request_uri"; proxy_pass $u; } }'
    assert hosts_of(text) == [("backend",)]


def test_uri_after_a_constant_host_is_the_path():
    assert hosts_of("server { location / { proxy_pass http://backend$uri; } }") == [("backend",)]


def test_a_whole_url_from_a_capture_is_the_host():
    [host] = hosts_of("server { location ~ /proxy/(?P<proxy>.*)$ { proxy_pass $proxy; } }")
    assert host[0].name == "$proxy" and host[0].any_host


def test_host_and_path_captures():
    [host] = hosts_of("server { location ~ ^/p/([^/]+)/(.*)$ { proxy_pass http://$1/$2; } }")
    assert [s.name for s in host] == ["$1"]


def test_host_segments_stop_at_the_path_and_skip_the_scheme():
    uri = Source("request", "$request_uri", True, False, True, True)
    scheme = Source("nginx", "$scheme", False, False, False, False)
    assert host_segments((scheme, "://example.com:8080/x")) == ("example.com:8080",)
    assert host_segments(("http://a", uri)) == ("a",)
    assert host_segments(("unix:/run/app.sock",)) == ("unix:",)


def test_parse_regex_reads_pcre_named_groups():
    assert parse_regex("(?<a>x)(?'b'y)").state.groupdict == {"a": 1, "b": 2}
    assert parse_regex("(unclosed") is None
