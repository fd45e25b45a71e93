"""Reading access logs as blocks of whole lines: plain files, ``.gz`` (also a truncated one, read
up to the cut), rotated sets, and ``-`` for stdin, with a progress bar on a terminal.

Blocks are about four megabytes and always end at a line end, so a parser can run one ``findall``
per block; the bytes read so far (compressed bytes for ``.gz``, i.e. of the file's size on disk)
are reported to a progress callback.
"""

from __future__ import annotations

import os
import re
import stat
import sys
import time
import zlib
from dataclasses import dataclass, field
from typing import Callable, Iterator

from confgen.errors import ConfgenError

BLOCK_BYTES = 4 << 20
STDIN = "-"
GZIP_MAGIC = b"\x1f\x8b"  # RFC 1952, 2.3.1: ID1 ID2
_ROTATION_SUFFIX = re.compile(r"\.(\d+)(\.gz)?$")


@dataclass
class SourceReport:
    """What reading one source noticed besides lines: e.g. a gzip stream cut short."""

    path: str
    warnings: list[str] = field(default_factory=list)


def rotation_order(paths: list[str]) -> list[str]:
    """Rotated sets oldest first (access.log.3.gz, .2.gz, .1, access.log), so that a run reads
    time forwards; other files keep the order given."""
    def key(indexed):
        index, path = indexed
        match = _ROTATION_SUFFIX.search(path)
        base = path[:match.start()] if match else path
        return (base, -(int(match.group(1)) if match else 0), index)

    if STDIN in paths:
        return list(paths)
    return [path for _, path in sorted(enumerate(paths), key=key)]


def source_size(path: str) -> int | None:
    if path == STDIN:
        return None
    try:
        return os.stat(path).st_size
    except OSError:
        return None


def check_readable(path: str) -> None:
    """A one-line error now, before any worker starts, for a log that cannot be read."""
    if path == STDIN:
        return
    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise ConfgenError(f"{path}: no such file") from None
    except OSError as error:
        raise ConfgenError(f"{path}: cannot read: {error.strerror or error}") from None
    if stat.S_ISDIR(info.st_mode):
        raise ConfgenError(f"{path}: is a directory, not an access log")
    if not os.access(path, os.R_OK):
        raise ConfgenError(f"{path}: cannot read: permission denied")


def read_blocks(path: str, report: SourceReport, progress: Callable[[int], None] | None = None
                ) -> Iterator[bytes]:
    """Blocks of whole lines from ``path`` ("-": stdin). A truncated or corrupt gzip stream ends
    the file where it breaks, with a warning in ``report``."""
    if path == STDIN:
        yield from _blocks_of(sys.stdin.buffer, "stdin", report, progress)
        return
    try:
        raw = open(path, "rb")
    except OSError as error:
        raise ConfgenError(f"{path}: cannot read: {error.strerror or error}") from None
    with raw:
        yield from _blocks_of(raw, path, report, progress)


def _blocks_of(raw, path: str, report: SourceReport, progress) -> Iterator[bytes]:
    """gzip or plain, told by the first two bytes. They are read and handed on, never sought back
    to: a FIFO, ``<(zcat x.gz)`` or stdin cannot seek (and ``peek`` may return a single byte of a
    pipe)."""
    head = raw.read(len(GZIP_MAGIC))
    if head == GZIP_MAGIC:
        chunks = _gzip_chunks(raw, path, report, progress, head)
    else:
        chunks = _plain_chunks(raw, progress, head)
    yield from _lines_of(chunks, report)


def _plain_chunks(raw, progress, head: bytes = b"") -> Iterator[bytes]:
    while True:
        chunk = head + raw.read(BLOCK_BYTES)
        head = b""
        if not chunk:
            return
        if progress:
            progress(len(chunk))
        yield chunk


def _gzip_chunks(raw, path: str, report: SourceReport, progress, head: bytes = b"") -> Iterator[bytes]:
    """Decompressed chunks of at most BLOCK_BYTES as the compressed bytes arrive, so a cut stream
    still gives all it holds up to the cut; concatenated gzip members are read one after another."""
    inflate, started = zlib.decompressobj(wbits=31), False
    while True:
        compressed = head + raw.read(BLOCK_BYTES // 4)
        head = b""
        if not compressed:
            if started and not inflate.eof:
                report.warnings.append(f"{path}: truncated gzip: read up to the cut, the rest is lost")
            return
        if progress:
            progress(len(compressed))
        while compressed:
            started = True
            try:
                chunk = inflate.decompress(compressed, BLOCK_BYTES)
            except zlib.error as error:
                report.warnings.append(f"{path}: corrupt gzip ({error}): read up to the damage")
                return
            if chunk:
                yield chunk
            compressed = inflate.unconsumed_tail
            if inflate.eof:
                rest = inflate.unused_data
                inflate, started = zlib.decompressobj(wbits=31), False
                compressed = rest if rest.strip(b"\0") else b""


def _lines_of(chunks: Iterator[bytes], report: SourceReport) -> Iterator[bytes]:
    carry = b""
    for chunk in chunks:
        end = chunk.rfind(b"\n")
        if end < 0:
            carry += chunk
            continue
        block = carry + chunk[:end + 1]
        carry = chunk[end + 1:]
        yield block
    if carry:
        yield carry + b"\n"


class ProgressBar:
    """``measure: 412.0/980.5 MB [=====>     ] 42%`` on stderr, redrawn at most 10 times a second."""

    def __init__(self, total: int | None, stream=None) -> None:
        self.total = total
        self.done = 0
        self.stream = stream or sys.stderr
        self._drawn_at = 0.0

    def advance(self, amount: int) -> None:
        self.set(self.done + amount)

    def set(self, done: int) -> None:
        self.done = done
        now = time.monotonic()
        if now - self._drawn_at >= 0.1:
            self._drawn_at = now
            self.stream.write("\r\033[K" + self.line())
            self.stream.flush()

    def line(self) -> str:
        megabytes = self.done / 1e6
        if not self.total:
            return f"measure: {megabytes:.1f} MB read"
        share = min(1.0, self.done / self.total)
        bar = "=" * int(share * 30)
        return f"measure: {megabytes:.1f}/{self.total / 1e6:.1f} MB [{bar:<30}] {share:4.0%}"

    def close(self) -> None:
        self.stream.write("\r\033[K")
        self.stream.flush()
