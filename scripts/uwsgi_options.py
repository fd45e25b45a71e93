"""Write confgen/appserver/uwsgi_options.py: the option names `uwsgi --help` lists.

uWSGI takes a key of an ini file that is no option as a placeholder and ignores it, so the list
tells a misspelled option (``process = 2``) from a real one. Run with the uWSGI the tests use
(pip's uWSGI, its default plugins built in): ``python scripts/uwsgi_options.py``.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

TARGET = Path(__file__).resolve().parent.parent / "confgen" / "appserver" / "uwsgi_options.py"


def main() -> None:
    version = subprocess.run(["uwsgi", "--version"], capture_output=True, text=True, check=True).stdout.strip()
    text = subprocess.run(["uwsgi", "--help"], capture_output=True, text=True).stdout
    # Each option line: "    -s|--socket     bind to ...": the names before the description.
    names = sorted({name for line in text.splitlines() if line.strip().startswith("-")
                    for name in re.findall(r"--([a-z0-9][a-z0-9-]*)", line.split()[0])})
    body = "\n".join(f'    "{name}",' for name in names)
    TARGET.write_text(f'"""The options `uwsgi --help` lists (uWSGI {version}, pip\'s build with its default plugins),\n'
                      f'written by scripts/uwsgi_options.py."""\n\nOPTIONS = frozenset({{\n{body}\n}})\n')
    print(f"wrote {len(names)} options to {TARGET}")


if __name__ == "__main__":
    main()
