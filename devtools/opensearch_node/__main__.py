"""``python -m devtools.opensearch_node up|down|status|kill-node|start-node``: prints JSON,
errors to stderr.

Exit codes: 0 success (``status``: running), 1 error, 3 ``status``: not running.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from devtools.opensearch_node.cluster import down, kill_node, start_node, status, up
from devtools.opensearch_node.distribution import default_cache
from devtools.opensearch_node.model import DEFAULT_HEAP, NodeError, NodeInfo
from devtools.opensearch_node.node import default_home


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="shopnow opensearch",
        description="Provision (cached) and run OpenSearch with the k-NN plugin on 127.0.0.1, "
        "one node or a local cluster (--nodes), as a non-root user, from Maven Central "
        "artifacts. kill-node SIGKILLs one member of a cluster, start-node brings it back.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("action", choices=("up", "down", "status", "kill-node", "start-node"))
    parser.add_argument("--home", type=Path, default=default_home(), help="node state dir")
    parser.add_argument("--port", type=int, default=9200, help="HTTP port; 0 picks a free one")
    parser.add_argument(
        "--nodes",
        type=int,
        help="up: members of the cluster (default 1; on a running home: whatever runs there)",
    )
    parser.add_argument(
        "--snapshots",
        type=Path,
        help="up: the snapshot repository directory (path.repo; default HOME/snapshots)",
    )
    parser.add_argument("--node", type=int, default=0, help="kill-node/start-node: which one")
    parser.add_argument("--cache", type=Path, default=default_cache(), help="download cache")
    java = os.environ.get("OPENSEARCH_JAVA_HOME") or os.environ.get("JAVA_HOME")
    parser.add_argument(
        "--java-home",
        type=Path,
        default=Path(java) if java else None,
        help="JDK 11-23 (default: $OPENSEARCH_JAVA_HOME, $JAVA_HOME, java on PATH)",
    )
    parser.add_argument("--heap", default=DEFAULT_HEAP, help="JVM -Xms/-Xmx")
    parser.add_argument("--timeout", type=float, default=180.0, help="startup wait, seconds")
    return parser


def _print(info: NodeInfo, **extra: object) -> None:
    urls = info.urls or (info.url,)
    data = {**dataclasses.asdict(info), "home": str(info.home), "url": info.url, **extra}
    data |= {"urls": ",".join(urls), "nodes": len(urls)}
    print(json.dumps(data, indent=2))


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.action == "up":
            started = time.monotonic()
            info = up(
                args.home,
                args.port,
                nodes=args.nodes,
                snapshots=args.snapshots,
                cache=args.cache,
                java_home=args.java_home,
                heap=args.heap,
                timeout=args.timeout,
            )
            _print(info, seconds=round(time.monotonic() - started, 1))
            return 0
        if args.action == "kill-node":
            pid = kill_node(args.home, args.node)
            print(json.dumps({"killed": pid, "node": args.node, "home": str(args.home)}))
            return 0
        if args.action == "start-node":
            started = time.monotonic()
            _print(
                start_node(args.home, args.node, args.timeout),
                node=args.node,
                seconds=round(time.monotonic() - started, 1),
            )
            return 0
        if args.action == "down":
            stopped = down(args.home)
            print(json.dumps({"stopped": stopped, "home": str(args.home)}))
            return 0
        found = status(args.home)
        if found is None:
            print(json.dumps({"running": False, "home": str(args.home)}))
            return 3
        _print(found)
        return 0
    except NodeError as exc:
        print(f"opensearch {args.action}: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
