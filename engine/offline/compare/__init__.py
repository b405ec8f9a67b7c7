"""``shopnow compare``: option (a) traditional retrieval, (b) two-tower retrieval and (c) the
hybrid, each with the same ranker, measured side by side on the same held-out traffic, and a
recommendation computed from the figures against the product's constraints."""
