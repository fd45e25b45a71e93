"""Templates compiled ahead of time, so that a render does not compile them again.

Jinja turns a template into Python on every run: for templates/nginx.conf.j2 that is ~40 ms of a
``confgen render`` (lexing, parsing, generating and compiling Python). ``python
scripts/compile_templates.py`` writes, for each ``templates/NAME.j2``, the module
``confgen/render/compiled/NAME.py``: what Jinja's own ``Environment.compile_templates`` writes for
its ``ModuleLoader``, compiled with the environment renders use, plus the sha256 of the template
text and the Jinja version it was compiled from. A render takes a module only while both match the
template it loads and the Jinja it runs; otherwise it compiles the template, as without them.
tests/test_compiled_templates.py fails while a module is stale (a template edited, Jinja upgraded).
"""

from __future__ import annotations

import hashlib
import importlib
import re
from types import ModuleType

import jinja2

PACKAGE = "confgen.render.compiled"


class PrecompiledLoader(jinja2.FunctionLoader):
    """``FunctionLoader(source_of)`` that loads a template from its compiled module when that
    module was compiled from the very text ``source_of`` returns, by this Jinja."""

    def load(self, environment: jinja2.Environment, name: str, globals=None) -> jinja2.Template:
        source, _, _ = self.get_source(environment, name)
        module = fresh_module(name, source)
        if module is None:
            return super().load(environment, name, globals)
        return environment.template_class.from_module_dict(environment, module.__dict__,
                                                           {} if globals is None else globals)


def module_name(template: str) -> str:
    """``nginx.conf.j2`` -> ``nginx_conf``: the compiled module's name in confgen.render.compiled."""
    return re.sub(r"\W", "_", template.removesuffix(".j2"))


def fresh_module(template: str, source: str) -> ModuleType | None:
    """The compiled module of ``template`` when it was compiled from ``source`` by this Jinja."""
    try:
        module = importlib.import_module(f"{PACKAGE}.{module_name(template)}")
    except ImportError:
        return None
    if getattr(module, "TEMPLATE_SHA256", None) != _sha256(source) or \
            getattr(module, "JINJA2_VERSION", None) != jinja2.__version__:
        return None
    return module


def module_text(environment: jinja2.Environment, template: str, source: str) -> str:
    """The module scripts/compile_templates.py writes for ``template`` (text ``source``)."""
    code = environment.compile(source, template, None, raw=True, defer_init=True)
    return (f'"""templates/{template}, compiled by scripts/compile_templates.py: do not edit."""\n'
            f"# confgen.render.precompiled uses it while both values below still match.\n"
            f"TEMPLATE_SHA256 = {_sha256(source)!r}\n"
            f"JINJA2_VERSION = {jinja2.__version__!r}\n"
            f"{code}\n")


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
