"""templates/gunicorn.socket.j2, compiled by scripts/compile_templates.py: do not edit."""
# confgen.render.precompiled uses it while both values below still match.
TEMPLATE_SHA256 = 'e3b27f5856f87fe994bad28129b502a72497ab9ae6da06c19fc516da8f631d04'
JINJA2_VERSION = '3.1.6'
from jinja2.runtime import LoopContext, Macro, Markup, Namespace, TemplateNotFound, TemplateReference, TemplateRuntimeError, Undefined, escape, identity, internalcode, markup_join, missing, str_join
name = 'gunicorn.socket.j2'

def root(context, missing=missing):
    resolve = context.resolve_or_missing
    undefined = environment.undefined
    concat = environment.concat
    cond_expr_undefined = Undefined
    if 0: yield None
    l_0_socket_unit = resolve('socket_unit')
    l_0_source_name = resolve('source_name')
    l_0_service_unit = resolve('service_unit')
    l_0_route = resolve('route')
    l_0_socket_path = resolve('socket_path')
    l_0_nginx_user = resolve('nginx_user')
    pass
    yield '# '
    yield str((undefined(name='socket_unit') if l_0_socket_unit is missing else l_0_socket_unit))
    yield ' rendered by confgen from '
    yield str((undefined(name='source_name') if l_0_source_name is missing else l_0_source_name))
    yield '; install it in /etc/systemd/system/\n# beside '
    yield str((undefined(name='service_unit') if l_0_service_unit is missing else l_0_service_unit))
    yield ', then: systemctl enable --now '
    yield str((undefined(name='socket_unit') if l_0_socket_unit is missing else l_0_socket_unit))
    yield "\n# systemd holds the socket nginx.conf's upstream "
    yield str(environment.getattr(environment.getattr((undefined(name='route') if l_0_route is missing else l_0_route), 'route'), 'name'))
    yield ' connects to, so nginx never sees a\n# missing socket while gunicorn restarts (gunicorn inherits it: socket activation).\n[Unit]\nDescription=gunicorn socket for '
    yield str(environment.getattr(environment.getattr((undefined(name='route') if l_0_route is missing else l_0_route), 'route'), 'name'))
    yield '\n\n[Socket]\nListenStream='
    yield str((undefined(name='socket_path') if l_0_socket_path is missing else l_0_socket_path))
    yield "\n# Only nginx's workers (user "
    yield str((undefined(name='nginx_user') if l_0_nginx_user is missing else l_0_nginx_user))
    yield ') connect; gunicorn needs no permission, it inherits the socket.\nSocketUser='
    yield str((undefined(name='nginx_user') if l_0_nginx_user is missing else l_0_nginx_user))
    yield '\nSocketMode=0600\nDirectoryMode=0755\n\n[Install]\nWantedBy=sockets.target\n'

blocks = {}
debug_info = '1=18&2=22&3=26&6=28&9=30&10=32&11=34'
