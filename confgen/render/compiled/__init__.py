"""templates/*.j2 compiled ahead of time by scripts/compile_templates.py (see confgen.render.precompiled)."""
