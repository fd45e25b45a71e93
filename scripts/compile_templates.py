"""Regenerate confgen/render/compiled/ from templates/*.j2: python scripts/compile_templates.py

Run it after editing a template or upgrading Jinja; tests/test_compiled_templates.py fails until
then (a render meanwhile compiles the changed template itself, so its output is right, only slower).
"""

from pathlib import Path
import sys

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from confgen.render.precompiled import module_name, module_text  # noqa: E402
from confgen.render.rendering import _environment  # noqa: E402

target = REPO / "confgen" / "render" / "compiled"
wanted = set()
for template in sorted((REPO / "templates").glob("*.j2")):
    path = target / f"{module_name(template.name)}.py"
    path.write_text(module_text(_environment(), template.name, template.read_text("utf-8")), encoding="utf-8")
    wanted.add(path.name)
    print(f"wrote {path}")
for stale in sorted(set(p.name for p in target.glob("*.py")) - wanted - {"__init__.py"}):
    (target / stale).unlink()
    print(f"removed {target / stale}")
