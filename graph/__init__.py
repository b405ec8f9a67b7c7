"""Graph candidates: LightGCN on the user-item graph, item-item co-interaction graphs, and the
inductive map that places new items in graph space."""
