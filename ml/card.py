"""The model card as Markdown (`card.md` beside `card.json`): what a reviewer reads before promotion."""

from __future__ import annotations


def _f(value, digits: int = 3) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def _window(name: str, window: dict) -> str:
    return (f"| {name} | {window['from']} … {window['to']} | {window['loans']:,} | {window['defaults']:,} | "
            f"{window['default_rate']:.2%} |")


def markdown(card: dict) -> str:
    m, base = card.get("metrics", {}), card.get("baseline", {})
    lines = [f"# Whitelist model {card.get('version', '')}", "",
             f"Trained {card.get('trained_at', '')}. {card.get('label', '')}.", "",
             f"As of: {card.get('as_of_rule', '')}.", ""]
    if window := card.get("data_window"):
        lines += ["## Data window", "", "| part | disbursed | loans | defaults | default rate |", "|---|---|---|---|---|",
                  _window("training", window["training"]), _window("out-of-time holdout", window["holdout"]), ""]
    if m:
        lines += ["## Out-of-time holdout", "", "| | LightGBM | WOE scorecard | lift |", "|---|---|---|---|"]
        bm, lift = base.get("metrics", {}), base.get("lift", {})
        for key, label in (("auc", "AUC"), ("ks", "KS"), ("brier", "Brier"), ("ece", "ECE")):
            lines.append(f"| {label} | {_f(m.get(key), 4)} | {_f(bm.get(key), 4)} | {_f(lift.get(key), 4)} |")
        lines += ["", f"Baseline: {base.get('model', '')}. Lift in Brier is the baseline's minus LightGBM's.", "",
                  "### Calibration (equal-count bins of predicted PD)", "",
                  "| bin | rows | PD range | mean predicted | observed |", "|---|---|---|---|---|"]
        lines += [f"| {r['bin']} | {r['rows']} | {r['pd_from']:.4f}–{r['pd_to']:.4f} | {r['predicted']:.4f} | "
                  f"{r['observed']:.4f} |" for r in m.get("calibration", [])]
        psi = m.get("psi", {})
        shifted = sorted(psi.get("features", {}).items(), key=lambda item: -item[1])[:8]
        lines += ["", f"PSI of the score, holdout vs training: {_f(psi.get('score'), 4)}. Largest feature PSI: "
                  + ", ".join(f"{k} {v:.3f}" for k, v in shifted) + ".", ""]
    if quality := card.get("demo_quality"):
        lines += ["## Quality bars (demo population)", "",
                  "The demo generator knows every loan's true probability of default; on the same out-of-time "
                  f"holdout loans ({quality['holdout_loans']:,}, {quality['holdout_defaults']:,} defaults):", "",
                  "| | measured | bar | met |", "|---|---|---|---|",
                  f"| AUC of the model | {quality['model_auc']:.4f} | | |",
                  f"| AUC of the true PD | {quality['true_pd_auc']:.4f} | | |",
                  f"| gap | {quality['auc_gap']:+.4f} | ≤ {quality['auc_gap_bar']} | "
                  f"{'yes' if quality['auc_gap_met'] else 'NO'} |",
                  f"| expected calibration error | {quality['ece']:.4f} | < {quality['ece_bar']} | "
                  f"{'yes' if quality['ece_met'] else 'NO'} |", ""]
    if (lift := card.get("source_lift")) and lift.get("auc_without") is not None:
        lines += ["## What the later sources add", "",
                  "The same LightGBM settings refitted without the features of "
                  + ", ".join(lift["sources"]) + f" ({len(lift['features'])} features), on the same out-of-time loans:",
                  "", "| | with them | without them | gain |", "|---|---|---|---|",
                  f"| AUC | {lift['auc_with']:.4f} | {lift['auc_without']:.4f} | {lift['auc_gain']:+.4f} |",
                  f"| KS | {lift['ks_with']:.4f} | {lift['ks_without']:.4f} | {lift['ks_gain']:+.4f} |", "",
                  "They add lift." if lift["adds_lift"] else "They add no lift on these loans.", ""]
    elif lift:
        lines += ["## What the later sources add", "", f"Not measured: {lift.get('note', '')}.", ""]
    if scaling := card.get("scaling"):
        lines += ["## Scorecard scaling", "",
                  f"points = {scaling['base_points']} + {scaling['pdo']}/ln 2 × ln(odds / {scaling['base_odds']}), "
                  f"odds = (1 − PD) / PD: {scaling['base_points']} points at odds {scaling['base_odds']}:1, "
                  f"{scaling['pdo']} points to double the odds.", "",
                  "| grade | from points |", "|---|---|"]
        lines += [f"| {grade} | {low} |" for grade, low in scaling.get("grades", [])]
        lines.append("")
    lines += ["## Model", "", f"Best iteration {card.get('best_iteration')}; calibration "
              f"{card.get('calibration', {}).get('kind')} on the latest fifth of the training window (also used for "
              "early stopping). Distributed training: " + ("yes (lightgbm.dask)" if card.get("distributed") else "no")
              + ".", "", "Parameters: " + ", ".join(f"{k}={v}" for k, v in sorted(card.get("params", {}).items())), "",
              "## Features (by gain)", "", "| feature | family | 中文 | monotone | missing | gain |",
              "|---|---|---|---|---|---|"]
    listed = card.get("features") or [{"name": n, "monotone": card.get("monotone_constraints", {}).get(n, 0)}
                                      for n in card.get("features_in_order", [])]
    for f in listed:
        direction = {1: "↑ PD", -1: "↓ PD"}.get(f.get("monotone"), "")
        lines.append(f"| {f['name']} | {f.get('family') or ''} | {f.get('zh', '')} | {direction} | "
                     f"{f.get('missing_share', 0):.1%} | {f.get('gain', 0):.0f} |")
    lines += committee_markdown(card.get("committee"))
    lines += ["", "## Libraries", "", ", ".join(f"{k} {v}" for k, v in card.get("libraries", {}).items()), ""]
    return "\n".join(lines)


def _p(value) -> str:
    return "—" if value is None else f"{value:.2%}"


def committee_markdown(c: dict | None) -> list[str]:
    if not c:
        return []
    lines = ["", "## Discrimination: train, test, out of time", "",
             "AUC: the chance that a defaulter scores worse than a non-defaulter; Gini = 2 × AUC − 1; KS: the "
             "largest gap between the two groups' cumulative score distributions. The three rows differ because "
             "they are measured on different loans: the fitting rows flatter the model, the out-of-fold figure is "
             "what its settings were chosen on, and the out-of-time holdout is the one to judge it by.", "",
             "| part | loans | AUC | Gini | KS | what it is |", "|---|---|---|---|---|---|"]
    for r in c["discrimination"]:
        lines.append(f"| {r['part']} | {r['rows'] if r['rows'] is not None else '—'} | {_f(r['auc'], 4)} | "
                     f"{_f(r['gini'], 4)} | {_f(r['ks'], 4)} | {r['note']} |")
    lines += ["", "## KS and lift by score band (out of time, equal-count bands, worst first)", "",
              "Bad rate: defaults ÷ loans in the band; odds: non-defaults per default; cumulative capture: the "
              "share of all defaults found in this band and the worse ones.", "",
              "| band | points | loans | bads | bad rate | odds | cumulative capture | KS |",
              "|---|---|---|---|---|---|---|---|"]
    for r in c["lift"]:
        lines.append(f"| {r['band']} | {r['score_from']}–{r['score_to']} | {r['count']} | {r['bads']} | "
                     f"{_p(r['bad_rate'])} | {_f(r['odds'], 1)} | {_p(r['cumulative_capture'])} | {_f(r['ks'], 3)} |")
    lines += ["", "## Score distribution by grade", "", "| grade | from points | training | out of time |",
              "|---|---|---|---|"]
    for a, b in zip(c["distribution"]["train"], c["distribution"]["out_of_time"], strict=True):
        lines.append(f"| {a['grade']} | {a['from'] if a['from'] is not None else '—'} | {a['count']} ({_p(a['share'])}) "
                     f"| {b['count']} ({_p(b['share'])}) |")
    lines += ["", "## Score to PD", "", "| points | good:bad odds | PD |", "|---|---|---|"]
    lines += [f"| {r['points']} | {r['odds']:.1f} | {_p(r['pd'])} |" for r in c["mapping"]]
    psi = c["psi"]
    lines += ["", f"## Stability (PSI, out of time vs training; watch ≥ {psi['watch']}, act ≥ {psi['act']})", "",
              f"Score PSI {_f(psi['score'], 4)}: {psi['score_status']}.", "", "| feature | PSI | status |", "|---|---|---|"]
    lines += [f"| {r['name']} | {r['psi']:.4f} | {r['status']} |" for r in psi["features"][:15]]
    lines += ["", "## Proposed cut-offs (out of time)", "",
              "For each grade's lowest points as the whitelist threshold: the share of enterprises that would pass, "
              "the bad rate the model expects among them (their mean PD) and the bad rate they showed.", "",
              "| threshold grade | from points | approval rate | approved | expected bad rate | observed bad rate |",
              "|---|---|---|---|---|---|"]
    lines += [f"| {r['grade']} | {r['cutoff']} | {_p(r['approval_rate'])} | {r['approved']} | "
              f"{_p(r['expected_bad_rate'])} | {_p(r['observed_bad_rate'])} |" for r in c["cutoffs"]]
    lines += ["", "## Reason codes", "", "Each score names the families that moved it most (LightGBM pred_contrib, or "
              "coefficient × WOE for the scorecard), worded for the enterprise:", ""]
    lines += [f"- {r['family']}: {r['zh']} / {r['en']}" for r in c["reason_codes"]]
    lines += ["", "## Known limits", ""] + [f"- {text}" for text in c["known_limits"]]
    lines += ["", "## Sign-off", "", "Promotions are recorded in the audit log (action model_promoted) and listed on "
              "the version's admin page.", "", "| role | name | date | decision |", "|---|---|---|---|",
              "| model developer | | | |", "| model validator | | | |", "| credit committee | | | |"]
    return lines


# ---------------------------------------------------------------- the credit committee's tables

PSI_WATCH, PSI_ACT = 0.10, 0.25
BANDS = 10
KNOWN_LIMITS = (
    "Trained on disbursed loans only: enterprises that were declined or never applied have no outcome, so the "
    "score is least certain for the kinds of enterprise the banks have not lent to (reject inference is not done).",
    "The out-of-time holdout is the last three months of disbursements whose twelve months have passed; a small "
    "district has few defaults in it, and its AUC moves by several hundredths from one window to the next.",
    "Features come from monthly deliveries; an enterprise whose data are late or missing is scored on what has "
    "arrived (missing values are learned as such), not on what is true.",
    "The score ranks and estimates the probability of 90+ days past due within 12 months; it says nothing about "
    "loss given default or the amount a bank should lend.",
    "Monotone constraints hold the direction of each feature where one is known; the model does not find "
    "effects the other way even if the data would show them.",
)


def psi_status(value: float | None) -> str:
    if value is None or value != value:
        return "—"
    return "act" if value >= PSI_ACT else "watch" if value >= PSI_WATCH else "stable"


def lift_table(labels, score_points, bands: int = BANDS) -> list[dict]:
    """Equal-count score bands, worst first: count, bads, bad rate, good:bad odds, the share of all bads
    captured from the worst band down to this one, and the KS at the band's edge."""
    import numpy as np
    import pandas as pd

    frame = pd.DataFrame({"y": np.asarray(labels, dtype=int), "s": np.asarray(score_points, dtype=float)})
    frame["band"] = pd.qcut(frame.s.rank(method="first"), min(bands, len(frame)), labels=False)
    total_bad, total_good = frame.y.sum(), (1 - frame.y).sum()
    rows, bads_so_far, goods_so_far = [], 0, 0
    for band, part in frame.groupby("band"):
        bads, count = int(part.y.sum()), int(len(part))
        bads_so_far += bads
        goods_so_far += count - bads
        rows.append({"band": int(band) + 1, "score_from": int(part.s.min()), "score_to": int(part.s.max()),
                     "count": count, "bads": bads, "bad_rate": bads / count,
                     "odds": (count - bads) / bads if bads else None,
                     "cumulative_capture": bads_so_far / total_bad if total_bad else None,
                     "ks": abs(bads_so_far / total_bad - goods_so_far / total_good) if total_bad and total_good else None})
    return rows


def cutoff_table(labels, score_points, probabilities, grades: list) -> list[dict]:
    """For each grade's lowest points as the whitelist cut-off: the share approved, the expected bad rate of
    those approved (their mean PD) and the bad rate they showed."""
    import numpy as np

    y, s, p = (np.asarray(v, dtype=float) for v in (labels, score_points, probabilities))
    rows = []
    for grade, floor in grades:
        if floor is None:
            continue
        approved = s >= floor
        rows.append({"grade": grade, "cutoff": int(floor), "approval_rate": float(approved.mean()),
                     "approved": int(approved.sum()),
                     "expected_bad_rate": float(p[approved].mean()) if approved.any() else None,
                     "observed_bad_rate": float(y[approved].mean()) if approved.any() else None})
    return rows


def distribution(score_points, grades: list) -> list[dict]:
    """Count and share of scores in each grade band, best first."""
    import numpy as np

    s = np.asarray(score_points, dtype=float)
    out, upper = [], None
    for grade, floor in grades:
        inside = (s >= (floor if floor is not None else -np.inf)) & (s < (upper if upper is not None else np.inf))
        out.append({"grade": grade, "from": floor, "count": int(inside.sum()), "share": float(inside.mean())})
        upper = floor
    return out


def committee(model, loans, features, scaling: dict) -> dict:
    """What a credit committee reads: discrimination on train / test (out-of-fold CV) / out of time, the KS
    and lift table, score distribution, the score-to-PD mapping, PSI with its triggers, the cut-off table,
    reason codes and known limits. `loans` carries the `holdout` flag of the training run."""
    import math

    import numpy as np

    from ml import metrics
    from ml.reasons import FAMILIES
    from ml.score import points

    holdout = loans.holdout.to_numpy()
    y = loans.defaulted.to_numpy()
    pd_train, pd_oot = model.predict_proba(features[~holdout]), model.predict_proba(features[holdout])
    pts_train, pts_oot = points(pd_train, scaling), points(pd_oot, scaling)
    search = model.card.get("search") or {}

    def part(name, labels, scores, note):
        auc = metrics.auc(labels, scores) if scores is not None else search.get("cv_auc")
        return {"part": name, "rows": int(len(labels)) if labels is not None else search.get("rows"),
                "auc": auc, "gini": 2 * auc - 1 if auc is not None else None,
                "ks": metrics.ks(labels, scores) if scores is not None else None, "note": note}

    grades = scaling["grades"]
    factor = scaling["pdo"] / math.log(2)
    mapping = [{"points": int(p), "odds": float(scaling["base_odds"] * 2 ** ((p - scaling["base_points"]) / scaling["pdo"])),
                "pd": float(1 / (1 + scaling["base_odds"] * math.exp((p - scaling["base_points"]) / factor)))}
               for p in range(440, 761, 40)]
    psi = (model.card.get("metrics") or {}).get("psi") or {}
    return {
        "discrimination": [
            part("train", y[~holdout], pd_train, "the fitting rows themselves (optimistic)"),
            part("test", None, None, "out-of-fold cross-validation on the fitting rows (what the settings were "
                                     "chosen on)"),
            part("out of time", y[holdout], pd_oot, "the last months of disbursements, never seen in fitting "
                                                    "(the figure to judge by)")],
        "lift": lift_table(y[holdout], pts_oot),
        "distribution": {"train": distribution(pts_train, grades), "out_of_time": distribution(pts_oot, grades)},
        "mapping": mapping,
        "psi": {"score": psi.get("score"), "score_status": psi_status(psi.get("score")),
                "features": sorted(({"name": k, "psi": v, "status": psi_status(v)}
                                    for k, v in (psi.get("features") or {}).items()), key=lambda r: -r["psi"]),
                "watch": PSI_WATCH, "act": PSI_ACT},
        "cutoffs": cutoff_table(y[holdout], pts_oot, pd_oot, grades),
        "reason_codes": [{"family": k, "zh": zh, "en": en} for k, (zh, en) in FAMILIES.items()],
        "known_limits": list(KNOWN_LIMITS),
        "holdout_mean_pd": float(np.mean(pd_oot)),
    }
