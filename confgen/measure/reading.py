"""Reading access logs into an :class:`~confgen.measure.stats.Aggregate`: one source at a time,
several files on all cores, with mixed formats, malformed lines and the share of them checked.

A block's lines are parsed by the source's current format in one ``findall``. Only when some
lines of a block do not match is the block taken line by line: those lines are tried against the
other known formats (a log whose ``log_format`` changed mid-file), and the format that now reads
most lines becomes the current one; lines no format reads are counted as malformed, and the first
is remembered as ``file:line`` for the error message.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from confgen.errors import ConfgenError
from confgen.measure import logformat, sources
from confgen.measure.stats import DEFAULT_KEEPALIVE_S, Aggregate, Collector

# More unreadable lines than this share of a file is not a log in the format measure was given.
MAX_MALFORMED_SHARE = 0.05
SNIFF_LINES = 200


@dataclass
class SourceSummary:
    path: str
    lines: int = 0
    malformed: int = 0
    first_malformed: tuple[int, str] | None = None  # (line number, start of the line)
    formats: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def to_json(self) -> dict:
        return {"path": self.path, "lines": self.lines, "malformed": self.malformed,
                "first_malformed": list(self.first_malformed) if self.first_malformed else None,
                "formats": self.formats, "warnings": self.warnings}

    @classmethod
    def from_json(cls, data: dict) -> "SourceSummary":
        first = data.get("first_malformed")
        return cls(data["path"], data["lines"], data["malformed"], tuple(first) if first else None,
                   list(data.get("formats", [])), list(data.get("warnings", [])))


@dataclass(frozen=True)
class ReadOptions:
    log_format: logformat.LogFormat | None = None  # None: detected per file among the known formats
    since: int | None = None
    until: int | None = None
    keepalive_s: int = DEFAULT_KEEPALIVE_S


def read_source(path: str, options: ReadOptions, progress=None) -> tuple[Aggregate, SourceSummary]:
    aggregate = Aggregate(keepalive_s=options.keepalive_s)
    collector = Collector(aggregate, since=options.since, until=options.until)
    summary = SourceSummary(path)
    report = sources.SourceReport(path)
    known = logformat.candidates()
    current = options.log_format
    others = [f for f in known if current is None or f.text != current.text]
    line_number = 0
    for block in sources.read_blocks(path, report, progress):
        if current is None:
            current = _sniff(block, known)
            others = [f for f in known if f is not current]
        lines_in_block = block.count(b"\n")
        rows = current.rows(block)
        if len(rows) >= lines_in_block:
            summary.malformed += collector.add_rows(current.name, current.fields, current.time_field, rows)
        else:
            current = _mixed_block(block, line_number, current, others, collector, summary)
            others = [f for f in known if f.text != current.text]
            if options.log_format is not None and current.text != options.log_format.text:
                others.append(options.log_format)
        line_number += lines_in_block
    collector.close()
    summary.lines = line_number
    summary.warnings.extend(report.warnings)
    summary.formats = sorted(aggregate.formats)
    aggregate.lines = line_number
    aggregate.malformed = summary.malformed
    return aggregate, summary


def _sniff(block: bytes, known: list) -> logformat.LogFormat:
    """The known format that reads most of the first lines (ties: the richer, listed first)."""
    head = b"\n".join(block.split(b"\n", SNIFF_LINES)[:SNIFF_LINES]) + b"\n"
    return max(known, key=lambda f: (len(f.rows(head)), -known.index(f)))


def _mixed_block(block: bytes, first_line: int, current, others: list, collector: Collector,
                 summary: SourceSummary):
    """A block some of whose lines the current format does not read: line by line."""
    formats = [current] + others
    rows_by_format: dict[int, list] = {index: [] for index in range(len(formats))}
    for offset, line in enumerate(block.split(b"\n")[:-1] if block.endswith(b"\n") else block.split(b"\n")):
        if not line.strip():
            continue
        for index, candidate in enumerate(formats):
            found = candidate.rows(line + b"\n")
            if found:
                rows_by_format[index].extend(found)
                break
        else:
            summary.malformed += 1
            if summary.first_malformed is None:
                summary.first_malformed = (first_line + offset + 1, line[:80].decode("utf-8", "replace"))
    for index, rows in rows_by_format.items():
        candidate = formats[index]
        summary.malformed += collector.add_rows(candidate.name, candidate.fields, candidate.time_field, rows)
    best = max(rows_by_format, key=lambda index: (len(rows_by_format[index]), index == 0))
    return formats[best]


def read_all(paths: list[str], options: ReadOptions, *, progress=None, workers: int | None = None
             ) -> tuple[Aggregate, list[SourceSummary]]:
    """Every source read into one aggregate (each file on its own, merged in the order given);
    several files are read by a pool of processes, one per core."""
    for path in paths:
        sources.check_readable(path)
    workers = workers or min(len(paths), os.cpu_count() or 1)
    if workers <= 1 or len(paths) <= 1 or sources.STDIN in paths:
        results = [read_source(path, options, progress) for path in paths]
    else:
        results = _read_parallel(paths, options, progress, workers)
    total = Aggregate(keepalive_s=options.keepalive_s)
    for aggregate, _ in results:
        total.merge(aggregate)
    return total, [summary for _, summary in results]


_shared_progress = None


def _init_worker(counter) -> None:
    global _shared_progress
    _shared_progress = counter


def _advance_shared(amount: int) -> None:
    with _shared_progress.get_lock():
        _shared_progress.value += amount


def _read_in_worker(job: tuple[str, ReadOptions]):
    path, options = job
    return read_source(path, options, _advance_shared)


def _read_parallel(paths, options, progress, workers):
    import multiprocessing

    context = multiprocessing.get_context("fork" if "fork" in multiprocessing.get_all_start_methods() else None)
    counter = context.Value("q", 0)
    with context.Pool(workers, initializer=_init_worker, initargs=(counter,)) as pool:
        pending = pool.map_async(_read_in_worker, [(path, options) for path in paths], chunksize=1)
        reported = 0
        while not pending.ready():
            pending.wait(0.1)
            if progress:
                now = counter.value
                progress(now - reported)
                reported = now
        return pending.get()  # a worker's ConfgenError is raised here


def check_malformed(summaries: list[SourceSummary], max_share: float = MAX_MALFORMED_SHARE) -> None:
    """A clear error for a file whose unreadable lines exceed ``max_share``."""
    problems = []
    for summary in summaries:
        if summary.lines and summary.malformed > max_share * summary.lines:
            where = f"{summary.path}:{summary.first_malformed[0]}" if summary.first_malformed else summary.path
            shown = f" (first: {summary.first_malformed[1]!r})" if summary.first_malformed else ""
            problems.append(
                f"{where}: {summary.malformed} of {summary.lines} lines are not in the log format{shown}; "
                f"more than {max_share:.0%} unreadable: give --log-format or --nginx-conf")
    if problems:
        raise ConfgenError(*problems)
