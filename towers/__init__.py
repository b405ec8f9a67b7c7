"""Two-tower retrieval: one learned model for the feed and search (issue 4).

Serving entry points: :func:`towers.artifact.load_artifact` returns a
:class:`towers.artifact.TowersArtifact` (``version``, ``item_vectors``, ``query_vector``,
``encode_query``); text goes through :class:`towers.text.TextEncoder`. Training:
:func:`towers.train.train`. See docs/towers.md.
"""
