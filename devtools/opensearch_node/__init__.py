"""A real OpenSearch 2.19 with the k-NN plugin on 127.0.0.1, without Docker: one node or a
local cluster of several.

Provisioned from Maven Central (``provision``), run as a dedicated non-root user (``node``),
clustered by ``cluster``. See ``docs/opensearch-local.md``. Command line::

    python -m devtools.opensearch_node up|down|status|kill-node|start-node [--home DIR]
        [--port N] [--nodes N] [--node I]
"""

from devtools.opensearch_node.cluster import down, kill_node, start_node, status, up
from devtools.opensearch_node.distribution import default_cache, provision
from devtools.opensearch_node.model import (
    KNN_VERSION,
    OPENSEARCH_VERSION,
    NodeError,
    NodeInfo,
)
from devtools.opensearch_node.node import default_home

__all__ = [
    "KNN_VERSION",
    "OPENSEARCH_VERSION",
    "NodeError",
    "NodeInfo",
    "default_cache",
    "default_home",
    "down",
    "kill_node",
    "provision",
    "start_node",
    "status",
    "up",
]
