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
    lines += ["", "## Libraries", "", ", ".join(f"{k} {v}" for k, v in card.get("libraries", {}).items()), ""]
    return "\n".join(lines)
