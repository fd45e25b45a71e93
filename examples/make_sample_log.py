"""Writes examples/access.log.gz, the sample log the README's "Measure" section walks through:
30 minutes of an API at 4 requests/s (Poisson arrivals, 40 ms median app latency, a few uploads),
in the `confgen` log_format that `confgen render` configures. Deterministic (fixed seed, gzip
mtime 0), so re-running it rewrites the same bytes.

    python examples/make_sample_log.py
"""

from __future__ import annotations

import gzip
import io
import sys
from pathlib import Path

# The log generator lives with the tests that check measure against it (not in the package).
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

import synthetic_logs as synthetic  # noqa: E402

TARGET = Path(__file__).resolve().parent / "access.log.gz"


def main() -> None:
    text = io.StringIO()
    truth = synthetic.generate(text.write, rate=4, seconds=1800, start=1_795_600_800.0, seed=2026,
                               requests_per_connection=6)
    TARGET.write_bytes(gzip.compress(text.getvalue().encode(), mtime=0))
    print(f"wrote {TARGET.name}: {truth.requests} requests, {TARGET.stat().st_size // 1024} KiB")


if __name__ == "__main__":
    main()
