"""Which files confgen wrote, so a render never replaces one it did not write or that was edited.

Every rendered file carries, below its header comment, ``# confgen-sha256: <digest> ...``: the
SHA-256 of the file's text without that line. A file on disk whose digest still matches is
exactly what confgen rendered and may be replaced; a file without the line was written by hand
(or by a confgen before the stamp), and one whose digest no longer matches was edited since.
"""

from __future__ import annotations

import hashlib
import re

STAMP_KEY = "confgen-sha256"
_STAMP_LINE = re.compile(rf"^# {STAMP_KEY}: ([0-9a-f]{{64}})\b[^\n]*\n?", re.M)
_NOTE = "of this file without this line; `confgen render` replaces it only while they match"

# What a file on disk is, for a render that would replace it.
RENDERED = "rendered"      # confgen's, unedited
EDITED = "edited"          # confgen's, changed since
OLD_CONFGEN = "old-confgen"  # confgen's header but no stamp: an edit cannot be told
FOREIGN = "foreign"        # not written by confgen


def stamp(text: str) -> str:
    """``text`` with the digest line inserted after its header (the leading comment lines)."""
    lines = text.splitlines(keepends=True)
    header = next((i for i, line in enumerate(lines) if not line.startswith("#")), len(lines))
    if header and not lines[header - 1].endswith("\n"):
        lines[header - 1] += "\n"
    base = "".join(lines)
    lines.insert(header, f"# {STAMP_KEY}: {_digest(base)} {_NOTE}\n")
    return "".join(lines)


def provenance(text: str) -> str:
    """RENDERED, EDITED, OLD_CONFGEN or FOREIGN for a file's current text."""
    match = _STAMP_LINE.search(text)
    if match is None:
        first = text.partition("\n")[0]
        return OLD_CONFGEN if first.startswith("# ") and "rendered by confgen" in first else FOREIGN
    unstamped = text[:match.start()] + text[match.end():]
    return RENDERED if _digest(unstamped) == match.group(1) else EDITED


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
