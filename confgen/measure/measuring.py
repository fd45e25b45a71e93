"""``confgen measure`` as a function: logs (and saved states) in, a measured profile out."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Callable, Sequence

from confgen.errors import ConfgenError
from confgen.measure import logformat, profile_writer, reading, sources, state
from confgen.measure.measurements import Measurement, measure_profile, per_second_series, period_text, requests_text
from confgen.measure.stats import DEFAULT_KEEPALIVE_S, Aggregate


@dataclass
class MeasureResult:
    aggregate: Aggregate
    summaries: list[reading.SourceSummary]
    measurements: list[Measurement]
    profile_text: str
    log_format: str                 # the format's name, or "detected per file"
    warnings: list[str] = field(default_factory=list)

    def to_json(self) -> dict:
        import yaml

        agg = self.aggregate
        return {
            "profile": yaml.safe_load(self.profile_text),
            "measurements": [m.to_json() for m in self.measurements],
            "lines": agg.lines, "malformed": agg.malformed, "outside_period": agg.outside_period,
            "requests": sum(agg.per_second.values()), "formats": dict(agg.formats),
            "sources": [s.to_json() for s in self.summaries], "warnings": self.warnings,
        }


def parse_moment(text: str, option: str) -> int:
    """--since/--until: epoch seconds, or an ISO date or date-time (UTC unless it says otherwise)."""
    value = text.strip()
    if value.replace(".", "", 1).isdigit():
        return int(float(value))
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ConfgenError(f"{option} {text}: not a time (give 2026-11-18, 2026-11-18T10:00 or epoch seconds)") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return int(moment.timestamp())


def measure_logs(
    logs: Sequence[str] = (),
    *,
    nginx_conf: str | None = None,
    log_format: str | Sequence[str] | None = None,
    since: str | None = None,
    until: str | None = None,
    profile: str | None = None,
    merge: Sequence[str] = (),
    save_state: str | None = None,
    progress: Callable[[int], None] | None = None,
    max_malformed: float = reading.MAX_MALFORMED_SHARE,
    workers: int | None = None,
) -> MeasureResult:
    logs, merge = list(logs), list(merge)
    if not logs and not merge:
        raise ConfgenError("measure: give access logs (or - for stdin), or --merge STATE...")
    if nginx_conf and log_format:
        raise ConfgenError("measure: give --nginx-conf or --log-format, not both")
    given, keepalive, format_label = [], DEFAULT_KEEPALIVE_S, "detected per file"
    if nginx_conf:
        setup = _nginx_setup(nginx_conf, logs)
        given, keepalive = [setup.log_format, *setup.other_formats], setup.keepalive_s
        format_label = f"{setup.log_format.name} ({setup.where})"
    elif log_format:
        given = logformat.named_or_literals(log_format)
        format_label = ", ".join(f.name for f in given)
    options = reading.ReadOptions(
        log_formats=tuple(given), keepalive_s=keepalive,
        since=parse_moment(since, "--since") if since else None,
        until=parse_moment(until, "--until") if until else None)
    aggregate, summaries = Aggregate(keepalive_s=keepalive), []
    if logs:
        aggregate, summaries = reading.read_all(sources.rotation_order(logs), options, progress=progress,
                                                workers=workers)
        reading.check_malformed(summaries, max_malformed)
        # Only the formats the user named must match: an nginx.conf defines formats it never uses.
        reading.check_given_formats(given[:1] if nginx_conf else given, aggregate, summaries)
    if merge:
        merged, merged_summaries = state.merge(merge)
        if logs:
            aggregate.merge(merged)
            summaries.extend(merged_summaries)
        else:
            aggregate, summaries = merged, merged_summaries
    if save_state:
        state.save(save_state, aggregate, summaries)
    if not aggregate.per_second:
        where = ", ".join(logs + merge)
        raise ConfgenError(f"{where}: no request with a readable time"
                           + (" in --since/--until" if aggregate.outside_period else ""))
    measurements = measure_profile(aggregate)
    base, base_label = profile_writer.base_profile(profile)
    header = _header(aggregate, summaries, measurements, format_label)
    text = profile_writer.profile_text(base, base_label, measurements, header=header)
    return MeasureResult(aggregate, summaries, measurements, text, format_label, _warnings(aggregate, summaries))


def _nginx_setup(nginx_conf: str, logs: list[str]):
    from confgen.measure.nginx_conf import log_setup

    return log_setup(nginx_conf, logs)


def _header(agg: Aggregate, summaries, measurements: list[Measurement], format_label: str) -> list[str]:
    series = per_second_series(agg.per_second)
    names = [os.path.basename(s.path) if s.path != "-" else "stdin" for s in summaries]
    shown = ", ".join(names[:4]) + (f" and {len(names) - 4} more" if len(names) > 4 else "")
    lines = [
        f"Measured by `confgen measure` from {requests_text(sum(series.counts))} requests in {shown}, "
        f"{period_text(series)}; log format: {format_label}.",
        "`confgen render THIS_FILE --explain` shows the settings that follow from it.",
    ]
    missing = sorted({v for m in measurements if m.in_profile and m.value is None for v in m.missing})
    if missing:
        lines.append(f"Not measurable from this log: add {' '.join(missing)} to its log_format "
                     "(the `confgen` log_format that `confgen render` writes has them all).")
    return lines


def _warnings(agg: Aggregate, summaries) -> list[str]:
    warnings = [w for s in summaries for w in s.warnings]
    for summary in summaries:
        if summary.malformed:
            where = f"{summary.path}:{summary.first_malformed[0]}" if summary.first_malformed else summary.path
            warnings.append(f"{where}: {summary.malformed} of {summary.lines} lines unreadable, skipped")
        if len(summary.formats) > 1:
            warnings.append(f"{summary.path}: lines in several formats ({', '.join(summary.formats)}), each read")
    if agg.outside_period:
        warnings.append(f"{agg.outside_period} requests outside --since/--until left out")
    series = per_second_series(agg.per_second)
    for before, after in series.gaps[:3]:
        warnings.append(f"no requests for {after - before} s after {datetime.fromtimestamp(before, timezone.utc):%Y-%m-%d %H:%M:%S} "
                        "(a clock jump, a restart or a quiet night): not counted as idle seconds")
    return warnings
