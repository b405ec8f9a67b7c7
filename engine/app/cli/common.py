"""What every command shares: the path and backend flags, settings from them, and the
user-facing error."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from engine.core.settings import Settings
from engine.core.validation import describe
from engine.serving.sources.registry import SOURCE_NAMES, TRADITIONAL


class CliError(Exception):
    """A user-facing error: printed without a traceback, exit status 2."""


def settings_from(args: argparse.Namespace) -> Settings:
    overrides: dict[str, Any] = {
        k: v
        for k, v in {
            "data_dir": getattr(args, "data", None),
            "index_dir": getattr(args, "index", None),
            "model_dir": getattr(args, "models", None),
            "feature_log_dir": getattr(args, "feature_log", None),
            "shared_data": getattr(args, "shared_data", None),
            "search_backend": getattr(args, "backend", None),
            "opensearch_url": getattr(args, "opensearch_url", None),
            "sources": _sources(getattr(args, "sources", None)),
        }.items()
        if v is not None
    }
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        raise CliError(f"bad settings: {describe(exc)[0]}") from None


def _sources(arg: str | None) -> tuple[str, ...] | None:
    if arg is None:
        return None
    names = TRADITIONAL if arg == "traditional" else tuple(x.strip() for x in arg.split(","))
    unknown = sorted(set(names) - set(SOURCE_NAMES))
    if unknown or not names:
        raise CliError(
            f"--sources: unknown {unknown}; give 'traditional' or a comma list of "
            f"{','.join(SOURCE_NAMES)}"
        )
    return names


def add_paths(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data", type=Path, help="data directory (default var/data)")
    p.add_argument("--index", type=Path, help="index directory (default var/index)")
    p.add_argument("--models", type=Path, help="model directory (default var/models)")
    p.add_argument(
        "--feature-log",
        type=Path,
        dest="feature_log",
        help="feature log directory (default var/feature-log)",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.add_argument(
        "--backend",
        choices=["embedded", "opensearch"],
        help="search backend (default $SHOPNOW_SEARCH_BACKEND or embedded)",
    )
    p.add_argument(
        "--opensearch-url",
        dest="opensearch_url",
        help="e.g. http://127.0.0.1:9200; the nodes of a cluster separated by commas",
    )
    p.add_argument(
        "--sources",
        help="enabled candidate sources: 'traditional' or a comma list "
        "(default all: bm25,covis,popular,trending,popular_in_context,two_tower,graph,"
        "bought_together,new_arrivals,sequence,basket,content,text)",
    )


def positive(v: str) -> int:
    try:
        n = int(v)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{v!r} is not an integer") from None
    if n <= 0:
        raise argparse.ArgumentTypeError(f"{v} must be positive")
    return n


def positive_float(v: str) -> float:
    try:
        x = float(v)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{v!r} is not a number") from None
    if not x > 0:
        raise argparse.ArgumentTypeError(f"{v} must be positive")
    return x


def add_without_features(p: argparse.ArgumentParser, help: str) -> None:
    p.add_argument(
        "--without-features",
        type=lambda v: [n for n in v.split(",") if n],
        default=[],
        help=f"{help}: comma list of features the ranker leaves out (an ablation); "
        "'behaviour' names every feature that reads events, history or sessions, 'text' every "
        "feature matching the query against the item",
    )


def without_features(args: argparse.Namespace) -> frozenset[str]:
    """``--without-features`` with its groups expanded; an unknown name is a CLI error."""
    # imported when the command runs: `shopnow --help` loads none of it
    from engine.serving.sources.registry import SOURCE_NAMES
    from ltr.features import expand_feature_names

    try:
        return expand_feature_names(args.without_features, SOURCE_NAMES)
    except ValueError as exc:
        raise CliError(str(exc)) from exc
