"""A real single-node OpenSearch 2.19 with the k-NN plugin on 127.0.0.1, without Docker.

Provisioned from Maven Central (``provision``), run as a dedicated non-root user (``node``).
See ``docs/opensearch-local.md``. Command line::

    python -m search_plugins.opensearch_node up|down|status [--home DIR] [--port N]
"""

from search_plugins.opensearch_node.distribution import default_cache, provision
from search_plugins.opensearch_node.model import (
    KNN_VERSION,
    OPENSEARCH_VERSION,
    NodeError,
    NodeInfo,
)
from search_plugins.opensearch_node.node import default_home, down, status, up

__all__ = [
    "KNN_VERSION",
    "OPENSEARCH_VERSION",
    "NodeError",
    "NodeInfo",
    "default_cache",
    "default_home",
    "down",
    "provision",
    "status",
    "up",
]
