"""`shopnow import`, `synth`, `index`, `ingest`, `snapshot`: the data the engine serves."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from engine.app.cli.common import CliError, add_paths, positive, settings_from


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "import",
        help="import a marketplace's catalog and logs (JSONL, CSV or Parquet in the schema of "
        "docs/data.md, or a known public dataset through --adapter) into a dataset directory; "
        "bad rows go to its quarantine with the reason, a file imported before is skipped",
    )
    p.add_argument("--into", type=Path, required=True, help="the dataset directory")
    p.add_argument("--items", type=Path, nargs="+", default=[], help="catalog item files")
    p.add_argument("--events", type=Path, nargs="+", default=[], help="interaction event files")
    p.add_argument("--impressions", type=Path, nargs="+", default=[], help="impression log files")
    p.add_argument("--adapter", help="a known public dataset: online-retail, amazon-beauty, icecat")
    p.add_argument("--source", type=Path, help="the adapter's dataset directory")
    p.add_argument(
        "--cut",
        type=_iso_time,
        help="the temporal split, an ISO 8601 time: jobs train before it and evaluate after "
        "it (default: when 90%% of the events had happened)",
    )
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(fn=cmd_import)

    p = sub.add_parser("synth", help="generate a synthetic marketplace")
    p.add_argument("--out", type=Path, default=Path("var/data"))
    p.add_argument("--items", type=positive, default=50_000)
    p.add_argument("--events", type=positive, default=500_000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(fn=cmd_synth)

    p = sub.add_parser("index", help="load the catalog, index it, build behavioural signals")
    add_paths(p)
    p.add_argument(
        "--text-vectors",
        action="store_true",
        help="also embed every item's text with MiniLM (cached by content), for the search "
        "ranker's query_text_similarity: what a catalog without behaviour ranks by",
    )
    p.set_defaults(fn=cmd_index)

    p = sub.add_parser(
        "snapshot",
        help="OpenSearch: take a snapshot of the live index generation into a filesystem "
        "repository, list a repository's snapshots, or restore one into another cluster",
    )
    p.add_argument("action", choices=("take", "list", "restore"))
    p.add_argument(
        "--location",
        required=True,
        help="the repository directory: listed in every node's path.repo (a mount shared by "
        "the nodes; `shopnow opensearch up --snapshots DIR` for a local one)",
    )
    p.add_argument("--repository", default="shopnow-backups", help="the repository's name")
    p.add_argument(
        "--name",
        help="take: the snapshot's name (default: alias and time); restore: which one (required)",
    )
    add_paths(p)
    p.set_defaults(fn=cmd_snapshot)

    p = sub.add_parser(
        "ingest",
        help="apply a JSONL file of catalog changes (items or op records) through the ingest "
        "log; resumes where an interrupted run stopped",
    )
    p.add_argument("file", type=Path)
    add_paths(p)
    p.set_defaults(fn=cmd_ingest)


def _iso_time(text: str) -> float:
    try:
        t = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 time: {text!r}") from None
    return (t if t.tzinfo else t.replace(tzinfo=UTC)).timestamp()


def cmd_import(args: argparse.Namespace) -> int:
    # imported when the command runs: `shopnow --help` loads none of it
    from engine.app.importing import run_import

    return run_import(
        args.into,
        {"items": args.items, "events": args.events, "impressions": args.impressions},
        adapter=args.adapter,
        source=args.source,
        cut=args.cut,
        progress=not args.quiet,
    )


def cmd_synth(args: argparse.Namespace) -> int:
    # imported when the command runs: `shopnow --help` loads none of it
    from synth.generate import generate

    out = Path(args.out)
    summary = generate(
        out, n_items=args.items, n_events=args.events, seed=args.seed, progress=not args.quiet
    )
    print(
        json.dumps(
            summary.as_dict() if hasattr(summary, "as_dict") else str(summary),
            indent=2,
            default=str,
        )
    )
    return 0


def cmd_index(args: argparse.Namespace) -> int:
    # imported when the command runs: `shopnow --help` loads none of it
    from engine.offline.train import build_index

    print(
        json.dumps(
            asyncio.run(
                build_index(
                    settings_from(args), progress=not args.quiet, text_vectors=args.text_vectors
                )
            ),
            indent=2,
        )
    )
    return 0


def cmd_ingest(args: argparse.Namespace) -> int:
    # imported when the command runs: `shopnow --help` loads none of it
    from engine.app.ingest_file import ingest_file

    report = asyncio.run(ingest_file(settings_from(args), args.file, progress=not args.quiet))
    print(json.dumps(report, indent=2))
    return 0 if report["waiting_for_index"] == 0 else 1


def cmd_snapshot(args: argparse.Namespace) -> int:
    # imported when the command runs: `shopnow --help` loads none of it
    from engine.serving.backends import opensearch_params
    from search_plugins.opensearch import OpenSearchIndex
    from search_plugins.opensearch.client import close_client, make_client
    from search_plugins.opensearch.snapshots import Snapshot, listing, restore, take

    settings = settings_from(args)
    if settings.search_backend != "opensearch":
        raise CliError(
            "snapshots are OpenSearch's: pass --backend opensearch (the embedded index is a "
            "directory: copy --index while nothing writes to it)"
        )
    params = opensearch_params(settings, offline=True)

    async def run() -> list[dict[str, Any]] | Snapshot:
        if args.action == "take":
            index = await OpenSearchIndex.open(settings.opensearch_url, params)
            try:
                return await take(index, args.repository, args.location, args.name)
            finally:
                await index.close()
        if args.action == "list":
            client = make_client(settings.opensearch_url)
            try:
                return await listing(client, args.repository, args.location)
            finally:
                await close_client(client)
        if not args.name:
            raise CliError("restore needs --name (`shopnow snapshot list` shows them)")
        return await restore(
            settings.opensearch_url, params, args.repository, args.location, args.name
        )

    got = asyncio.run(run())
    print(json.dumps(got if isinstance(got, list) else dataclasses.asdict(got), indent=2))
    return 0
