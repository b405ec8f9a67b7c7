"""Live drift of what the engine serves: the ranker's features and the towers' query vectors
logged recently, against the references saved with the served models."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from engine.core.pipeline.spec import PipelineSpec
from engine.core.settings import Settings
from engine.serving.drift import Reference, drift_report
from engine.serving.feature_log import FeatureLog
from engine.serving.tower_drift import OutputReference, load_output_reference, output_drift

if TYPE_CHECKING:
    from towers.serving import TowerServing


class DriftWatch:
    def __init__(
        self,
        settings: Settings,
        spec: PipelineSpec,
        feature_log: FeatureLog,
        reference: Reference | None,
        towers: TowerServing | None,
    ) -> None:
        self.settings = settings
        self.spec = spec
        self.feature_log = feature_log
        self.reference = reference  # the served ranker's drift reference, when it has one
        self.output_reference = _output_reference(towers)  # the served towers' one

    def towers_swapped(self, towers: TowerServing) -> None:
        self.output_reference = _output_reference(towers)

    def ranker(self, min_rows: int = 200) -> dict[str, Any] | None:
        """Drift of the rows logged recently (in memory) against the served ranker's
        reference; None without a reference or with fewer than ``min_rows`` rows."""
        ref, recent = self.reference, self.feature_log.recent
        ranker = getattr(self.spec.scorer, "version", None)
        if ref is None or not recent:
            return None
        rows = [r for r in recent if r[0] == ranker]
        if sum(len(r[3]) for r in rows) < min_rows:
            return None
        idx = {n: j for j, n in enumerate(rows[0][1])}
        values = np.concatenate([r[2] for r in rows])
        cols = np.full((len(values), len(ref.feature_names)), np.nan, np.float32)
        for j, n in enumerate(ref.feature_names):
            if n in idx:
                cols[:, j] = values[:, idx[n]]
        return drift_report(
            ref,
            ref.feature_names,
            cols,
            np.concatenate([r[3] for r in rows]),
            self.spec.source_names,
            np.concatenate([r[4] for r in rows]),
            psi_alert=self.settings.drift_psi_alert,
            ks_alert=self.settings.drift_ks_alert,
        )

    def towers(self, min_rows: int = 50) -> dict[str, Any] | None:
        """Drift of the served towers' recent query vectors (in memory) against their
        training window; None without a reference or with fewer than ``min_rows`` vectors."""
        ref = self.output_reference
        if ref is None:
            return None
        vecs = [q for model, q in self.feature_log.recent_queries if model == ref.model]
        if len(vecs) < min_rows:
            return None
        return output_drift(ref, np.stack(vecs), psi_alert=self.settings.drift_psi_alert)


def _output_reference(towers: TowerServing | None) -> OutputReference | None:
    return None if towers is None else load_output_reference(towers.artifact_dir)
