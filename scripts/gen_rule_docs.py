"""Regenerate docs/rules.md from the rules' docstrings: python scripts/gen_rule_docs.py"""

from pathlib import Path
import sys

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from confgen.lint.docs import rules_markdown  # noqa: E402

target = Path(__file__).resolve().parent.parent / "docs" / "rules.md"
target.write_text(rules_markdown(), encoding="utf-8")
print(f"wrote {target}")
