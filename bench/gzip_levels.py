"""What gzip_comp_level costs: zlib (the library nginx's gzip module calls) compressing three
kinds of response at levels 1-9, each level's CPU time and output size against level 6's. The
numbers gzip-level-high quotes come from this table.

    python bench/gzip_levels.py

The responses are made here, so the run needs nothing but Python: an API's JSON list
(repetitive keys), minified-style JavaScript (this package's own code, whitespace squeezed) and
prose (the README). Times are the mean over repeated runs of about half a second per level.
"""

from __future__ import annotations

import json
import re
import time
import zlib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LEVELS = (1, 4, 5, 6, 7, 8, 9)


def responses() -> dict[str, bytes]:
    items = [{"id": i, "name": f"item {i}", "tags": ["a", "b", str(i % 7)], "price": round(i * 1.37, 2),
              "description": "lorem ipsum dolor sit amet " * (i % 5)} for i in range(3000)]
    code = "\n".join(path.read_text() for path in sorted((ROOT / "confgen").rglob("*.py")))
    minified = re.sub(r"\s+", " ", code).encode()[:400_000]
    return {"JSON list (API)": json.dumps(items).encode(), "minified-style code": minified,
            "prose (README)": (ROOT / "README.md").read_bytes()}


def cost(data: bytes, level: int, seconds: float = 0.5) -> tuple[float, int]:
    runs, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        out = zlib.compress(data, level)
        runs += 1
    return (time.perf_counter() - start) / runs, len(out)


def main() -> None:
    print(f"zlib {zlib.ZLIB_RUNTIME_VERSION}: CPU time and size against level 6 (x CPU / % size)\n")
    print("| response | bytes | " + " | ".join(f"level {level}" for level in LEVELS) + " |")
    print("|---|---|" + "---|" * len(LEVELS))
    for name, data in responses().items():
        measured = {level: cost(data, level) for level in LEVELS}
        base_time, base_size = measured[6]
        cells = [f"{t / base_time:.2f}x / {size / base_size * 100:.1f} %" for t, size in measured.values()]
        print(f"| {name} | {len(data)} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
