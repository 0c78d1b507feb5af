"""The evaluation gate: a model worse than the active one never goes live by itself.

Pure functions over plain numbers, so the rule is tested without training anything.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Scores:
    """How a model did on the held-out split (per-intent F1 falls back to cross-validation for
    intents with no held-out sentence, so a tiny intent cannot hide)."""

    accuracy: float
    macro_f1: float
    per_intent_f1: Mapping[str, float] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class GateRules:
    """``nlu.gate_margin`` and ``nlu.gate_intent_f1_floor``."""

    margin: float = 0.02
    intent_f1_floor: float = 0.3


@dataclass(frozen=True, slots=True)
class Verdict:
    passed: bool
    reasons: tuple[str, ...] = ()

    @property
    def reason(self) -> str:
        return "; ".join(self.reasons)


def judge(candidate: Scores, active: Scores | None, rules: GateRules) -> Verdict:
    """Refuse when accuracy or macro-F1 fall below the active model's by more than the margin,
    or when any intent's F1 is under the floor. Reasons are for the admin (Bahasa Indonesia)."""
    reasons: list[str] = []
    if active is not None:
        for label, new, old in (("akurasi", candidate.accuracy, active.accuracy),
                                ("macro-F1", candidate.macro_f1, active.macro_f1)):
            if new < old - rules.margin:
                reasons.append(f"{label} {new:.3f} lebih rendah dari model aktif {old:.3f} "
                               f"(selisih lebih dari {rules.margin:.2f})")
    low = sorted((f1, intent) for intent, f1 in candidate.per_intent_f1.items() if f1 < rules.intent_f1_floor)
    if low:
        listed = ", ".join(f"{intent} {f1:.2f}" for f1, intent in low[:8])
        more = f" dan {len(low) - 8} lagi" if len(low) > 8 else ""
        reasons.append(f"F1 intent di bawah batas {rules.intent_f1_floor:.2f}: {listed}{more}")
    return Verdict(not reasons, tuple(reasons))
