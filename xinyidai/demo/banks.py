"""The participating banks and their loan products, modelled on what Shanghai branches offer on 信易贷
platforms (tax-data credit loans, mortgage-backed operating loans, policy guarantee-fund loans)."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

WAN = 10_000 * 100  # 万元 in fen
OUTER_DISTRICTS = ["310116", "310117", "310118", "310120", "310151"]


@dataclass(frozen=True)
class DemoProduct:
    code: str
    name_zh: str
    name_en: str
    guarantee: str  # GuaranteeType value
    amount_wan: tuple[int, int]
    term_months: tuple[int, int]
    rate_bp: tuple[int, int]
    programme: str | None = None
    fee_bp: int = 0
    districts: tuple[str, ...] = ()
    industries: tuple[str, ...] = ()
    min_years: int = 1
    whitelist_only: bool = False
    min_grade: str | None = None  # on models.scoring.GRADE_SCALE (AAA … C)
    # Tech qualifications (models.sources.QualificationKind values) valid on the need's day: all required,
    # any preferred (matching ranks the product higher for a holder).
    requires: tuple[str, ...] = ()
    prefers: tuple[str, ...] = ()


@dataclass(frozen=True)
class DemoBank:
    code: str
    name_zh: str
    name_en: str
    short: str  # for usernames: demo-bank-<short>
    api_share: float  # how often its officers act through the API rather than the web
    products: tuple[DemoProduct, ...] = field(default=())


def _tax_loan(code, zh, en, top=300, rate=(330, 430)):
    return DemoProduct(code, zh, en, "信用", (10, top), (6, 12), rate, programme="信易贷")


BANKS: tuple[DemoBank, ...] = (
    DemoBank("ICBC-SH", "中国工商银行上海市分行", "ICBC Shanghai Branch", "icbc", 0.7, (
        _tax_loan("JYKD", "经营快贷", "Business Quick Loan"),
        DemoProduct("DYJYD", "抵押经营贷", "Secured Operating Loan", "抵押", (50, 1000), (12, 60), (305, 395)),
    )),
    DemoBank("CCB-SH", "中国建设银行上海市分行", "CCB Shanghai Branch", "ccb", 0.7, (
        _tax_loan("YSD", "云税贷", "Cloud Tax Loan", rate=(335, 425)),
        DemoProduct("DYKD", "抵押快贷", "Mortgage Quick Loan", "抵押", (50, 1000), (12, 36), (300, 390)),
    )),
    DemoBank("BOC-SH", "中国银行上海市分行", "Bank of China Shanghai Branch", "boc", 0.2, (
        _tax_loan("ZYQED", "中银企E贷·信用贷", "BOC Enterprise e-Loan (credit)"),
        DemoProduct("KCD", "科创贷", "Sci-Tech Loan", "保证", (50, 1000), (12, 36), (320, 420),
                    programme="科创", industries=("C", "I", "M"),
                    prefers=("高新技术企业", "专精特新", "科技小巨人", "科技型中小企业")),
    )),
    DemoBank("ABC-SH", "中国农业银行上海市分行", "ABC Shanghai Branch", "abc", 0.3, (
        _tax_loan("NSED", "纳税e贷", "Tax e-Loan", rate=(340, 440)),
        DemoProduct("XCZXD", "乡村振兴贷", "Rural Revitalisation Loan", "保证", (10, 500), (12, 36), (310, 400),
                    programme="乡村振兴", districts=tuple(OUTER_DISTRICTS)),
    )),
    DemoBank("BOCOM-SH", "交通银行上海市分行", "Bank of Communications Shanghai Branch", "bocom", 0.5, (
        _tax_loan("XSSRT", "线上税融通", "Online Tax Financing"),
        DemoProduct("PHED", "普惠e贷", "Inclusive e-Loan (secured)", "抵押", (50, 1000), (12, 60), (310, 400)),
    )),
    DemoBank("BOSH", "上海银行", "Bank of Shanghai", "bosh", 0.6, (
        DemoProduct("SXPHXYD", "上行普惠·信易贷", "BOSC Inclusive Credit-Easy Loan", "信用", (10, 300), (6, 12),
                    (320, 410), programme="信易贷", whitelist_only=True, min_grade="A"),
        DemoProduct("ZCXDB", "政策性担保贷", "Policy Guarantee Fund Loan", "担保公司", (10, 1000), (12, 36),
                    (330, 430), programme="市中小微企业政策性融资担保基金", fee_bp=50),
    )),
    DemoBank("SRCB", "上海农商银行", "Shanghai Rural Commercial Bank", "srcb", 0.1, (
        _tax_loan("XYD", "鑫易贷", "Xin Easy Loan", top=200, rate=(345, 460)),
        DemoProduct("DBD", "担保贷", "Guaranteed Loan", "担保公司", (10, 800), (12, 36), (340, 450),
                    programme="市中小微企业政策性融资担保基金", fee_bp=50),
    )),
    DemoBank("SPDB-SH", "上海浦东发展银行上海分行", "SPD Bank Shanghai Branch", "spdb", 0.5, (
        DemoProduct("PHSD", "浦慧税贷", "Puhui Tax Loan", "信用", (10, 300), (6, 12), (330, 430), programme="信易贷",
                    min_grade="BB"),
        DemoProduct("KJKD", "科技快贷", "Tech Quick Loan", "保证", (50, 800), (12, 24), (315, 410),
                    programme="科创", industries=("I", "M"), requires=("高新技术企业",)),
    )),
)

# Why a bank says no: the cause → (the lifecycle's reason code, what the loan officer writes).
DECLINE_REASONS = {
    "credit_record": ("credit_record", "存在未修复的失信或行政处罚记录"),
    "tax_social_arrears": ("credit_record", "存在欠税或社保、公积金欠缴"),
    "revenue_decline": ("insufficient_cash_flow", "近期开票收入明显下滑，还款来源不足"),
    "insufficient_revenue": ("insufficient_cash_flow", "经营收入不足以覆盖还款"),
    "high_leverage": ("other", "多头借贷，负债率偏高"),
    "operating_too_short": ("outside_policy", "经营年限不足，不符合产品准入"),
    "incomplete_materials": ("incomplete_information", "申请材料不全，补充后可再次申请"),
    "needs_collateral": ("insufficient_guarantee", "申请金额超出信用额度，需追加抵押或担保"),
}
PURPOSES = ("流动资金周转", "采购原材料", "设备购置", "研发投入", "扩大生产经营", "支付工资", "订单融资")


def product_list() -> list[tuple[DemoBank, DemoProduct]]:
    return [(bank, product) for bank in BANKS for product in bank.products]


@lru_cache(maxsize=1024)
def products_for(district: str, section: str, whitelisted: bool,
                 held: frozenset[str] = frozenset()) -> tuple[tuple[DemoBank, DemoProduct], ...]:
    """The products an enterprise may be matched to by district, industry, whitelist standing and the
    qualifications it `held` throughout the need's days."""
    return tuple((bank, p) for bank, p in product_list()
                 if (not p.districts or district in p.districts) and (not p.industries or section in p.industries)
                 and (whitelisted or not p.whitelist_only) and set(p.requires) <= held)
