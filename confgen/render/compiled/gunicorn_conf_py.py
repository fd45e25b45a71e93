"""templates/gunicorn.conf.py.j2, compiled by scripts/compile_templates.py: do not edit."""
# confgen.render.precompiled uses it while both values below still match.
TEMPLATE_SHA256 = '55d634e4ae7d2195d22a8307823897b832e59ee7fbc905732d7f2242771272b2'
JINJA2_VERSION = '3.1.6'
from jinja2.runtime import LoopContext, Macro, Markup, Namespace, TemplateNotFound, TemplateReference, TemplateRuntimeError, Undefined, escape, identity, internalcode, markup_join, missing, str_join
name = 'gunicorn.conf.py.j2'

def root(context, missing=missing):
    resolve = context.resolve_or_missing
    undefined = environment.undefined
    concat = environment.concat
    cond_expr_undefined = Undefined
    if 0: yield None
    l_0_route = resolve('route')
    l_0_file_name = resolve('file_name')
    l_0_source_name = resolve('source_name')
    l_0_gunicorn_target = resolve('gunicorn_target')
    l_0_g = l_0_p = missing
    try:
        t_1 = environment.filters['pyrepr']
    except KeyError:
        @internalcode
        def t_1(*unused):
            raise TemplateRuntimeError("No filter named 'pyrepr' found.")
    pass
    l_0_g = environment.getattr((undefined(name='route') if l_0_route is missing else l_0_route), 'gunicorn')
    context.vars['g'] = l_0_g
    context.exported_vars.add('g')
    l_0_p = environment.getattr((undefined(name='route') if l_0_route is missing else l_0_route), 'profile')
    context.vars['p'] = l_0_p
    context.exported_vars.add('p')
    yield '# '
    yield str((undefined(name='file_name') if l_0_file_name is missing else l_0_file_name))
    yield ' rendered by confgen from '
    yield str((undefined(name='source_name') if l_0_source_name is missing else l_0_source_name))
    yield '. Change the profile and re-render:\n#   confgen render '
    yield str((undefined(name='source_name') if l_0_source_name is missing else l_0_source_name))
    yield '\n# '
    if (undefined(name='gunicorn_target') if l_0_gunicorn_target is missing else l_0_gunicorn_target):
        pass
        yield 'Target: gunicorn '
        yield str((undefined(name='gunicorn_target') if l_0_gunicorn_target is missing else l_0_gunicorn_target))
        yield '. '
    yield 'Start with: gunicorn -c '
    yield str((undefined(name='file_name') if l_0_file_name is missing else l_0_file_name))
    yield '\n\nwsgi_app = '
    yield str(t_1(environment.getattr(environment.getattr((undefined(name='p') if l_0_p is missing else l_0_p), 'app'), 'module')))
    yield '\n'
    for (l_1_name, l_1_value) in context.call(environment.getattr((undefined(name='g') if l_0_g is missing else l_0_g), 'items')):
        _loop_vars = {}
        pass
        yield str(l_1_name)
        yield ' = '
        yield str(t_1(environment.getattr(l_1_value, 'value')))
        yield '  # '
        yield str(environment.getattr(l_1_value, 'reason'))
        yield '\n'
    l_1_name = l_1_value = missing

blocks = {}
debug_info = '2=22&3=25&4=29&5=33&6=35&8=43&9=45&10=48'
