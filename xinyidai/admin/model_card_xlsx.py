"""The model card as a workbook (openpyxl) for the credit committee: one sheet per table of the card."""

from __future__ import annotations

from io import BytesIO

from openpyxl import Workbook
from openpyxl.styles import Font


def _sheet(book: Workbook, title: str, header: list[str], rows: list[list], note: str | None = None) -> None:
    sheet = book.create_sheet(title)
    if note:
        sheet.append([note])
        sheet.append([])
    sheet.append(header)
    for cell in sheet[sheet.max_row]:
        cell.font = Font(bold=True)
    for row in rows:
        sheet.append(row)
    for column in sheet.columns:
        sheet.column_dimensions[column[0].column_letter].width = 18


def workbook(version: str, card: dict, sign_offs: list) -> bytes:
    book = Workbook()
    summary = book.active
    summary.title = "Summary"
    window = card.get("data_window") or {}
    summary.append(["Model version", version])
    summary.append(["Kind", "WOE scorecard" if card.get("model_kind") == "woe_scorecard" else "LightGBM"])
    summary.append(["Bad definition", card.get("label", "")])
    summary.append(["Features as of", card.get("as_of_rule", "")])
    for part in ("training", "holdout"):
        if w := window.get(part):
            summary.append([f"{part} window", f"{w['from']} … {w['to']}", w["loans"], w["defaults"], w["default_rate"]])
    if scaling := card.get("scaling"):
        summary.append(["Scaling", f"{scaling['base_points']} points at odds {scaling['base_odds']}:1, "
                                   f"{scaling['pdo']} points to double the odds (PDO)"])
    c = card.get("committee") or {}
    if c:
        _sheet(book, "Discrimination", ["part", "loans", "AUC", "Gini", "KS", "what it is"],
               [[r["part"], r["rows"], r["auc"], r["gini"], r["ks"], r["note"]] for r in c["discrimination"]])
        _sheet(book, "KS and lift", ["band", "points from", "points to", "loans", "bads", "bad rate", "odds",
                                     "cumulative capture", "KS"],
               [[r["band"], r["score_from"], r["score_to"], r["count"], r["bads"], r["bad_rate"], r["odds"],
                 r["cumulative_capture"], r["ks"]] for r in c["lift"]],
               "Out of time, equal-count score bands, worst first")
        _sheet(book, "Distribution", ["grade", "from points", "training", "training share", "out of time",
                                      "out-of-time share"],
               [[a["grade"], a["from"], a["count"], a["share"], b["count"], b["share"]]
                for a, b in zip(c["distribution"]["train"], c["distribution"]["out_of_time"], strict=True)])
        _sheet(book, "Score to PD", ["points", "good:bad odds", "PD"],
               [[r["points"], r["odds"], r["pd"]] for r in c["mapping"]])
        psi = c["psi"]
        _sheet(book, "PSI", ["feature", "PSI", "status"],
               [["(score)", psi["score"], psi["score_status"]]] + [[r["name"], r["psi"], r["status"]]
                                                                  for r in psi["features"]],
               f"Out of time vs training; watch ≥ {psi['watch']}, act ≥ {psi['act']}")
        _sheet(book, "Cut-offs", ["threshold grade", "from points", "approval rate", "approved",
                                  "expected bad rate", "observed bad rate"],
               [[r["grade"], r["cutoff"], r["approval_rate"], r["approved"], r["expected_bad_rate"],
                 r["observed_bad_rate"]] for r in c["cutoffs"]],
               "What offices use to set the whitelist threshold")
        _sheet(book, "Known limits", ["limit"], [[text] for text in c["known_limits"]])
    _sheet(book, "Features", ["feature", "family", "中文", "monotone", "missing share", "importance"],
           [[f.get("name"), f.get("family"), f.get("zh"), f.get("monotone"), f.get("missing_share"), f.get("gain")]
            for f in card.get("features") or []])
    _sheet(book, "Sign-off", ["when (UTC)", "action", "who", "channel", "became active", "replaced"],
           [[s.at.strftime("%Y-%m-%d %H:%M"), s.action, s.who, s.channel, "yes" if s.replaced_by_this else "no",
             s.replaced or ""] for s in sign_offs])
    out = BytesIO()
    book.save(out)
    return out.getvalue()
