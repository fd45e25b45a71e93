"""Reading access logs into an :class:`~confgen.measure.stats.Aggregate`: one source at a time,
several files on all cores, with mixed formats, malformed lines and the share of them checked.

A block's lines are parsed by the source's current format in one ``findall``. Only when some
lines of a block do not match is the block taken line by line: those lines are tried against the
formats given (every ``--log-format``, every ``log_format`` of an ``--nginx-conf``), then the
other known ones (a log whose ``log_format`` changed mid-file), and the format that now reads
most lines becomes the current one; lines no format reads are counted as malformed, and the first
is remembered as ``file:line`` with where it leaves the format, for the error message.
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
    first_malformed: tuple[int, str] | None = None  # (line number, where it leaves the closest format)
    formats: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    # A given format's name -> where the file's first line leaves it (for "matches no line").
    given_mismatch: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> dict:
        return {"path": self.path, "lines": self.lines, "malformed": self.malformed,
                "first_malformed": list(self.first_malformed) if self.first_malformed else None,
                "formats": self.formats, "warnings": self.warnings, "given_mismatch": self.given_mismatch}

    @classmethod
    def from_json(cls, data: dict) -> "SourceSummary":
        first = data.get("first_malformed")
        return cls(data["path"], data["lines"], data["malformed"], tuple(first) if first else None,
                   list(data.get("formats", [])), list(data.get("warnings", [])),
                   dict(data.get("given_mismatch", {})))


@dataclass(frozen=True)
class ReadOptions:
    # Tried first, in order; empty: detected per file among the known formats.
    log_formats: tuple[logformat.LogFormat, ...] = ()
    since: int | None = None
    until: int | None = None
    keepalive_s: int = DEFAULT_KEEPALIVE_S


def read_source(path: str, options: ReadOptions, progress=None) -> tuple[Aggregate, SourceSummary]:
    aggregate = Aggregate(keepalive_s=options.keepalive_s)
    collector = Collector(aggregate, since=options.since, until=options.until)
    summary = SourceSummary(path)
    report = sources.SourceReport(path)
    given = list(options.log_formats)
    given_texts = {f.text for f in given}
    formats = given + [f for f in logformat.candidates() if f.text not in given_texts]
    current = None
    line_number = 0
    for block in sources.read_blocks(path, report, progress):
        if current is None:
            current = _sniff(block, given or formats)
            summary.given_mismatch = _first_line_mismatches(block, given)
        lines_in_block = block.count(b"\n")
        rows = current.rows(block)
        if len(rows) >= lines_in_block:
            summary.malformed += collector.add_rows(current.name, current.fields, current.time_field, rows)
        else:
            current = _mixed_block(block, line_number, current, formats, collector, summary)
        line_number += lines_in_block
    collector.close()
    summary.lines = line_number
    summary.warnings.extend(report.warnings)
    summary.formats = sorted(aggregate.formats)
    aggregate.lines = line_number
    aggregate.malformed = summary.malformed
    return aggregate, summary


def _sniff(block: bytes, known: list) -> logformat.LogFormat:
    """The format that reads most of the first lines (ties: the one listed first)."""
    head = b"\n".join(block.split(b"\n", SNIFF_LINES)[:SNIFF_LINES]) + b"\n"
    return max(known, key=lambda f: (len(f.rows(head)), -known.index(f)))


def _first_line_mismatches(block: bytes, given: list) -> dict[str, str]:
    line = next((line for line in block.split(b"\n", SNIFF_LINES) if line.strip()), b"")
    return {f.name: logformat.describe_mismatch(f, line.rstrip(b"\r"))
            for f in given if line and not f.rows(line + b"\n")}


def _mixed_block(block: bytes, first_line: int, current, formats: list, collector: Collector,
                 summary: SourceSummary):
    """A block some of whose lines the current format does not read: line by line, each line
    read by the first format that matches it (the current one, then the given, then the known)."""
    formats = [current] + [f for f in formats if f is not current]
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
                summary.first_malformed = (first_line + offset + 1,
                                           logformat.describe_mismatch(formats, line.rstrip(b"\r")))
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
            shown = f" (first: {summary.first_malformed[1]})" if summary.first_malformed else ""
            problems.append(
                f"{where}: {summary.malformed} of {summary.lines} lines are not in the log format{shown}; "
                f"more than {max_share:.0%} unreadable: give --log-format or --nginx-conf")
    if problems:
        raise ConfgenError(*problems)


def check_given_formats(given: list, aggregate: Aggregate, summaries: list[SourceSummary]) -> None:
    """A given format that read no line is an error, not silently replaced by a known one."""
    problems = []
    for log_format in given:
        if aggregate.formats.get(log_format.name):
            continue
        read_as = ", ".join(f"{name} ({rows} lines)" for name, rows in aggregate.formats.most_common(3))
        where = next(((s.path, s.given_mismatch[log_format.name]) for s in summaries
                      if log_format.name in s.given_mismatch), None)
        shown = f"; {where[0]}, first line: {where[1]}" if where else ""
        label = log_format.name if log_format.name.startswith("--") else f"log format {log_format.name}"
        problems.append(f"{label} matches no line of the logs"
                        + (f" (they read as {read_as}: drop it or give that format)" if read_as else "") + shown)
    if problems:
        raise ConfgenError(*problems)
