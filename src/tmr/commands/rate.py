"""``tmr rate URL_FILE``: the earlier CLI's interface, one NDJSON rating per model.

Each non-blank line of the file is ``code_url,dataset_url,model_url`` (the first two may be
empty). The model is fetched with its card's links, the line's explicit code and dataset are
fetched too and linked (deduplicated), the model is rated, and one record with the Phase-1 field
set is printed (scores in [0, 1], latencies in integer milliseconds). Every error is reported on
standard error and makes the exit status 1; the other lines are still rated. ``LOG_FILE`` and
``LOG_LEVEL`` (0 silent, 1 info, 2 debug) are honoured; a progress bar is drawn only when standard
error is a terminal.
"""

from __future__ import annotations

import json
import logging
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from tqdm import tqdm

from tmr.config import Settings
from tmr.domain.rating import Rating
from tmr.domain.snapshot import Snapshot
from tmr.errors import TmrError
from tmr.metrics.runner import RatingInput, rate_model

log = logging.getLogger(__name__)
PHASE1_METRICS = (
    "ramp_up_time",
    "bus_factor",
    "performance_claims",
    "license",
    "size_score",
    "dataset_and_code_score",
    "dataset_quality",
    "code_quality",
)


@dataclass(frozen=True)
class UrlLine:
    number: int
    code_url: str | None
    dataset_url: str | None
    model_url: str


class UrlFileError(ValueError):
    """The URL file cannot be read or a line is not ``code_url,dataset_url,model_url``."""


def parse_url_file(path: Path) -> list[UrlLine]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise UrlFileError(f"cannot read URL file {path}: {exc.strerror or exc}") from exc
    lines: list[UrlLine] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        parts = [p.strip() for p in raw.split(",")]
        if len(parts) != 3 or not parts[2]:
            raise UrlFileError(
                f"{path}:{number}: expected 'code_url,dataset_url,model_url' with a model URL, "
                f"got {raw.strip()!r}"
            )
        lines.append(UrlLine(number, parts[0] or None, parts[1] or None, parts[2]))
    return lines


def model_name(url: str) -> str:
    """The model's name as the earlier CLI printed it: the last segment of the repository id."""
    path = url.split("://", 1)[-1].split("?", 1)[0].rstrip("/")
    segments = path.split("/")[1:]
    if "tree" in segments:
        segments = segments[: segments.index("tree")]
    return segments[-1] if segments else url


def _identity(snap: Snapshot) -> str:
    if snap.github is not None:
        return f"github:{snap.github.full_name}".lower()
    if snap.hf is not None:
        return f"hf:{snap.hf.repo_type}:{snap.hf.repo_id}".lower()
    return snap.url.rstrip("/").lower()


def add_linked(snapshot: Snapshot, extra: list[Snapshot]) -> None:
    """Link the line's explicit code and dataset snapshots, skipping ones already linked."""
    seen = {_identity(s) for s in snapshot.linked}
    for snap in extra:
        if _identity(snap) not in seen:
            seen.add(_identity(snap))
            snapshot.linked.append(snap)


def phase1_record(rating: Rating) -> dict[str, Any]:
    return rating.to_model_rating(PHASE1_METRICS, latency_ms=True)


def rate_line(line: UrlLine, settings: Settings, errors: list[str]) -> Rating:
    from tmr.sources import fetch_snapshot  # imported late: the network layer is only for `rate`

    snapshot = fetch_snapshot(line.model_url, "model", settings)
    extra: list[Snapshot] = []
    for url, kind in ((line.code_url, "code"), (line.dataset_url, "dataset")):
        if not url:
            continue
        try:
            extra.append(fetch_snapshot(url, kind, settings))
        except TmrError as exc:
            errors.append(f"line {line.number}: cannot fetch {kind} {url}: {exc.message}")
    add_linked(snapshot, extra)
    from tmr.services.rating import sandbox_config  # the registry's rule: sandbox when possible

    return rate_model(
        RatingInput(
            snapshot=snapshot, name=model_name(line.model_url), sandbox=sandbox_config(settings)
        )
    )


def run(url_file: Path, settings: Settings, out: TextIO | None = None) -> int:
    """Rate every model of ``url_file``; 0 when all succeeded, 1 after reporting any error.

    ``out`` defaults to the current ``sys.stdout`` (looked up at call time).
    """
    out = out if out is not None else sys.stdout
    from tmr.logging_setup import configure_logging

    try:
        configure_logging(settings.log_level, settings.log_file)
    except OSError as exc:
        print(f"tmr rate: cannot open LOG_FILE {settings.log_file}: {exc}", file=sys.stderr)
        return 1
    try:
        lines = parse_url_file(url_file)
    except UrlFileError as exc:
        print(f"tmr rate: {exc}", file=sys.stderr)
        return 1
    errors: list[str] = []
    bar = tqdm(total=len(lines), file=sys.stderr, unit="model", disable=not sys.stderr.isatty())
    for line in lines:
        try:
            rating = rate_line(line, settings, errors)
        except TmrError as exc:
            errors.append(f"line {line.number}: cannot rate {line.model_url}: {exc.message}")
            log.error("rate failed", extra={"fields": {"url": line.model_url, "error": exc.code}})
        except Exception as exc:  # an unexpected failure is still reported per line, not a trace
            errors.append(
                f"line {line.number}: cannot rate {line.model_url}: {type(exc).__name__}: {exc}"
            )
            log.exception("rate failed", extra={"fields": {"url": line.model_url}})
        else:
            out.write(json.dumps(phase1_record(rating)) + "\n")
            out.flush()
            log.info("rated", extra={"fields": {"name": rating.name, "net": rating.net_score}})
        bar.update(1)
    bar.close()
    for message in errors:
        print(f"tmr rate: {message}", file=sys.stderr)
    return 1 if errors else 0
