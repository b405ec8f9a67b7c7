"""The embedded (in-process, no servers) search backend: tantivy BM25 + faiss HNSW + numpy."""

from search_plugins.embedded.index import EmbeddedIndex
from search_plugins.embedded.params import EmbeddedParams
from search_plugins.embedded.vectors import HnswParams

__all__ = ["EmbeddedIndex", "EmbeddedParams", "HnswParams"]
