"""The keep-alive benchmark's entry point: ``python bench/keepalive.py [options]`` (``--help``;
bench/README.md). The harness is the package ``bench/keepalive/`` beside this file, one module per
concept (its ``__init__`` lists them).
"""

import sys
from pathlib import Path

if __name__ == "__main__":
    # Run as a script, bench/ is already sys.path[0] (inserted again for runpy and the like); the
    # package directory keepalive/ is found before this file of the same name.
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from keepalive.cli import main

    sys.exit(main())
