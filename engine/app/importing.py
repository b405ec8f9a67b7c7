"""`shopnow import`: files or an adapter's dataset into a dataset directory, with a report,
then laid out for the jobs (:mod:`ingest.imports.layout`): `--data DIR` reads it."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from ingest.imports.adapters import ADAPTERS
from ingest.imports.layout import lay_out
from ingest.imports.readers import file_source
from ingest.imports.run import import_all
from ingest.imports.schema import Kind
from ingest.imports.source import Source


def run_import(
    into: Path,
    files: dict[Kind, Sequence[Path]],
    *,
    adapter: str | None = None,
    source: Path | None = None,
    cut: float | None = None,
    progress: bool = True,
) -> int:
    sources: list[Source] = []
    protocol = None  # the one recorded by an earlier import, if any
    if adapter is not None:
        if adapter not in ADAPTERS:
            raise ValueError(f"--adapter: unknown {adapter!r}; known: {', '.join(ADAPTERS)}")
        if source is None or not source.is_dir():
            raise ValueError(f"--adapter {adapter} needs --source, the dataset's directory")
        sources += ADAPTERS[adapter].sources(source)
        protocol = ADAPTERS[adapter].protocol
    elif source is not None:
        raise ValueError("--source is the directory of an --adapter's dataset")
    sources += [file_source(path, kind) for kind, paths in files.items() for path in paths]
    if not sources:
        raise ValueError("nothing to import: give --items, --events, --impressions or --adapter")
    report = []
    for out in import_all(sources, into, progress=progress):
        e = out.entry
        if out.skipped:
            line = f"{e.label}: already imported ({e.imported:,} {e.kind} rows), skipped"
        else:
            line = f"{e.label}: {e.imported:,} of {e.rows:,} {e.kind} rows imported"
            if e.quarantined:
                line += f", {e.quarantined:,} quarantined in {out.quarantine}"
        print(line, file=sys.stderr)
        for err in out.errors:
            print(f"  {err}", file=sys.stderr)
        report.append({**e.__dict__, "skipped": out.skipped})
    meta = lay_out(into, cut=cut, protocol=protocol)
    c = meta["counts"]
    print(
        f"{into}: {c['items']:,} items, {c['events']:,} events ({c['users']:,} users, "
        f"{c['anonymous_sessions']:,} anonymous sessions); cut at "
        f"{datetime.fromtimestamp(meta['split_ts'], UTC).isoformat()} ({meta['cut']}); "
        f"{c['events_on_unknown_items']:,} events on items not in the catalog left out",
        file=sys.stderr,
    )
    print(json.dumps({"dataset": str(into), "sources": report, "layout": meta}, indent=2))
    return 0
