"""templates/nginx.conf.j2, compiled by scripts/compile_templates.py: do not edit."""
# confgen.render.precompiled uses it while both values below still match.
TEMPLATE_SHA256 = 'c62a0e2eea22a02e008c91ed87393b58c66a5f227b7a35389c920dbd94a25da6'
JINJA2_VERSION = '3.1.6'
from jinja2.runtime import LoopContext, Macro, Markup, Namespace, TemplateNotFound, TemplateReference, TemplateRuntimeError, Undefined, escape, identity, internalcode, markup_join, missing, str_join
name = 'nginx.conf.j2'

def root(context, missing=missing):
    resolve = context.resolve_or_missing
    undefined = environment.undefined
    concat = environment.concat
    cond_expr_undefined = Undefined
    if 0: yield None
    l_0_plan = resolve('plan')
    l_0_http2_directive = resolve('http2_directive')
    l_0_source_name = resolve('source_name')
    l_0_nginx_version = resolve('nginx_version')
    l_0_log_format_name = resolve('log_format_name')
    l_0_log_format = resolve('log_format')
    l_0_trusted_hop = resolve('trusted_hop')
    l_0_websockets = resolve('websockets')
    l_0_has_ssl_reject_handshake = resolve('has_ssl_reject_handshake')
    l_0_served_names = resolve('served_names')
    l_0_redirected_names = resolve('redirected_names')
    l_0_canonical_redirects = resolve('canonical_redirects')
    l_0_set = l_0_listen = l_0_headers = l_0_hsts_off = l_0_n = l_0_p = l_0_https_params = missing
    try:
        t_1 = environment.filters['join']
    except KeyError:
        @internalcode
        def t_1(*unused):
            raise TemplateRuntimeError("No filter named 'join' found.")
    pass
    def macro(l_1_name, l_1_value):
        t_2 = []
        if l_1_name is missing:
            l_1_name = undefined("parameter 'name' was not provided", name='name')
        if l_1_value is missing:
            l_1_value = undefined("parameter 'value' was not provided", name='value')
        pass
        t_2.extend((
            str(l_1_name),
            ' ',
            str(l_1_value),
            ';',
        ))
        if environment.getattr(l_1_value, 'reason'):
            pass
            t_2.extend((
                '  # ',
                str(environment.getattr(l_1_value, 'reason')),
            ))
        return concat(t_2)
    context.exported_vars.add('set')
    context.vars['set'] = l_0_set = Macro(environment, macro, 'set', ('name', 'value'), False, False, False, context.eval_ctx.autoescape)
    def macro(l_1_port, l_1_params):
        t_3 = []
        if l_1_port is missing:
            l_1_port = undefined("parameter 'port' was not provided", name='port')
        if l_1_params is missing:
            l_1_params = ''
        pass
        t_3.extend((
            'listen ',
            str(l_1_port),
            str(l_1_params),
            ';',
        ))
        if environment.getattr(environment.getattr((undefined(name='p') if l_0_p is missing else l_0_p), 'nginx'), 'ipv6'):
            pass
            t_3.extend((
                '\n        listen [::]:',
                str(l_1_port),
                str(l_1_params),
                ';',
            ))
        return concat(t_3)
    context.exported_vars.add('listen')
    context.vars['listen'] = l_0_listen = Macro(environment, macro, 'listen', ('port', 'params'), False, False, False, context.eval_ctx.autoescape)
    def macro():
        t_4 = []
        pass
        if (environment.getattr((undefined(name='p') if l_0_p is missing else l_0_p), 'tls') and environment.getattr(environment.getattr((undefined(name='p') if l_0_p is missing else l_0_p), 'tls'), 'hsts_max_age')):
            pass
            t_4.extend((
                '        add_header Strict-Transport-Security "max-age=',
                str(environment.getattr(environment.getattr((undefined(name='p') if l_0_p is missing else l_0_p), 'tls'), 'hsts_max_age')),
                '" always;\n',
            ))
        t_4.append(
            '        add_header X-Content-Type-Options nosniff always;  # browsers never guess a script from a text body\n',
        )
        if environment.getattr(environment.getattr((undefined(name='p') if l_0_p is missing else l_0_p), 'security_headers'), 'frame_options'):
            pass
            t_4.extend((
                '        add_header X-Frame-Options ',
                str(environment.getattr(environment.getattr((undefined(name='p') if l_0_p is missing else l_0_p), 'security_headers'), 'frame_options')),
                ' always;  # no clickjacking in foreign frames\n',
            ))
        t_4.extend((
            '        add_header Referrer-Policy ',
            str(environment.getattr(environment.getattr((undefined(name='p') if l_0_p is missing else l_0_p), 'security_headers'), 'referrer_policy')),
            ' always;',
        ))
        return concat(t_4)
    context.exported_vars.add('headers')
    context.vars['headers'] = l_0_headers = Macro(environment, macro, 'headers', (), False, False, False, context.eval_ctx.autoescape)
    def macro():
        t_5 = []
        pass
        if (environment.getattr((undefined(name='p') if l_0_p is missing else l_0_p), 'tls') and (not environment.getattr(environment.getattr((undefined(name='p') if l_0_p is missing else l_0_p), 'tls'), 'hsts_max_age'))):
            pass
            t_5.append(
                '    # confgen: disable=hsts-missing -- the profile sets tls.hsts_max_age: 0 (no HSTS, deliberately)\n',
            )
        return concat(t_5)
    context.exported_vars.add('hsts_off')
    context.vars['hsts_off'] = l_0_hsts_off = Macro(environment, macro, 'hsts_off', (), False, False, False, context.eval_ctx.autoescape)
    l_0_n = environment.getattr((undefined(name='plan') if l_0_plan is missing else l_0_plan), 'site')
    context.vars['n'] = l_0_n
    context.exported_vars.add('n')
    l_0_p = environment.getattr((undefined(name='plan') if l_0_plan is missing else l_0_plan), 'profile')
    context.vars['p'] = l_0_p
    context.exported_vars.add('p')
    l_0_https_params = str_join((' ssl', ('' if (undefined(name='http2_directive') if l_0_http2_directive is missing else l_0_http2_directive) else ' http2'), ))
    context.vars['https_params'] = l_0_https_params
    context.exported_vars.add('https_params')
    yield '# nginx.conf rendered by confgen from '
    yield str((undefined(name='source_name') if l_0_source_name is missing else l_0_source_name))
    yield '. Change the profile and re-render:\n#   confgen render '
    yield str((undefined(name='source_name') if l_0_source_name is missing else l_0_source_name))
    yield '\n# Target: nginx '
    yield str((undefined(name='nginx_version') if l_0_nginx_version is missing else l_0_nginx_version))
    yield '.\n'
    if environment.getattr((undefined(name='plan') if l_0_plan is missing else l_0_plan), 'replicas'):
        pass
        yield '# One of '
        yield str(environment.getattr((undefined(name='plan') if l_0_plan is missing else l_0_plan), 'replicas'))
        yield ' replicas, sized for its share of the load: '
        yield str(environment.getattr(environment.getattr((undefined(name='plan') if l_0_plan is missing else l_0_plan), 'replicas'), 'reason'))
        yield '\n'
    yield 'user '
    yield str(environment.getattr(environment.getattr((undefined(name='p') if l_0_p is missing else l_0_p), 'nginx'), 'user'))
    yield ';\npid '
    yield str(environment.getattr(environment.getattr((undefined(name='p') if l_0_p is missing else l_0_p), 'nginx'), 'pid'))
    yield ';\nerror_log '
    yield str(environment.getattr(environment.getattr((undefined(name='p') if l_0_p is missing else l_0_p), 'nginx'), 'error_log'))
    yield ' warn;\n'
    if (environment.getattr(environment.getattr((undefined(name='n') if l_0_n is missing else l_0_n), 'worker_processes'), 'value') == 1):
        pass
        yield "# confgen: disable=worker-processes -- the profile's machine has one CPU: one worker is all it can run\n"
    yield str(context.call((undefined(name='set') if l_0_set is missing else l_0_set), 'worker_processes', environment.getattr((undefined(name='n') if l_0_n is missing else l_0_n), 'worker_processes')))
    yield '\n'
    yield str(context.call((undefined(name='set') if l_0_set is missing else l_0_set), 'worker_rlimit_nofile', environment.getattr((undefined(name='n') if l_0_n is missing else l_0_n), 'worker_rlimit_nofile')))
    yield '\n\nevents {\n    '
    yield str(context.call((undefined(name='set') if l_0_set is missing else l_0_set), 'worker_connections', environment.getattr((undefined(name='n') if l_0_n is missing else l_0_n), 'worker_connections')))
    yield '\n}\n\nhttp {\n    include '
    yield str(environment.getattr(environment.getattr((undefined(name='p') if l_0_p is missing else l_0_p), 'nginx'), 'mime_types'))
    yield ';\n    default_type application/octet-stream;\n    # nginx\'s "combined" plus timings, sizes and the connection: `confgen measure` reads it.\n    log_format '
    yield str((undefined(name='log_format_name') if l_0_log_format_name is missing else l_0_log_format_name))
    yield " '"
    yield str((undefined(name='log_format') if l_0_log_format is missing else l_0_log_format))
    yield "';\n"
    if (environment.getattr(environment.getattr((undefined(name='p') if l_0_p is missing else l_0_p), 'nginx'), 'access_log') == 'off'):
        pass
        yield '    access_log off;\n'
    else:
        pass
        yield '    access_log '
        yield str(environment.getattr(environment.getattr((undefined(name='p') if l_0_p is missing else l_0_p), 'nginx'), 'access_log'))
        yield ' '
        yield str((undefined(name='log_format_name') if l_0_log_format_name is missing else l_0_log_format_name))
        yield ';\n'
    yield '    server_tokens off;  # no version in error pages and the Server header\n    sendfile on;\n    tcp_nopush on;\n    '
    yield str(context.call((undefined(name='set') if l_0_set is missing else l_0_set), 'keepalive_timeout', environment.getattr((undefined(name='n') if l_0_n is missing else l_0_n), 'keepalive_timeout')))
    yield '\n    '
    yield str(context.call((undefined(name='set') if l_0_set is missing else l_0_set), 'keepalive_requests', environment.getattr((undefined(name='n') if l_0_n is missing else l_0_n), 'keepalive_requests')))
    yield '\n'
    if ('client_header_timeout' in (undefined(name='n') if l_0_n is missing else l_0_n)):
        pass
        yield '    '
        yield str(context.call((undefined(name='set') if l_0_set is missing else l_0_set), 'client_header_timeout', environment.getattr((undefined(name='n') if l_0_n is missing else l_0_n), 'client_header_timeout')))
        yield '\n    '
        yield str(context.call((undefined(name='set') if l_0_set is missing else l_0_set), 'client_body_timeout', environment.getattr((undefined(name='n') if l_0_n is missing else l_0_n), 'client_body_timeout')))
        yield '\n'
    yield '    '
    yield str(context.call((undefined(name='set') if l_0_set is missing else l_0_set), 'client_max_body_size', environment.getattr((undefined(name='n') if l_0_n is missing else l_0_n), 'client_max_body_size')))
    yield '\n    '
    yield str(context.call((undefined(name='set') if l_0_set is missing else l_0_set), 'client_body_buffer_size', environment.getattr((undefined(name='n') if l_0_n is missing else l_0_n), 'client_body_buffer_size')))
    yield '\n    '
    yield str(context.call((undefined(name='set') if l_0_set is missing else l_0_set), 'large_client_header_buffers', environment.getattr((undefined(name='n') if l_0_n is missing else l_0_n), 'large_client_header_buffers')))
    yield '\n\n    gzip on;\n    '
    yield str(context.call((undefined(name='set') if l_0_set is missing else l_0_set), 'gzip_comp_level', environment.getattr((undefined(name='n') if l_0_n is missing else l_0_n), 'gzip_comp_level')))
    yield '\n    '
    yield str(context.call((undefined(name='set') if l_0_set is missing else l_0_set), 'gzip_min_length', environment.getattr((undefined(name='n') if l_0_n is missing else l_0_n), 'gzip_min_length')))
    yield '\n    gzip_proxied any;  # app responses are proxied: compress them too\n    gzip_vary on;\n    gzip_types application/json application/javascript application/xml application/rss+xml\n               image/svg+xml text/css text/javascript text/plain text/xml;\n'
    if environment.getattr((undefined(name='p') if l_0_p is missing else l_0_p), 'tls'):
        pass
        yield '\n    # Mozilla\'s "intermediate" TLS settings, at http level: the protocol version (and the rest of\n    # the handshake up to SNI) is negotiated with the settings of the port\'s *default* server,\n    # before nginx knows which server the client asked for. In a named server only, they come too\n    # late: nginx before 1.23.4 then offers no TLS 1.3. Here every server, the catch-all included,\n    # has them.\n    ssl_protocols TLSv1.2 TLSv1.3;\n    ssl_ciphers ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305;\n    ssl_prefer_server_ciphers off;\n    ssl_session_cache shared:TLS:10m;\n    ssl_session_timeout 1d;\n    ssl_session_tickets off;\n'
        if (undefined(name='http2_directive') if l_0_http2_directive is missing else l_0_http2_directive):
            pass
            yield '    http2 on;  # ALPN is answered before the server is chosen, too\n'
    if environment.getattr((undefined(name='p') if l_0_p is missing else l_0_p), 'trusted_proxies'):
        pass
        yield '\n    # Client address and scheme as '
        yield str((undefined(name='trusted_hop') if l_0_trusted_hop is missing else l_0_trusted_hop))
        yield ' sends them, believed from those addresses only.\n'
        for l_1_cidr in environment.getattr((undefined(name='p') if l_0_p is missing else l_0_p), 'trusted_proxies'):
            _loop_vars = {}
            pass
            yield '    set_real_ip_from '
            yield str(l_1_cidr)
            yield ';\n'
        l_1_cidr = missing
        yield '    real_ip_header X-Forwarded-For;\n    real_ip_recursive on;\n    geo $realip_remote_addr $from_trusted_proxy {\n        default 0;\n'
        for l_1_cidr in environment.getattr((undefined(name='p') if l_0_p is missing else l_0_p), 'trusted_proxies'):
            _loop_vars = {}
            pass
            yield '        '
            yield str(l_1_cidr)
            yield ' 1;\n'
        l_1_cidr = missing
        yield '    }\n    map "$from_trusted_proxy:$http_x_forwarded_proto" $forwarded_proto {\n        default $scheme;\n        "1:https" https;\n        "1:http" http;\n    }\n'
    if (undefined(name='websockets') if l_0_websockets is missing else l_0_websockets):
        pass
        yield '\n    # WebSocket upgrades get "upgrade"; every other request an empty Connection header, so\n    # pooled upstream connections stay open.\n    map $http_upgrade $connection_upgrade {\n        default upgrade;\n        "" "";\n    }\n'
    for l_1_r in environment.getattr((undefined(name='plan') if l_0_plan is missing else l_0_plan), 'routes'):
        l_1_rn = missing
        _loop_vars = {}
        pass
        l_1_rn = environment.getattr(l_1_r, 'nginx')
        _loop_vars['rn'] = l_1_rn
        yield '\n    upstream '
        yield str(environment.getattr(environment.getattr(l_1_r, 'route'), 'name'))
        yield ' {\n'
        if ('upstream balancing' in (undefined(name='rn') if l_1_rn is missing else l_1_rn)):
            pass
            yield '        '
            yield str(environment.getitem((undefined(name='rn') if l_1_rn is missing else l_1_rn), 'upstream balancing'))
            yield ';  # '
            yield str(environment.getattr(environment.getitem((undefined(name='rn') if l_1_rn is missing else l_1_rn), 'upstream balancing'), 'reason'))
            yield '\n'
        yield '        # '
        yield str(environment.getattr(environment.getitem((undefined(name='rn') if l_1_rn is missing else l_1_rn), 'upstream servers'), 'reason'))
        yield '\n'
        for l_2_server in environment.getattr(environment.getitem((undefined(name='rn') if l_1_rn is missing else l_1_rn), 'upstream servers'), 'value'):
            _loop_vars = {}
            pass
            yield '        server '
            yield str(l_2_server)
            yield ';\n'
        l_2_server = missing
        yield '        '
        yield str(context.call((undefined(name='set') if l_0_set is missing else l_0_set), 'keepalive', environment.getitem((undefined(name='rn') if l_1_rn is missing else l_1_rn), 'upstream keepalive'), _loop_vars=_loop_vars))
        yield '\n        '
        yield str(context.call((undefined(name='set') if l_0_set is missing else l_0_set), 'keepalive_timeout', environment.getitem((undefined(name='rn') if l_1_rn is missing else l_1_rn), 'upstream keepalive_timeout'), _loop_vars=_loop_vars))
        yield '\n        '
        yield str(context.call((undefined(name='set') if l_0_set is missing else l_0_set), 'keepalive_requests', environment.getitem((undefined(name='rn') if l_1_rn is missing else l_1_rn), 'upstream keepalive_requests'), _loop_vars=_loop_vars))
        yield '\n    }\n'
    l_1_r = l_1_rn = missing
    if environment.getattr((undefined(name='p') if l_0_p is missing else l_0_p), 'server_names'):
        pass
        yield '\n    # Requests for any other host name get no answer.\n    server {\n        '
        yield str(context.call((undefined(name='listen') if l_0_listen is missing else l_0_listen), environment.getattr(environment.getattr((undefined(name='p') if l_0_p is missing else l_0_p), 'nginx'), 'http_port'), ' default_server'))
        yield '\n'
        if environment.getattr((undefined(name='p') if l_0_p is missing else l_0_p), 'tls'):
            pass
            yield '        '
            yield str(context.call((undefined(name='listen') if l_0_listen is missing else l_0_listen), environment.getattr(environment.getattr((undefined(name='p') if l_0_p is missing else l_0_p), 'nginx'), 'https_port'), str_join(((undefined(name='https_params') if l_0_https_params is missing else l_0_https_params), ' default_server', ))))
            yield '\n'
            if (undefined(name='has_ssl_reject_handshake') if l_0_has_ssl_reject_handshake is missing else l_0_has_ssl_reject_handshake):
                pass
                yield '        ssl_reject_handshake on;  # no certificate is shown to unknown names\n'
            else:
                pass
                yield '        ssl_certificate '
                yield str(environment.getattr(environment.getattr((undefined(name='p') if l_0_p is missing else l_0_p), 'tls'), 'certificate'))
                yield ';\n        ssl_certificate_key '
                yield str(environment.getattr(environment.getattr((undefined(name='p') if l_0_p is missing else l_0_p), 'tls'), 'certificate_key'))
                yield ';\n'
        yield '        server_name _;\n        return 444;\n    }\n'
    if environment.getattr((undefined(name='p') if l_0_p is missing else l_0_p), 'tls'):
        pass
        yield '\n    server {\n        '
        yield str(context.call((undefined(name='listen') if l_0_listen is missing else l_0_listen), environment.getattr(environment.getattr((undefined(name='p') if l_0_p is missing else l_0_p), 'nginx'), 'http_port'), ('' if environment.getattr((undefined(name='p') if l_0_p is missing else l_0_p), 'server_names') else ' default_server')))
        yield '\n        server_name '
        yield str((t_1(context.eval_ctx, ((undefined(name='served_names') if l_0_served_names is missing else l_0_served_names) + (undefined(name='redirected_names') if l_0_redirected_names is missing else l_0_redirected_names)), ' ') or '_'))
        yield ';\n'
        if environment.getattr(environment.getattr((undefined(name='p') if l_0_p is missing else l_0_p), 'tls'), 'acme_webroot'):
            pass
            yield '\n        # certbot renew --webroot -w '
            yield str(environment.getattr(environment.getattr((undefined(name='p') if l_0_p is missing else l_0_p), 'tls'), 'acme_webroot'))
            yield ': challenges are answered over plain\n        # HTTP, before the redirect, or renewals fail and the certificate expires.\n        location ^~ /.well-known/acme-challenge/ {\n            root '
            yield str(environment.getattr(environment.getattr((undefined(name='p') if l_0_p is missing else l_0_p), 'tls'), 'acme_webroot'))
            yield ';\n            default_type text/plain;\n        }\n'
        yield '\n        location / {\n            return 308 https://$host$request_uri;  # 308 keeps the method and body\n        }\n    }\n'
    for (l_1_alternate, l_1_canonical) in (undefined(name='canonical_redirects') if l_0_canonical_redirects is missing else l_0_canonical_redirects):
        _loop_vars = {}
        pass
        yield '\n    # canonical_host: '
        yield str(l_1_alternate)
        yield ' is answered only to send clients to '
        yield str(l_1_canonical)
        yield '.\n'
        yield str(context.call((undefined(name='hsts_off') if l_0_hsts_off is missing else l_0_hsts_off), _loop_vars=_loop_vars))
        yield '\n    server {\n'
        if environment.getattr((undefined(name='p') if l_0_p is missing else l_0_p), 'tls'):
            pass
            yield '        '
            yield str(context.call((undefined(name='listen') if l_0_listen is missing else l_0_listen), environment.getattr(environment.getattr((undefined(name='p') if l_0_p is missing else l_0_p), 'nginx'), 'https_port'), (undefined(name='https_params') if l_0_https_params is missing else l_0_https_params), _loop_vars=_loop_vars))
            yield '\n        ssl_certificate '
            yield str(environment.getattr(environment.getattr((undefined(name='p') if l_0_p is missing else l_0_p), 'tls'), 'certificate'))
            yield ';\n        ssl_certificate_key '
            yield str(environment.getattr(environment.getattr((undefined(name='p') if l_0_p is missing else l_0_p), 'tls'), 'certificate_key'))
            yield ';\n'
        else:
            pass
            yield '        '
            yield str(context.call((undefined(name='listen') if l_0_listen is missing else l_0_listen), environment.getattr(environment.getattr((undefined(name='p') if l_0_p is missing else l_0_p), 'nginx'), 'http_port'), _loop_vars=_loop_vars))
            yield '\n'
        yield '        server_name '
        yield str(l_1_alternate)
        yield ';\n'
        yield str(context.call((undefined(name='headers') if l_0_headers is missing else l_0_headers), _loop_vars=_loop_vars))
        yield '\n        return 308 $scheme://'
        yield str(l_1_canonical)
        yield '$request_uri;\n    }\n'
    l_1_alternate = l_1_canonical = missing
    yield '\n'
    yield str(context.call((undefined(name='hsts_off') if l_0_hsts_off is missing else l_0_hsts_off)))
    yield '\n    server {\n'
    if environment.getattr((undefined(name='p') if l_0_p is missing else l_0_p), 'tls'):
        pass
        yield '        '
        yield str(context.call((undefined(name='listen') if l_0_listen is missing else l_0_listen), environment.getattr(environment.getattr((undefined(name='p') if l_0_p is missing else l_0_p), 'nginx'), 'https_port'), str_join(((undefined(name='https_params') if l_0_https_params is missing else l_0_https_params), ('' if environment.getattr((undefined(name='p') if l_0_p is missing else l_0_p), 'server_names') else ' default_server'), ))))
        yield '\n        ssl_certificate '
        yield str(environment.getattr(environment.getattr((undefined(name='p') if l_0_p is missing else l_0_p), 'tls'), 'certificate'))
        yield ';\n        ssl_certificate_key '
        yield str(environment.getattr(environment.getattr((undefined(name='p') if l_0_p is missing else l_0_p), 'tls'), 'certificate_key'))
        yield ';\n'
    else:
        pass
        yield '        '
        yield str(context.call((undefined(name='listen') if l_0_listen is missing else l_0_listen), environment.getattr(environment.getattr((undefined(name='p') if l_0_p is missing else l_0_p), 'nginx'), 'http_port'), ('' if environment.getattr((undefined(name='p') if l_0_p is missing else l_0_p), 'server_names') else ' default_server')))
        yield '\n'
    yield '        server_name '
    yield str((t_1(context.eval_ctx, (undefined(name='served_names') if l_0_served_names is missing else l_0_served_names), ' ') or '_'))
    yield ';\n'
    yield str(context.call((undefined(name='headers') if l_0_headers is missing else l_0_headers)))
    yield '\n'
    for l_1_s in environment.getattr((undefined(name='p') if l_0_p is missing else l_0_p), 'static'):
        _loop_vars = {}
        pass
        yield '\n        location ^~ '
        yield str(environment.getattr(l_1_s, 'url'))
        yield ' {\n            alias '
        yield str(environment.getattr(l_1_s, 'root'))
        yield '/;\n            access_log off;\n'
        if environment.getattr(l_1_s, 'expires_days'):
            pass
            yield '            expires '
            yield str(environment.getattr(l_1_s, 'expires_days'))
            yield 'd;\n'
        yield '        }\n'
    l_1_s = missing
    for l_1_r in environment.getattr((undefined(name='plan') if l_0_plan is missing else l_0_plan), 'routes'):
        l_1_rn = missing
        _loop_vars = {}
        pass
        l_1_rn = environment.getattr(l_1_r, 'nginx')
        _loop_vars['rn'] = l_1_rn
        yield '\n        location '
        yield str(environment.getattr(environment.getattr(l_1_r, 'route'), 'path'))
        yield ' {\n            proxy_pass http://'
        yield str(environment.getattr(environment.getattr(l_1_r, 'route'), 'name'))
        yield ';\n            # Keep-alive to the app needs HTTP/1.1 and no "Connection: close".\n            proxy_http_version 1.1;\n'
        if environment.getattr(environment.getattr(environment.getattr(l_1_r, 'route'), 'app'), 'websockets'):
            pass
            yield '            proxy_set_header Upgrade $http_upgrade;\n            proxy_set_header Connection $connection_upgrade;\n'
        else:
            pass
            yield '            proxy_set_header Connection "";\n'
        yield '            # Host, and what correctness needs: gunicorn/uvicorn (forwarded_allow_ips), Django and\n            # ProxyFix take the client address and scheme from X-Forwarded-For/-Proto; without them\n            # the app sees nginx as every client and http for https (wrong redirects, insecure\n            # cookies). No X-Real-IP (X-Forwarded-For carries the same address, and no app server\n            # reads it by default) and no X-Forwarded-Host (Host already is $host): measured with\n            # bench/keepalive.py --ablate, they cost up to ~5 % of requests/s and buy nothing.\n            proxy_set_header Host $host;\n            proxy_set_header X-Forwarded-For '
        yield str(environment.getitem((undefined(name='n') if l_0_n is missing else l_0_n), 'X-Forwarded-For'))
        yield ';  # '
        yield str(environment.getattr(environment.getitem((undefined(name='n') if l_0_n is missing else l_0_n), 'X-Forwarded-For'), 'reason'))
        yield '\n            proxy_set_header X-Forwarded-Proto '
        yield str(environment.getitem((undefined(name='n') if l_0_n is missing else l_0_n), 'X-Forwarded-Proto'))
        yield ';  # '
        yield str(environment.getattr(environment.getitem((undefined(name='n') if l_0_n is missing else l_0_n), 'X-Forwarded-Proto'), 'reason'))
        yield '\n            proxy_redirect off;\n            '
        yield str(context.call((undefined(name='set') if l_0_set is missing else l_0_set), 'proxy_connect_timeout', environment.getattr((undefined(name='rn') if l_1_rn is missing else l_1_rn), 'proxy_connect_timeout'), _loop_vars=_loop_vars))
        yield '\n            '
        yield str(context.call((undefined(name='set') if l_0_set is missing else l_0_set), 'proxy_read_timeout', environment.getattr((undefined(name='rn') if l_1_rn is missing else l_1_rn), 'proxy_read_timeout'), _loop_vars=_loop_vars))
        yield '\n            proxy_send_timeout '
        yield str(environment.getattr((undefined(name='rn') if l_1_rn is missing else l_1_rn), 'proxy_read_timeout'))
        yield ';  # as proxy_read_timeout\n            '
        yield str(context.call((undefined(name='set') if l_0_set is missing else l_0_set), 'proxy_buffer_size', environment.getattr((undefined(name='n') if l_0_n is missing else l_0_n), 'proxy_buffer_size'), _loop_vars=_loop_vars))
        yield '\n            '
        yield str(context.call((undefined(name='set') if l_0_set is missing else l_0_set), 'proxy_buffers', environment.getattr((undefined(name='n') if l_0_n is missing else l_0_n), 'proxy_buffers'), _loop_vars=_loop_vars))
        yield '\n        }\n'
    l_1_r = l_1_rn = missing
    yield '    }\n}\n'

blocks = {}
debug_info = '2=30&3=38&6=52&7=61&12=76&13=79&14=83&17=89&18=93&20=98&23=104&24=107&28=115&29=118&30=121&31=125&32=127&33=129&34=131&35=134&37=139&38=141&39=143&40=145&43=148&44=150&47=152&51=154&54=156&55=160&58=166&63=171&64=173&65=175&66=178&67=180&69=183&70=185&71=187&74=189&75=191&80=193&93=196&97=199&99=202&100=204&101=208&107=212&108=216&117=220&126=223&127=227&129=230&130=232&131=235&133=240&134=242&135=246&137=250&138=252&139=254&142=257&146=260&147=262&148=265&149=267&152=273&153=275&160=278&163=281&164=283&165=285&167=288&170=290&180=293&182=297&183=301&185=303&186=306&187=308&188=310&190=315&192=318&193=320&194=322&198=326&200=328&201=331&202=333&203=335&205=340&207=343&208=345&209=347&211=351&212=353&214=355&215=358&219=362&220=366&222=369&223=371&226=373&239=380&240=384&242=388&243=390&244=392&245=394&246=396'
