"""How the portal words codes for people: purposes, gates, score reasons and improvement advice.

Stored values stay Chinese words (purpose, contact preference: what a bank officer reads in its pipeline);
the English comes from the catalogue when the page is rendered.
"""

from __future__ import annotations

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from models.lending import GuaranteeType, Urgency
from models.sources import PublicCreditKind, Severity
from xinyidai.i18n import Bilingual
from xinyidai.ingest.sources import SOURCES

# The same words the demo data uses, so a bank officer reads one vocabulary.
PURPOSES = {
    "流动资金周转": _l("流动资金周转"),
    "采购原材料": _l("采购原材料"),
    "设备购置": _l("设备购置"),
    "研发投入": _l("研发投入"),
    "扩大生产经营": _l("扩大生产经营"),
    "支付工资": _l("支付工资"),
    "订单融资": _l("订单融资"),
}
CONTACT_PREFERENCES = {"电话": _l("电话"), "线上": _l("线上"), "上门": _l("上门")}
URGENCY = {Urgency.LOW: _l("不急"), Urgency.NORMAL: _l("常规"), Urgency.HIGH: _l("紧急")}
GUARANTEES = {
    GuaranteeType.CREDIT: _l("信用（无抵押）"),
    GuaranteeType.MORTGAGE: _l("抵押"),
    GuaranteeType.SURETY: _l("保证"),
    GuaranteeType.GUARANTEE_COMPANY: _l("担保公司担保"),
}
SELF_REPORT_TOPICS = {
    "annual_revenue": _l("年营业收入"),
    "employees": _l("员工人数"),
    "orders": _l("在手订单"),
    "assets": _l("主要资产"),
    "ip": _l("知识产权"),
    "other": _l("其他"),
}
# What each source lets an authorized bank see (DESIGN §3), in plain words: declared with the source.
SOURCE_CONTENT = {spec.source: Bilingual(*spec.content) for spec in SOURCES.values()}
PUBLIC_CREDIT_KIND = {
    PublicCreditKind.ADMINISTRATIVE_PENALTY: _l("行政处罚"),
    PublicCreditKind.DISHONEST_DEBTOR: _l("失信被执行人"),
    PublicCreditKind.ABNORMAL_OPERATION: _l("经营异常名录"),
    PublicCreditKind.SERIOUS_VIOLATION: _l("严重违法失信名单"),
}
SEVERITY = {Severity.MINOR: _l("轻微"), Severity.GENERAL: _l("一般"), Severity.SERIOUS: _l("严重")}



def reason_family(family: str, locale: str) -> str:
    """A score reason's family in plain words, as the scoring engine names it (ml/reasons.py FAMILIES)."""
    from ml.reasons import FAMILIES

    zh, en = FAMILIES.get(family, (family, family))
    return en if locale == "en" else zh


FAMILY_ADVICE = {
    "tax": _l("按月如实申报纳税、按时缴税，开票销售额稳定会提升评分。"),
    "employment": _l("按时足额缴纳社保和公积金，避免欠缴。"),
    "utilities": _l("按时缴纳水电气费用，结清欠费。"),
    "public_credit": _l("整改处罚事项后，及时申请信用修复。"),
    "housing_fund": _l("按时缴存住房公积金，避免欠缴。"),
    "environment": _l("整改环境问题、按时完成环保信用评价复评，等级提升后评分随之提升。"),
}


def gate_text(gate: dict, locale: str) -> tuple[str, str]:
    """(what failed, how to repair it) for one failed gate of a score, in the scoring engine's own words."""
    from ml.gates import GATES

    spec = GATES.get(gate.get("gate", ""))
    if spec is None:  # a gate newer than this page: still said, never hidden
        return _("未通过准入规则：%(gate)s", gate=gate.get("gate", "")), _("请联系区金融服务办了解修复办法。")
    return (spec.en, spec.advice_en) if locale == "en" else (spec.zh, spec.advice_zh)


def reason_text(family: str, feature: str, contribution: float, locale: str) -> str:
    """One score reason in plain words (the scoring engine's wording: family, strongest feature, direction)."""
    from ml.reasons import reason_text as worded

    words = worded({"family": family, "feature": feature, "contribution": contribution})
    return words["en"] if locale == "en" else words["zh"]

# What an enterprise can do after each kind of decline (shown beside the reason).
DECLINE_NEXT_STEPS = {
    "insufficient_cash_flow": _l("可在“信用画像”中补充近期经营数据，或选择金额更小、期限更长的产品。"),
    "credit_record": _l("请在“信用画像”中查看相关记录和修复建议；完成信用修复后可重新申请。"),
    "insufficient_guarantee": _l("可考虑提供抵押或保证，或选择有政府性融资担保的产品。"),
    "outside_policy": _l("需求已重新开放给其他匹配的银行，您可以在需求页比较其他产品。"),
    "incomplete_information": _l("请在本页给银行留言确认需补充的资料，补齐后可重新申请。"),
    "enterprise_unreachable": _l("请核对企业的联系电话和邮箱，并留意银行来电；需求已重新开放。"),
    "enterprise_declined_offer": _l("需求已重新开放，您可以选择其他产品。"),
    "other": _l("如有疑问，可在本页给银行留言。"),
}
