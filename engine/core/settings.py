"""One settings object, read once where the app or CLI is assembled, then passed down frozen."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

BodyClass = Literal["query", "rules", "events", "items"]
BODY_LIMITS: dict[BodyClass, int] = {
    "query": 64 * 1024,  # a search or feed request: a query, filters, <= 200 session items
    "rules": 256 * 1024,  # a rule with its pins, hides and synonyms
    "events": 4 * 1024 * 1024,  # <= 10,000 events
    "items": 32 * 1024 * 1024,  # <= 5,000 items with descriptions and attributes
}


class Settings(BaseSettings):
    """Engine configuration. Environment variables use the ``SHOPNOW_`` prefix."""

    model_config = SettingsConfigDict(env_prefix="SHOPNOW_", frozen=True, extra="forbid")

    data_dir: Path = Field(Path("var/data"), description="synthetic or ingested data")
    index_dir: Path = Field(Path("var/index"), description="embedded search index directory")
    model_dir: Path = Field(Path("var/models"), description="ranker artifacts")
    shared_data: Path = Field(Path("../shared/data"), description="real public datasets")
    search_backend: Literal["embedded", "opensearch"] = "embedded"
    online_store: Literal["embedded", "redis"] = "embedded"
    redis_url: str = "redis://127.0.0.1:6379/0"
    opensearch_url: str = Field(
        "http://127.0.0.1:9200",
        description="one node, or several nodes of one cluster separated by commas (a request "
        "that cannot reach one goes to the next)",
    )
    opensearch_shards: int = Field(1, ge=1, le=1024, description="primary shards of the index")
    opensearch_replicas: str = Field(
        "0-1",
        pattern=r"^(\d{1,3}|\d{1,3}-(\d{1,3}|all))$",
        description="copies of each shard: a count, or a range fitted to the cluster's size "
        "(0-1: none on one node, one from two nodes on)",
    )
    opensearch_alias: str = Field(
        "shopnow-items", pattern=r"^[a-z0-9][a-z0-9_-]*$", description="alias of the item index"
    )
    vector_dim: int = Field(64, ge=2, le=4096, description="dimension of item vectors")
    tower_text_dropout: float = Field(
        0.15,
        ge=0.0,
        lt=1.0,
        description="share of item-tower training rows without their text embedding, so ingest "
        "can index a provisional vector before the text encoder reaches a new item",
    )
    source_k: dict[str, int] = Field(
        default_factory=dict,
        description="candidates asked of a source, by source name (default: the size its "
        "registration gives, engine/serving/sources/registry.py)",
    )
    sources: tuple[str, ...] | None = Field(
        None,
        description="enabled candidate sources (default: every registered one); two_tower "
        "needs a towers model (`shopnow train-towers`), graph and bought_together a graph "
        "model (`shopnow train-graph`). Traditional only: "
        "bm25,covis,popular,trending,popular_in_context,new_arrivals,sequence",
    )
    text_cache: Path | None = Field(
        Path.home() / ".cache" / "shopnow" / "text-embeddings",
        description="content-hash cache of MiniLM text embeddings (None: in memory only)",
    )
    max_candidates: int = Field(3000, ge=1, le=20_000)
    source_deadline_ms: float = Field(40.0, gt=0)
    offline_deadline_ms: float = Field(
        10_000.0,
        gt=0,
        description="per-source deadline in offline replays (ranker training, evaluation): "
        "a busy machine changes their timings, never their candidates",
    )
    request_deadline_ms: float = Field(120.0, gt=0)
    model_poll_s: float = Field(
        30.0,
        gt=0,
        description="how often a server looks for newly published graph and towers models",
    )
    control_path: Path | None = Field(
        None,
        description="SQLite file of merchandising rules, API keys and their audit log "
        "(default: control.sqlite3 beside the data directory)",
    )
    control_url: str | None = Field(
        None,
        pattern=r"^postgres(ql)?://",
        description="a PostgreSQL database for rules, API keys and their audit log, shared by "
        "every API replica (postgresql://user@host:port/db; needs key_secret); unset: the "
        "SQLite file control_path",
    )
    rules_poll_s: float = Field(
        1.0, gt=0, description="how often a server looks for changed rules (seconds)"
    )
    admin_key: str | None = Field(
        None,
        min_length=16,
        description="bootstrap admin API key; when set, every /v1 call needs a key with the "
        "right role (client, merchandiser, admin); unset: the API is open (development). It is "
        "never stored: changing it retires the old value at the next start",
    )
    key_secret: str | None = Field(
        None,
        min_length=32,
        description="server secret of the keyed digests API keys are stored under; machines "
        "sharing one control database need the same one (unset: a file beside the control "
        "database, made on first use)",
    )
    body_limits: dict[BodyClass, int] = Field(
        default_factory=lambda: dict(BODY_LIMITS),
        description="largest request body in bytes per route class: query (search, feed, "
        "preview, keys), rules, events, items; a larger body gets 413",
    )
    rollout_fill_share: float = Field(
        0.5,
        gt=0,
        le=1,
        description="share of wall-clock time a towers rollout's index fill may take (it "
        "pauses in between so searches keep their deadlines; 1: no pause)",
    )
    towers_rollout: bool = Field(
        True,
        description="this server re-embeds the catalog into a new index generation when a "
        "towers version is published; with several servers over one OpenSearch alias, one "
        "does (the others swap the model in once the alias holds its vectors)",
    )
    ingest_stream: str | None = Field(
        None,
        description="a Redis stream (at redis_url) the server consumes catalog changes from, "
        "with consumer group shopnow-ingest; None: no stream",
    )
    ingest_dir: Path | None = Field(
        None, description="ingest log, checkpoint and dead letters (default: DATA_DIR/ingest)"
    )
    replica_dir: Path | None = Field(
        None,
        description="this server process's own state when several share one data directory "
        "(`shopnow serve --workers N` sets it): its ingest checkpoint, and on the embedded "
        "backend its copy of the index; None: one process",
    )
    ingest_poll_s: float = Field(
        0.5,
        gt=0,
        description="how often a server process looks for changes another process appended "
        "to the shared ingest log",
    )
    metrics_snapshot_s: float = Field(
        5.0,
        gt=0,
        description="with several server processes, how often each writes its metrics for "
        "the others to include in `GET /metrics` (a snapshot three times older is left out)",
    )
    ingest_capacity: int = Field(
        200_000,
        ge=1,
        description="accepted catalog changes that may wait for the index; "
        "beyond it writes get 429 with Retry-After",
    )
    ingest_batch: int = Field(1000, ge=1, description="changes applied per micro-batch")
    ingest_persist_s: float = Field(
        5.0, ge=0, description="how often the index is made durable and the log checkpointed"
    )
    ingest_wait_s: float = Field(
        5.0,
        ge=0,
        description="how long PUT/DELETE /v1/items wait for their changes to reach "
        "every source before answering 202 with them pending (0: answer once durable)",
    )
    ingest_stall_s: float = Field(
        60.0,
        gt=0,
        description="/readyz answers not ready once the ingest worker has had changes waiting "
        "this long (seconds) without applying any (a backend refusing writes, a stuck batch)",
    )
    signals_refresh_days: float = Field(
        7.0,
        gt=0,
        description="how often serving's behavioural signals (popularity, co-visitation) are "
        "rebuilt (`shopnow index`); ranker training rebuilds them as often over its window, so "
        "its features are as fresh as served ones, and never read events after a request",
    )
    new_arrivals_days: float = Field(
        3.0, gt=0, description="items younger than this are new: new_arrivals and exploration"
    )
    explore_positions: tuple[int, ...] = Field(
        (4, 11),
        description="0-based first-page feed positions kept for new items the ranker would "
        "place below the page (exploration); () turns it off",
    )
    explore_search_positions: tuple[int, ...] = Field(
        (2,),
        description="0-based first-page search positions kept for new items that carry every "
        "query word and that the ranker would place below the page; () turns it off",
    )
    brand_cap_top20: int = Field(4, ge=1)
    seller_cap_top20: int = Field(5, ge=1)
    mmr_lambda: float = Field(0.85, ge=0.0, le=1.0)
    restricted_min_support: int = Field(
        20, ge=1, description="min orders behind a seller aggregate"
    )
    feature_log_dir: Path = Field(
        Path("var/feature-log"), description="sampled serving feature vectors (JSON lines)"
    )
    feature_log_rate: float = Field(
        0.01, ge=0.0, le=1.0, description="share of requests whose features are logged"
    )
    spelling: bool = Field(
        True,
        description="correct query words the catalog does not have to the catalog word one "
        "edit away (engine/core/spelling.py)",
    )
    drift_psi_alert: float = Field(0.2, gt=0, description="PSI above this alerts")
    drift_ks_alert: float = Field(0.2, gt=0, le=1, description="KS statistic above this alerts")
    drift_min_requests: int = Field(
        30, ge=1, description="logged requests below which drift is not judged (too few)"
    )
    skew_max_mismatch: float = Field(
        0.01, ge=0, le=1, description="share of mismatched values that names a skewed feature"
    )
    gate_max_drop: float = Field(
        0.03, ge=0, le=1, description="promotion gate: NDCG@10 drop (relative) that blocks"
    )
    gate_min_requests: int = Field(
        50, ge=1, description="promotion gate: groups with fewer requests do not block"
    )
    gate_requests: int = Field(1500, ge=50, description="promotion gate: held-out requests")
    log_level: str = "INFO"

    @property
    def graph_dir(self) -> Path:
        """The served graph model (LightGCN vectors, content map, bought-together graph)."""
        return self.model_dir / "graph"

    @property
    def towers_dir(self) -> Path:
        """Versioned two-tower artifacts (``CURRENT`` names the served one)."""
        return self.model_dir / "towers"

    @property
    def towers_ranker_dir(self) -> Path:
        """Two-tower models that end at the ranker's feature time (for ranker training)."""
        return self.model_dir / "towers-ranker-window"

    @property
    def ingest_path(self) -> Path:
        return self.ingest_dir if self.ingest_dir is not None else self.data_dir / "ingest"

    @property
    def ingest_checkpoint(self) -> Path:
        """This process's checkpoint of the ingest log (see ``replica_dir``)."""
        where = self.replica_dir if self.replica_dir is not None else self.ingest_path
        return where / "ingest.checkpoint"

    @property
    def control_file(self) -> Path:
        return self.control_path or self.data_dir.parent / "control.sqlite3"

    @property
    def control_target(self) -> Path | str:
        """The control store's database: the shared PostgreSQL URL, else the SQLite file."""
        return self.control_url or self.control_file
