"""templates/profile.yaml.j2, compiled by scripts/compile_templates.py: do not edit."""
# confgen.render.precompiled uses it while both values below still match.
TEMPLATE_SHA256 = 'e275c883100b3f4ed1f8cbcf5cfe98f73eab073ce81c5c7cfeeaba9459a01df5'
JINJA2_VERSION = '3.1.6'
from jinja2.runtime import LoopContext, Macro, Markup, Namespace, TemplateNotFound, TemplateReference, TemplateRuntimeError, Undefined, escape, identity, internalcode, markup_join, missing, str_join
name = 'profile.yaml.j2'

def root(context, missing=missing):
    resolve = context.resolve_or_missing
    undefined = environment.undefined
    concat = environment.concat
    cond_expr_undefined = Undefined
    if 0: yield None
    l_0_schema_url = resolve('schema_url')
    l_0_file_name = resolve('file_name')
    l_0_name = resolve('name')
    l_0_cpus = resolve('cpus')
    l_0_module = resolve('module')
    l_0_kind = resolve('kind')
    pass
    yield '# yaml-language-server: $schema='
    yield str((undefined(name='schema_url') if l_0_schema_url is missing else l_0_schema_url))
    yield '\n# (offline: `confgen schema > profile.schema.json` and point the line above at that file)\n# A confgen profile: the load your app must carry. `confgen render '
    yield str((undefined(name='file_name') if l_0_file_name is missing else l_0_file_name))
    yield ' --explain`\n# shows every setting derived from it; `confgen schema` prints the reference of every key.\nname: '
    yield str((undefined(name='name') if l_0_name is missing else l_0_name))
    yield '\n'
    yield str(context.call(environment.getattr(('cpus: %d' % (undefined(name='cpus') if l_0_cpus is missing else l_0_cpus)), 'ljust'), 23))
    yield '# CPU cores per machine\nexpected_qps: 100      # peak requests per second\nclients: 500           # peak concurrent client connections (keep-alive ones included)\nmax_body_size: 1m      # the largest request body (uploads)\navg_response_size: 4k  # a typical response body\napp:\n  module: '
    yield str((undefined(name='module') if l_0_module is missing else l_0_module))
    yield '\n  '
    yield str(context.call(environment.getattr(str_join(('kind: ', (undefined(name='kind') if l_0_kind is missing else l_0_kind), )), 'ljust'), 21))
    yield '# '
    yield str(('asgi: FastAPI, Starlette' if ((undefined(name='kind') if l_0_kind is missing else l_0_kind) == 'asgi') else 'wsgi: Django, Flask'))
    yield "\n  latency_ms: 50       # a typical handler's time, database calls included\n  timeout_s: 30        # the slowest legitimate request\n# server_names: [example.com]\n# tls: {certificate: /etc/ssl/example.pem, certificate_key: /etc/ssl/example.key}\n"

blocks = {}
debug_info = '1=18&3=20&5=22&6=24&12=26&13=28'
