"""A real single-node OpenSearch 2.19 with the k-NN plugin on 127.0.0.1, without Docker.

Provisioned from Maven Central (``provision``), run as a dedicated non-root user (``node``).
See ``docs/opensearch-local.md``. Command line::

    python -m devtools.opensearch_node up|down|status [--home DIR] [--port N]
"""

from devtools.opensearch_node.distribution import default_cache, provision
from devtools.opensearch_node.model import (
    KNN_VERSION,
    OPENSEARCH_VERSION,
    NodeError,
    NodeInfo,
)
from devtools.opensearch_node.node import default_home, down, status, up

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
