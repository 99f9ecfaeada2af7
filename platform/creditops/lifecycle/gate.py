"""The promotion gate: champion and challenger scored on the same rows, and the verdict.

Both models are scored on the frozen held-out set and on the recent window. The
gate judges on the recent window when it holds enough rows of both classes (it is
the world the model will serve), else on the held-out set. A challenger passes when
  - its ROC AUC beats the champion's by at least the margin,
  - its calibration (Brier score) is not worse, within a tolerance,
  - every feature has an importance (permutation importance on the held-out set
    that is not exactly zero in every repeat: a feature the model never uses has none),
  - its decisions are fair enough (see `fairness`): no group's approval rate is below
    the minimum ratio of the most approved group's, nor lower than the champion's
    worst ratio by more than a margin.
With no champion (the first model) the first two checks pass by default.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd

from ..features import FEATURE_NAMES, POSITIVE_CLASS, TARGET
from ..model import ModelArtifact
from .fairness import describe_worst, fairness_report, scored_frame

BEATS, CALIBRATED, IMPORTANCE, FAIR = (
    "challenger_beats_champion",
    "calibration_not_worse",
    "every_feature_has_importance",
    "approval_rates_fair",
)
CHECKS = {
    BEATS: "The challenger's ROC AUC beats the champion's by at least the margin "
    "(CREDITOPS_PROMOTION_MIN_AUC_GAIN)",
    CALIBRATED: "The challenger's Brier score is not worse than the champion's by more than "
    "CREDITOPS_PROMOTION_MAX_BRIER_INCREASE",
    IMPORTANCE: "Every feature has a permutation importance on the held-out set "
    "(a feature the model never uses has none)",
    FAIR: "No group (age band, marital status) is approved at less than "
    "CREDITOPS_FAIRNESS_MIN_RATIO of the most approved group's rate, nor at a worst ratio "
    "lower than the champion's by more than CREDITOPS_FAIRNESS_MAX_RATIO_DROP",
}
IMPORTANCE_REPEATS = 5


@dataclass(frozen=True)
class Check:
    name: str
    passed: bool
    detail: str


@dataclass
class Evaluation:
    """Scores per set and model, the importances, and the checks (plain values throughout)."""

    challenger: str
    champion: str | None
    judged_on: str
    scores: dict[str, dict[str, dict[str, float]]]  # set -> model -> metric -> value
    importances: dict[str, float]
    fairness: dict[str, dict[str, dict]]  # set -> model -> fairness report
    checks: list[Check] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return all(c.passed for c in self.checks)

    def reasons(self) -> list[str]:
        """Why it was rejected: the failed checks' details."""
        return [c.detail for c in self.checks if not c.passed]

    def to_dict(self) -> dict:
        return {**asdict(self), "passed": self.passed}


def score(scored: pd.DataFrame) -> dict[str, float]:
    """ROC AUC and Brier score of a `fairness.scored_frame`."""
    from sklearn.metrics import brier_score_loss, roc_auc_score  # see `training.evaluate`

    positive = (scored[TARGET] == POSITIVE_CLASS).to_numpy()
    probability_bad = scored["probability_bad"].to_numpy()
    return {
        "rows": float(len(scored)),
        "roc_auc": float(roc_auc_score(positive, probability_bad)),
        "brier": float(brier_score_loss(positive, probability_bad)),
    }


def importances(artifact: ModelArtifact, holdout: pd.DataFrame, seed: int) -> dict[str, float]:
    """Mean drop of ROC AUC when a feature is shuffled; NaN when it never changes anything."""
    from sklearn.inspection import permutation_importance
    from sklearn.metrics import roc_auc_score

    result = permutation_importance(
        artifact.pipeline,
        holdout[list(FEATURE_NAMES)],
        holdout[TARGET] == POSITIVE_CLASS,
        scoring=lambda model, x, y: roc_auc_score(
            y, model.predict_proba(x)[:, list(model.classes_).index(POSITIVE_CLASS)]
        ),
        n_repeats=IMPORTANCE_REPEATS,
        random_state=seed,
    )
    unused = np.all(result.importances == 0, axis=1)
    return {
        name: (float("nan") if idle else float(mean))
        for name, mean, idle in zip(FEATURE_NAMES, result.importances_mean, unused, strict=True)
    }


def _judged_set(recent: pd.DataFrame, min_rows: int) -> str:
    usable = len(recent) >= min_rows and recent[TARGET].nunique() == 2
    return "recent" if usable else "holdout"


def evaluate(
    challenger: ModelArtifact,
    champion: ModelArtifact | None,
    holdout: pd.DataFrame,
    recent: pd.DataFrame,
    *,
    min_auc_gain: float,
    max_brier_increase: float,
    recent_min_rows: int,
    seed: int,
    fairness_min_ratio: float,
    fairness_max_ratio_drop: float,
    fairness_min_group_rows: int,
) -> Evaluation:
    sets = {"holdout": holdout}
    if len(recent) and recent[TARGET].nunique() == 2:
        sets["recent"] = recent
    models = {"challenger": challenger, **({"champion": champion} if champion else {})}
    scored = {
        name: {role: scored_frame(model, frame) for role, model in models.items()}
        for name, frame in sets.items()
    }
    scores = {
        name: {role: score(f) for role, f in by_role.items()} for name, by_role in scored.items()
    }
    fairness = {
        name: {role: fairness_report(f, fairness_min_group_rows) for role, f in by_role.items()}
        for name, by_role in scored.items()
    }
    evaluation = Evaluation(
        challenger=str(challenger.version),
        champion=champion.version if champion else None,
        judged_on=_judged_set(recent, recent_min_rows),
        scores=scores,
        importances=importances(challenger, holdout, seed),
        fairness=fairness,
    )
    evaluation.checks = judge(evaluation, min_auc_gain, max_brier_increase)
    evaluation.checks.append(fair(evaluation, fairness_min_ratio, fairness_max_ratio_drop))
    return evaluation


def judge(evaluation: Evaluation, min_auc_gain: float, max_brier_increase: float) -> list[Check]:
    """The gate's checks on scores and importances, in CHECKS order."""
    on = evaluation.judged_on
    scores = evaluation.scores[on]
    new = scores["challenger"]
    missing = [n for n, v in evaluation.importances.items() if np.isnan(v)]
    importance = Check(
        IMPORTANCE,
        not missing,
        f"features without importance: {', '.join(missing)}"
        if missing
        else f"all {len(evaluation.importances)} features have an importance",
    )
    if "champion" not in scores:
        first = f"no champion yet: version {evaluation.challenger} is the first"
        return [Check(BEATS, True, first), Check(CALIBRATED, True, first), importance]
    old = scores["champion"]
    gain = new["roc_auc"] - old["roc_auc"]
    better = Check(
        BEATS,
        gain >= min_auc_gain,
        f"ROC AUC on the {on} set: challenger {new['roc_auc']:.4f}, champion "
        f"{old['roc_auc']:.4f} ({gain:+.4f}; needs {min_auc_gain:+.4f})",
    )
    drift = new["brier"] - old["brier"]
    calibrated = Check(
        CALIBRATED,
        drift <= max_brier_increase,
        f"Brier score on the {on} set: challenger {new['brier']:.4f}, champion "
        f"{old['brier']:.4f} ({drift:+.4f}; at most {max_brier_increase:+.4f})",
    )
    return [better, calibrated, importance]


def fair(evaluation: Evaluation, min_ratio: float, max_ratio_drop: float) -> Check:
    """The four-fifths rule on the judged set, and no worse than the champion by a margin."""
    on = evaluation.judged_on
    reports = evaluation.fairness[on]
    new = reports["challenger"]["worst_ratio"]
    detail = (
        f"worst approval-rate ratio on the {on} set: challenger "
        f"{describe_worst(reports['challenger'])}"
    )
    if new is None:  # no group big enough to judge: nothing to hold against it
        return Check(FAIR, True, detail)
    floor, needs = min_ratio, f"needs >= {min_ratio:.2f}"
    old = reports.get("champion", {}).get("worst_ratio")
    if old is not None:
        detail += f", champion {describe_worst(reports['champion'])}"
        floor = max(floor, old - max_ratio_drop)
        needs += f" and >= {old - max_ratio_drop:.2f} (champion's - {max_ratio_drop:.2f})"
    return Check(FAIR, new >= floor, f"{detail}; {needs}")
