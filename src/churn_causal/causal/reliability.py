"""How sure is an estimate: the E-value and a plain verdict with its reasons.

The verdict gates on the diagnostics (docs/methods.md: balance, overlap, weights, the
methods' agreement, robustness to unmeasured confounding). ``reliable`` means no gate failed,
``caution`` that one failed mildly, ``unreliable`` that the estimate should not be used.
"""

from __future__ import annotations

import itertools
import math
from typing import Any

from churn_causal import i18n

SMD_OK, SMD_BAD = 0.1, 0.25
MIN_SUPPORT, MIN_MATCHED = 0.9, 0.9
MIN_ESS, MAX_WEIGHT = 100, 50.0
MIN_E_VALUE = 1.25


def e_value(effect: dict[str, float]) -> dict[str, Any] | None:
    """E-value (VanderWeele & Ding 2017) of an effect on a risk or on a mean.

    The smallest strength (risk ratio with both treatment and outcome) an unmeasured confounder
    would need to explain the estimate away (``point``) or to move its 95% CI to include no
    effect (``ci_limit``; 1 when it already does). A risk difference goes through its risk
    ratio; a mean difference through the standardised difference d (the effect over the
    outcome's pooled SD) and the approximate risk ratio exp(0.91 d) (VanderWeele & Ding 2017,
    for outcomes about normally distributed). None where neither is defined (no baseline risk,
    or an outcome without spread).
    """
    if "risk_control" in effect:
        r0 = effect["risk_control"]
        if not r0 or r0 <= 0:
            return None
        rr, lo, hi = (1 + effect[k] / r0 for k in ("estimate", "ci_low", "ci_high"))
        via = "risk ratio"
    elif effect.get("outcome_sd"):
        sd = effect["outcome_sd"]
        rr, lo, hi = (math.exp(0.91 * effect[k] / sd) for k in ("estimate", "ci_low", "ci_high"))
        via = "standardised mean difference (risk ratio about exp(0.91 d))"
    else:
        return None

    def ev(r: float) -> float:
        r = max(r, 1e-9)
        r = 1 / r if r < 1 else r
        return r + math.sqrt(r * (r - 1))

    limit = 1.0 if lo <= 1 <= hi else ev(hi if rr < 1 else lo)
    return {"risk_ratio": rr, "point": ev(rr), "ci_limit": limit, "via": via}


def primary_method(methods: dict[str, Any], estimand: str) -> str:
    order = ("match", "iptw", "dr") if estimand == "ATT" else ("iptw", "dr")
    return next((m for m in order if m in methods), "naive")


def primary_scale(scales: dict[str, Any]) -> str:
    """The scale a method's effect is judged on: the risk difference, or for a continuous
    outcome the mean difference."""
    return "risk_difference" if "risk_difference" in scales else "mean_difference"


def verdict(result: dict[str, Any]) -> dict[str, Any]:
    """``{"level", "method", "reasons"}`` for a result dict (see ``EffectResult.to_dict``)."""
    d, methods = result["diagnostics"], result["methods"]
    method = primary_method(methods, result["estimand"])
    bad: list[str] = []
    mild: list[str] = []
    good: list[str] = []
    if method == "naive":
        bad.append(i18n.t("verdict.no_overlap"))
    smd = d.get(f"{method}_max_abs_smd")
    if smd is not None:
        text = i18n.t("verdict.smd", smd=f"{smd:.2f}")
        (bad if smd >= SMD_BAD else mild if smd >= SMD_OK else good).append(text)
    support = d["overlap"]["share_treated_in_common_support"]
    if support < MIN_SUPPORT:
        mild.append(i18n.t("verdict.support", share=f"{100 * support:.0f}"))
    if method == "match" and d.get("matched_fraction", 1) < MIN_MATCHED:
        mild.append(i18n.t("verdict.unmatched", share=f"{100 * (1 - d['matched_fraction']):.0f}"))
    if method == "iptw":
        if d["ess"]["control"] < MIN_ESS:
            mild.append(i18n.t("verdict.ess", ess=f"{d['ess']['control']:.0f}"))
        if d["max_weight"] > MAX_WEIGHT:
            mild.append(i18n.t("verdict.weights", largest=f"{d['max_weight']:.0f}"))
    adjusted = [m for m in ("match", "iptw", "dr") if m in methods]
    for a, b in itertools.combinations(adjusted, 2):
        ea, eb = methods[a][primary_scale(methods[a])], methods[b][primary_scale(methods[b])]
        if abs(ea["estimate"] - eb["estimate"]) > 1.96 * math.hypot(ea["se"], eb["se"]):
            mild.append(
                i18n.t(
                    "verdict.disagree",
                    a=i18n.t(f"verdict.method.{a}"),
                    b=i18n.t(f"verdict.method.{b}"),
                )
            )
    ev = result.get("e_value")
    if ev and ev["ci_limit"] > 1:
        label = result.get("outcome_label")
        outcome = i18n.name(label) if label else i18n.t("plots.the_outcome")
        text = i18n.t("verdict.e_value", value=f"{ev['ci_limit']:.2f}", outcome=outcome)
        (mild if ev["ci_limit"] < MIN_E_VALUE else good).append(text)
    refutation = result.get("refutation")
    if refutation:
        failed = [
            i18n.t(f"verdict.refuter.{n}")
            for n, r in refutation["refutation"].items()
            if not r["passed"]
        ]
        if failed:
            joined = i18n.t("common.comma").join(failed)
            mild.append(i18n.t("verdict.refutation_failed", failed=joined))
        else:
            good.append(i18n.t("verdict.refutation_passed"))
    level = "unreliable" if bad else "caution" if mild else "reliable"
    return {"level": level, "method": method, "reasons": bad + mild or good}
