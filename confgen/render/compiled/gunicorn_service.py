"""templates/gunicorn.service.j2, compiled by scripts/compile_templates.py: do not edit."""
# confgen.render.precompiled uses it while both values below still match.
TEMPLATE_SHA256 = '7d021726ff14dd2027026a4e40905d1d142e3acef1fe0fdb4a015378e2c5b545'
JINJA2_VERSION = '3.1.6'
from jinja2.runtime import LoopContext, Macro, Markup, Namespace, TemplateNotFound, TemplateReference, TemplateRuntimeError, Undefined, escape, identity, internalcode, markup_join, missing, str_join
name = 'gunicorn.service.j2'

def root(context, missing=missing):
    resolve = context.resolve_or_missing
    undefined = environment.undefined
    concat = environment.concat
    cond_expr_undefined = Undefined
    if 0: yield None
    l_0_service_unit = resolve('service_unit')
    l_0_source_name = resolve('source_name')
    l_0_socket_unit = resolve('socket_unit')
    l_0_config_name = resolve('config_name')
    l_0_systemd = resolve('systemd')
    l_0_route = resolve('route')
    l_0_runtime_directory = resolve('runtime_directory')
    l_0_socket_path = resolve('socket_path')
    pass
    yield '# '
    yield str((undefined(name='service_unit') if l_0_service_unit is missing else l_0_service_unit))
    yield ' rendered by confgen from '
    yield str((undefined(name='source_name') if l_0_source_name is missing else l_0_source_name))
    yield '; install it in /etc/systemd/system/\n# beside '
    yield str((undefined(name='socket_unit') if l_0_socket_unit is missing else l_0_socket_unit))
    yield ', with '
    yield str((undefined(name='config_name') if l_0_config_name is missing else l_0_config_name))
    yield ' in '
    yield str(environment.getattr((undefined(name='systemd') if l_0_systemd is missing else l_0_systemd), 'working_directory'))
    yield '.\n[Unit]\nDescription=gunicorn for '
    yield str(environment.getattr(environment.getattr((undefined(name='route') if l_0_route is missing else l_0_route), 'route'), 'name'))
    yield ' ('
    yield str(environment.getattr(environment.getattr(environment.getattr((undefined(name='route') if l_0_route is missing else l_0_route), 'profile'), 'app'), 'module'))
    yield ')\nRequires='
    yield str((undefined(name='socket_unit') if l_0_socket_unit is missing else l_0_socket_unit))
    yield '\nAfter=network.target\n\n[Service]\nType=notify\nNotifyAccess=main\nUser='
    yield str(environment.getattr((undefined(name='systemd') if l_0_systemd is missing else l_0_systemd), 'user'))
    yield '\nGroup='
    yield str(environment.getattr((undefined(name='systemd') if l_0_systemd is missing else l_0_systemd), 'user'))
    yield '\n'
    if (undefined(name='runtime_directory') if l_0_runtime_directory is missing else l_0_runtime_directory):
        pass
        yield "# The socket's directory ("
        yield str((undefined(name='socket_path') if l_0_socket_path is missing else l_0_socket_path))
        yield "); kept across restarts, since the socket unit's socket lives there.\nRuntimeDirectory="
        yield str((undefined(name='runtime_directory') if l_0_runtime_directory is missing else l_0_runtime_directory))
        yield '\nRuntimeDirectoryPreserve=yes\n'
    yield 'WorkingDirectory='
    yield str(environment.getattr((undefined(name='systemd') if l_0_systemd is missing else l_0_systemd), 'working_directory'))
    yield '\nExecStart='
    yield str(environment.getattr((undefined(name='systemd') if l_0_systemd is missing else l_0_systemd), 'gunicorn'))
    yield ' -c '
    yield str(environment.getattr((undefined(name='systemd') if l_0_systemd is missing else l_0_systemd), 'working_directory'))
    yield '/'
    yield str((undefined(name='config_name') if l_0_config_name is missing else l_0_config_name))
    yield '\nExecReload=/bin/kill -s HUP $MAINPID\nKillMode=mixed\n# graceful_timeout ('
    yield str(environment.getattr(environment.getattr(environment.getattr((undefined(name='route') if l_0_route is missing else l_0_route), 'gunicorn'), 'graceful_timeout'), 'value'))
    yield 's) for running requests, then 5s more.\nTimeoutStopSec='
    yield str((environment.getattr(environment.getattr(environment.getattr((undefined(name='route') if l_0_route is missing else l_0_route), 'gunicorn'), 'graceful_timeout'), 'value') + 5))
    yield '\nPrivateTmp=true\n\n[Install]\nWantedBy=multi-user.target\n'

blocks = {}
debug_info = '1=20&2=24&4=30&5=34&11=36&12=38&13=40&14=43&15=45&18=48&19=50&22=56&23=58'
