"""Versioned ranker artifacts: the LightGBM model plus what it needs to be served and audited."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import lightgbm as lgb
from pydantic import BaseModel, ConfigDict

CURRENT = "CURRENT"
#: the model of anonymous requests (segment 0), beside ``model.txt`` when training kept one
ANONYMOUS_FILE = "anonymous.txt"


class RankerMeta(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    version: str
    created_at: datetime
    feature_names: list[str]
    source_names: list[str]
    train_window: tuple[float, float]  # unix seconds of the logged requests used
    n_requests: int
    n_rows: int
    params: dict[str, float | int | str]
    metrics: dict[str, float]
    lightgbm_version: str


class RankerArtifact:
    """The LightGBM model of every request, and ``anonymous``: one of anonymous requests only,
    when training found it better for them than the model of every request (see
    :func:`ltr.train.train_ranker`)."""

    def __init__(
        self,
        booster: lgb.Booster,
        meta: RankerMeta,
        path: Path | None = None,
        anonymous: lgb.Booster | None = None,
    ) -> None:
        self.booster = booster
        self.meta = meta
        self.path = path  # the artifact directory, once saved or loaded
        self.anonymous = anonymous

    @property
    def version(self) -> str:
        return self.meta.version

    def save(self, model_dir: Path, *, publish: bool = True) -> Path:
        """Write ``<model_dir>/ranker/<version>/``; ``publish``: point ``CURRENT`` at it."""
        out = model_dir / "ranker" / self.meta.version
        out.mkdir(parents=True, exist_ok=True)
        self.booster.save_model(str(out / "model.txt"))
        if self.anonymous is not None:
            self.anonymous.save_model(str(out / ANONYMOUS_FILE))
        (out / "meta.json").write_text(self.meta.model_dump_json(indent=2))
        self.path = out
        if publish:
            self.publish(model_dir)
        return out

    def publish(self, model_dir: Path) -> None:
        """Point ``CURRENT`` at this (saved) version, atomically: serving loads it next."""
        base = model_dir / "ranker"
        tmp = base / f".{CURRENT}.tmp"
        tmp.write_text(self.meta.version)
        os.replace(tmp, base / CURRENT)

    @staticmethod
    def load(model_dir: Path, version: str | None = None) -> RankerArtifact:
        base = model_dir / "ranker"
        if version is None:
            pointer = base / CURRENT
            if not pointer.is_file():
                raise FileNotFoundError(f"no ranker artifact under {base} (run `shopnow train`)")
            version = pointer.read_text().strip()
        path = base / version
        if not (path / "model.txt").is_file() or not (path / "meta.json").is_file():
            raise FileNotFoundError(f"ranker artifact {path} is incomplete")
        meta = RankerMeta.model_validate_json((path / "meta.json").read_text())
        anonymous = path / ANONYMOUS_FILE
        return RankerArtifact(
            lgb.Booster(model_file=str(path / "model.txt")),
            meta,
            path,
            lgb.Booster(model_file=str(anonymous)) if anonymous.is_file() else None,
        )


def new_version(now: datetime | None = None) -> str:
    now = now or datetime.now(UTC)
    return "ranker-" + now.strftime("%Y%m%dT%H%M%S%f")
