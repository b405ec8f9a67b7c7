"""The OpenSearch backend: one alias over BM25 text, Lucene HNSW vectors and filter fields."""

from search_plugins.opensearch.index import IndexSetupError, OpenSearchIndex
from search_plugins.opensearch.params import OpenSearchParams

__all__ = ["IndexSetupError", "OpenSearchIndex", "OpenSearchParams"]
