"""A marketplace's own catalog and logs into a dataset every job reads (``shopnow import``).

The schema (:mod:`ingest.imports.schema`, documented in docs/data.md) is versioned; inputs are
JSONL, CSV or Parquet files (:mod:`ingest.imports.readers`) or an adapter's output for a known
public dataset (:mod:`ingest.imports.adapters`); rows that fail the schema go to a quarantine
file with their reason, the rest are imported (:mod:`ingest.imports.run`).
"""
