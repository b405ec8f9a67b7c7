"""Prometheus metrics of one engine (its own registry, so tests and several engines in one
process never share counters). ``GET /metrics`` serves :meth:`Metrics.render`."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

#: Freshness buckets (seconds): the product limit is 600 s, the target a few seconds.
FRESHNESS_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 300.0, 600.0)
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.02, 0.04, 0.08, 0.15, 0.3, 1.0)


class Metrics:
    def __init__(self) -> None:
        r = self.registry = CollectorRegistry()
        self.request_seconds = Histogram(
            "shopnow_request_seconds",
            "Time to answer a ranking request, by surface",
            ["surface"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.stage_seconds = Histogram(
            "shopnow_stage_seconds",
            "Time spent in each pipeline stage, by surface",
            ["surface", "stage"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.degraded = Counter(
            "shopnow_degraded_responses",
            "Responses that lost a source or fell back, by surface",
            ["surface"],
            registry=r,
        )
        self.freshness = Histogram(
            "shopnow_freshness_seconds",
            "From acceptance of an item change to its eligibility, by candidate source",
            ["source"],
            buckets=FRESHNESS_BUCKETS,
            registry=r,
        )
        self.ingest_stage_seconds = Histogram(
            "shopnow_ingest_stage_seconds",
            "Time per ingest micro-batch in each stage (validation and catalog, item tower, "
            "graph, index bulk write, index refresh)",
            ["stage"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.ingested = Counter(
            "shopnow_ingested_changes",
            "Catalog changes taken from the ingest log, by outcome (applied, stale, failed, "
            "dead_letter: malformed, kept in the dead-letter file with the reason)",
            ["outcome"],
            registry=r,
        )
        self.ingest_poison = Counter(
            "shopnow_ingest_poison_records",
            "Ingest-log records moved to the dead letters because applying them kept failing "
            "(poison records; also counted as dead_letter in shopnow_ingested_changes)",
            registry=r,
        )
        self.ingest_lag = Gauge(
            "shopnow_ingest_lag_changes", "Accepted changes not yet applied", registry=r
        )
        self.ingest_lag_seconds = Gauge(
            "shopnow_ingest_lag_seconds",
            "Age of the oldest accepted change not yet applied (0 when none)",
            registry=r,
        )
        self.ingest_unpersisted = Gauge(
            "shopnow_ingest_unpersisted_changes",
            "Applied changes not yet behind the durable checkpoint",
            registry=r,
        )
        self.vectors_owed = Gauge(
            "shopnow_vectors_owed",
            "Items served with a provisional vector, their full vector still owed by the lane",
            registry=r,
        )
        self.vectors_owed_seconds = Gauge(
            "shopnow_vectors_owed_seconds",
            "Age of the oldest owed full vector (0 when none)",
            registry=r,
        )
        self.priors_waiting = Gauge(
            "shopnow_cold_start_priors_waiting",
            "New items whose cold-start prior waits for the online store to come back",
            registry=r,
        )
        self.item_vectors = Gauge(
            "shopnow_item_vectors",
            "Live items by the state of their vector of the served towers model",
            ["state"],
            registry=r,
        )
        self.item_vector_age = Gauge(
            "shopnow_item_vector_age_seconds",
            "Age of the served towers model's item vectors (since computed), by quantile",
            ["quantile"],
            registry=r,
        )
        self.features_logged = Gauge(
            "shopnow_feature_log_records",
            "Requests whose feature vectors were logged since start",
            registry=r,
        )
        self.feature_psi = Gauge(
            "shopnow_feature_psi",
            "PSI of each ranker feature, recent logged rows against the training window",
            ["feature"],
            registry=r,
        )
        self.score_psi = Gauge(
            "shopnow_score_psi", "PSI of the ranker's scores, recent against training", registry=r
        )
        self.source_mix_psi = Gauge(
            "shopnow_source_mix_psi",
            "PSI of the candidate-source mix, recent against training",
            registry=r,
        )
        self.towers_output_psi = Gauge(
            "shopnow_towers_output_psi",
            "Mean PSI over the dimensions of the query tower's outputs, recent requests against "
            "the end of the towers' training window",
            ["model"],
            registry=r,
        )
        self.drift_alerts = Gauge(
            "shopnow_drift_alerts",
            "Features, score, source mix and towers outputs over the drift thresholds (recent)",
            registry=r,
        )
        self.events = Counter(
            "shopnow_events", "Behaviour events accepted, by type", ["type"], registry=r
        )
        self.events_spooled = Gauge(
            "shopnow_events_spooled",
            "Accepted events whose online-store writes wait in this process for the store",
            registry=r,
        )
        self.events_dropped = Counter(
            "shopnow_events_dropped",
            "Accepted events whose store writes were given up (the process stopped first)",
            registry=r,
        )

    def render(self) -> bytes:
        out: bytes = generate_latest(self.registry)
        return out
