"""Reasons worded for people: a family and its strongest feature, in Chinese and English (never the raw
feature name). A negative contribution lowers the PD, so it raises the score."""

from __future__ import annotations

from ml.features import FEATURE_BY_NAME

FAMILIES = {
    "tax": ("纳税", "Tax"),
    "employment": ("用工与社保", "Employment and social insurance"),
    "utilities": ("水电气", "Utilities"),
    "public_credit": ("公共信用", "Public credit record"),
    "age_size": ("成立年限与规模", "Age and size"),
    "innovation": ("科技创新与资质", "Innovation and qualifications"),
    "environment": ("环保信用", "Environmental credit"),
    "agriculture": ("新型农业经营主体", "Agricultural operator"),
}


def reason_text(reason: dict) -> dict[str, str]:
    family_zh, family_en = FAMILIES.get(reason["family"], (reason["family"], reason["family"]))
    feature = FEATURE_BY_NAME.get(reason["feature"])
    what_zh, what_en = (feature.zh, feature.en) if feature else (family_zh, family_en.lower())
    if reason["contribution"] < 0:
        return {"zh": f"{family_zh}：{what_zh}表现良好，提升了评分", "en": f"{family_en}: {what_en} raised the score"}
    return {"zh": f"{family_zh}：{what_zh}表现欠佳，拉低了评分", "en": f"{family_en}: {what_en} lowered the score"}
