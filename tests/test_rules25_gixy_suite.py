"""gixy's own plugin suite, run through confgen (issue 25): every fragment of
yandex/gixy tests/plugins/simply/ (commit 2ff6ac1f8bba78e2d608960d076b3090dd26e76e and the later
ones its listing names; Mozilla Public License 2.0, quoted as test data) for the checks confgen
mirrors. A fragment named *_fp must be clean, every other one reported by the mapped rule. The
force_https plugin (disabled in gixy by default) has no confgen rule and is left out.

One disagreement, decided by the real nginx: gixy's http_splitting/rewrite_extract_fp is a real
injection. A named capture in a redirecting rewrite is copied unescaped (nginx 1.22.1 answers
`/proxy/a/%0a%0a` with two raw line feeds in Location; tests/test_rules25_nginx_behaviour.py
runs it), so confgen reports it."""

from __future__ import annotations

import pytest

from lint_helpers import lint_config, only

RULE = {"add_header_multiline": "add-header-multiline", "add_header_redefinition": "add-header-redefinition",
        "alias_traversal": "alias-traversal", "host_spoofing": "host-spoofing", "http_splitting": "http-splitting",
        "origins": "origins-regex", "ssrf": "ssrf", "valid_referers": "valid-referers-none"}
# gixy labels it a false positive; nginx shows the injection (see the module docstring).
REAL_ALTHOUGH_LABELLED_FP = {("http_splitting", "rewrite_extract_fp")}

FRAGMENTS = [
    ('add_header_multiline', 'add_header', 'add_header Content-Security-Policy "\n    default-src: \'none\';\n    font-src data: https://yastatic.net;";\n'),
    ('add_header_multiline', 'add_header_fp', 'add_header X-Foo foo;\n'),
    ('add_header_multiline', 'more_set_headers', "more_set_headers -t 'text/html text/plain'\n    'X-Foo: Bar\n        multiline';\n"),
    ('add_header_multiline', 'more_set_headers_fp', "more_set_headers -t 'text/html text/plain'\n    'X-Foo: Bar multiline';\n"),
    ('add_header_multiline', 'more_set_headers_multiple', "more_set_headers -t 'text/html text/plain'\n    'X-Foo: some\n        multiline'\n    'X-Bar: some\n        multiline'\n    'X-Baz: some\n        multiline';\n"),
    ('add_header_multiline', 'more_set_headers_replace', "more_set_headers -r 'Foo:\n    multiline';\n"),
    ('add_header_multiline', 'more_set_headers_replace_fp', "more_set_headers -r 'Foo: multiline';\n"),
    ('add_header_multiline', 'more_set_headers_status_fp', "more_set_headers -s 404 -s '500 503' 'Foo: bar';\n"),
    ('add_header_multiline', 'more_set_headers_type_fp', "more_set_headers -t 'text/html\n    text/plain' 'X-Foo: some';\n"),
    ('add_header_redefinition', 'duplicate_fp', 'http {\nadd_header X-Frame-Options "DENY" always;\n  server {\n    location /new-headers {\n      add_header X-Frame-Options "DENY" always;\n      add_header X-Foo foo;\n    }\n  }\n}\n'),
    ('add_header_redefinition', 'if_replaces', 'add_header X-Frame-Options "DENY" always;\n\nif (1) {\n  add_header X-Foo foo;\n}\n'),
    ('add_header_redefinition', 'location_replaces', 'add_header X-Frame-Options "DENY" always;\n\nlocation /new-headers {\n  add_header X-Foo foo;\n}\n'),
    ('add_header_redefinition', 'nested_block', 'server {\n  add_header X-Frame-Options "DENY" always;\n  location / {\n    location /some {\n      add_header X-Frame-Options "DENY" always;\n    }\n\n    location /another {\n      add_header X-Foo foo;\n    }\n  }\n}\n'),
    ('add_header_redefinition', 'non_block_fp', 'add_header X-Frame-Options "DENY" always;\nserver "some";\nadd_header X-Foo foo;\n\n'),
    ('add_header_redefinition', 'not_secure_both_fp', 'add_header X-Bar bar;\n\nlocation /new-headers {\n  add_header X-Foo foo;\n}\n'),
    ('add_header_redefinition', 'not_secure_outer_fp', 'add_header X-Bar bar;\n\nlocation /new-headers {\n  add_header X-Frame-Options "DENY" always;\n}\n'),
    ('add_header_redefinition', 'step_replaces', 'http {\nadd_header X-Frame-Options "DENY" always;\n  server {\n    location /new-headers {\n      add_header X-Foo foo;\n    }\n  }\n}\n'),
    ('alias_traversal', 'nested', 'location /files/ {\n    location /files/images {\n        alias /home/;\n    }\n}\n\n'),
    ('alias_traversal', 'nested_fp', 'location /files/ {\n    location /files/images {\n    }\n    alias /home/;\n}\n\n'),
    ('alias_traversal', 'not_slashed_alias', 'location /files {\n    alias /home;\n}\n\n'),
    ('alias_traversal', 'not_slashed_alias_fp', 'location /files/ {\n    alias /home;\n}\n\n'),
    ('alias_traversal', 'simple', 'location /files {\n    alias /home/;\n}\n\n'),
    ('alias_traversal', 'simple_fp', 'location /files/ {\n    alias /home/;\n}\n\n'),
    ('host_spoofing', 'http_fp', 'proxy_set_header Host $host;\n'),
    ('host_spoofing', 'http_host', 'proxy_set_header Host $http_host;\n'),
    ('host_spoofing', 'http_host_diff_case', 'proxy_set_header HoSt $http_host;\n'),
    ('host_spoofing', 'some_arg', 'proxy_set_header host $arg_host;\n'),
    ('http_splitting', 'add_header_uri', 'add_header X-Uri $uri;\n'),
    ('http_splitting', 'dont_report_not_resolved_var_fp', 'location ~ /proxy/(a|b)/(\\W*)$ {\n    proxy_pass http://storage/$some;\n}\n'),
    ('http_splitting', 'proxy_from_location_var', 'location ~ /proxy/(a|b)/(\\W*)$ {\n    proxy_pass http://storage/$2;\n}\n'),
    ('http_splitting', 'proxy_from_location_var_var', 'location ~ /proxy/(a|b)/(\\W*)$ {\n    set $p $2;\n    proxy_pass http://storage/$p;\n}\n'),
    ('http_splitting', 'proxy_from_location_var_var_fp', 'location ~ /proxy/(a|b)/(\\W*)$ {\n    set $p $1;\n    proxy_pass http://storage/$p;\n}\n'),
    ('http_splitting', 'proxy_from_location_var_var_var', 'location ~ /proxy/(a|b)/(?<p>\\W*)$ {\n    set $upstream "http://$1/$p?";\n    proxy_pass $upstream;\n}\n'),
    ('http_splitting', 'proxy_pass_cr_fp', 'location ~* ^/test/(.*) {\n    proxy_pass http://10.10.10.10/$1;\n}\n\n'),
    ('http_splitting', 'proxy_pass_ducument_uri', 'proxy_pass http://upstream$document_uri;\n'),
    ('http_splitting', 'proxy_pass_lf', 'location ~* ^/test/([^/]+)/ {\n    proxy_pass http://10.10.10.10/$1;\n}\n\n'),
    ('http_splitting', 'proxy_set_header_ducument_uri', 'proxy_set_header "X-Original-Uri" $document_uri;\n'),
    ('http_splitting', 'return_403_fp', 'return 403;\n'),
    ('http_splitting', 'return_request_uri_fp', 'return 301 https://some$request_uri;\n'),
    ('http_splitting', 'rewrite_extract_fp', 'rewrite ^/proxy/(a|b)/(?<path>\\W*)$ http://storage/$path redirect;\n'),
    ('http_splitting', 'rewrite_uri', 'rewrite ^ http://some$uri;\n'),
    ('http_splitting', 'rewrite_uri_after_var', 'return 301 https://$host$uri;\n'),
    ('origins', 'metrika', 'if ($http_referer !~ "^https?://([^/]+metrika.*yandex\\.(ru|ua|com|com\\.tr|by|kz)|([^/]+\\.)?webvisor\\.com)/"){\n    add_header X-Frame-Options SAMEORIGIN;\n}\n'),
    ('origins', 'origin', "if ($http_origin !~ '^https?:\\/\\/yandex.ru\\/') {\n\n}\n"),
    ('origins', 'origin_fp', "if ($http_origin !~ '^https?:\\/\\/yandex\\.ru\\/') {\n\n}\n"),
    ('origins', 'origin_https', '# Options: {"domains": ["yandex.ru"], "https_only": true}\n\nif ($http_origin !~ \'^https?:\\/\\/yandex\\.ru\\/\') {\n\n}\n'),
    ('origins', 'origin_https_fp', '# Options: {"domains": ["yandex.ru"], "https_only": true}\n\nif ($http_origin !~ \'^https:\\/\\/yandex\\.ru\\/\') {\n\n}\n'),
    ('origins', 'origin_w_slash_anchored_fp', "if ($http_origin !~ '^https?:\\/\\/yandex\\.ru/$') {\n\n}\n"),
    ('origins', 'origin_w_slash_fp', "if ($http_origin !~ '^https?:\\/\\/yandex\\.ru/') {\n\n}\n"),
    ('origins', 'origin_wo_slash', "if ($http_origin !~ '^https?:\\/\\/yandex\\.ru') {\n\n}\n"),
    ('origins', 'referer', "if ($http_referer !~ '^https?:\\/\\/yandex.ru\\/') {\n\n}\n"),
    ('origins', 'referer_fp', "if ($http_referer !~ '^https?:\\/\\/yandex\\.ru\\/') {\n\n}\n"),
    ('origins', 'referer_subdomain', "if ($http_referer !~ '^https?:\\/\\/some.yandex\\.ru\\/') {\n\n}\n"),
    ('origins', 'referer_subdomain_fp', "if ($http_referer !~ '^https?:\\/\\/some\\.yandex\\.ru\\/') {\n\n}\n"),
    ('origins', 'structure_dot', 'if ($http_referer !~ "^https://example.com/"){\n    add_header X-Frame-Options SAMEORIGIN;\n}\n'),
    ('origins', 'structure_fp', 'if ($http_referer !~ "^https://example\\.com/"){\n    add_header X-Frame-Options SAMEORIGIN;\n}\n'),
    ('origins', 'structure_prefix', 'if ($http_referer !~ "https://example\\.com/"){\n    add_header X-Frame-Options SAMEORIGIN;\n}\n'),
    ('origins', 'structure_suffix', 'if ($http_referer !~ "^https://example\\.com"){\n    add_header X-Frame-Options SAMEORIGIN;\n}\n'),
    ('origins', 'webvisor', 'if ($http_referer !~ "^https?://([^/]+\\.)?yandex\\.com/|([^/]+\\.)?webvisor\\.com/"){\n    add_header X-Frame-Options SAMEORIGIN;\n}\n'),
    ('ssrf', 'have_internal_fp', 'location /proxy/ {\n    internal;\n    proxy_pass $arg_some;\n}\n'),
    ('ssrf', 'host_w_const_start', 'location ~* ^/backend/(?<path>.*) {\n    proxy_pass http://some$path;\n}\n'),
    ('ssrf', 'host_w_const_start_arg', 'location /backend/ {\n    proxy_pass http://some${arg_la}.shit;\n}\n'),
    ('ssrf', 'not_host_var_fp', 'location ~ /proxy/(.*)$ {\n    proxy_pass http://yastatic.net/$1;\n}\n'),
    ('ssrf', 'request_uri_fp', 'location /backend/ {\n    proxy_pass http://some$request_uri;\n}\n'),
    ('ssrf', 'request_uri_var_fp', 'location / {\n    set $upstream "http://some$request_uri";\n    proxy_pass $upstream;\n}\n'),
    ('ssrf', 'scheme_var', 'location ~ /proxy/$ {\n    proxy_pass $http_proxy_scheme://some/file.conf;\n}\n'),
    ('ssrf', 'single_var', 'location ~ /proxy/(?P<proxy>.*)$ {\n    proxy_pass $proxy;\n}\n'),
    ('ssrf', 'used_arg', 'location /proxy/ {\n    proxy_pass $arg_some;\n}\n'),
    ('ssrf', 'vars_from_loc', 'location ~ /proxy/(.*)/(.*)/(.*)$ {\n    set $scheme $1;\n    set $host $2;\n    set $path $3;\n    proxy_pass $scheme://$host/$path;\n}\n'),
    ('ssrf', 'with_const_scheme', 'location ~* ^/internal-proxy/(https?)/(.*?)/(.*) {\n    resolver 127.0.0.1;\n\n    set $proxy_protocol $1;\n    set $proxy_host     $2;\n    set $proxy_path     $3;\n\n    proxy_pass $proxy_protocol://$proxy_host/$proxy_path ;\n    proxy_set_header Host $proxy_host;\n}\n'),
    ('valid_referers', 'none_first', 'valid_referers none server_names *.webvisor.com;\n'),
    ('valid_referers', 'none_last', 'valid_referers server_names\n               foo.com\n               none;\n'),
    ('valid_referers', 'none_middle', 'valid_referers server_names foo.com\n               none bar.com;\n'),
    ('valid_referers', 'wo_none_fp', 'valid_referers server_names foo.com bar.com *.none.com none.ru;\n'),
]


def _lint(tmp_path, text):
    # gixy's per-fragment options line (`# Options: {"https_only": true}`) maps to the rule's option.
    options = {"origins-regex": {"https-only": True}} if '"https_only": true' in text else None
    return lint_config(tmp_path, text, main="fragment.conf", nginx_version="1.30.0", rule_options=options)


@pytest.mark.parametrize("plugin, name, text", FRAGMENTS, ids=[f"{p}/{n}" for p, n, _ in FRAGMENTS])
def test_gixy_fragment(tmp_path, plugin, name, text):
    found = only(_lint(tmp_path, text), RULE[plugin])
    if name.endswith("_fp") and (plugin, name) not in REAL_ALTHOUGH_LABELLED_FP:
        assert found == [], [f.message for f in found]
    else:
        assert found, f"{plugin}/{name} is not reported"


def test_the_suite_holds_every_fragment_of_the_mirrored_plugins():
    problems = [f for f in FRAGMENTS if not f[1].endswith("_fp")]
    assert len(FRAGMENTS) == 74 and len(problems) == 43
