"""How enum values are worded for people, in Chinese with English translations. Shared by every page."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

from models.credit import RepairState
from models.enterprise import EnterpriseStatus, SizeClass
from models.guarantee import GuaranteeProductStatus, GuaranteeStatus
from models.identity import Role
from models.lending import ApplicationState, Channel, NeedStatus, ProductStatus
from models.sources import AgriLevel, AgriOperatorKind, DeliveryStatus, EnvironmentalGrade, IpKind
from xinyidai.domain.qualifications import NAMES as QUALIFICATION_NAMES
from xinyidai.domain.vocabulary import GUARANTEES, PURPOSES
from xinyidai.i18n import Bilingual
from xinyidai.ingest.sources import SOURCES

ROLE = {
    Role.ENTERPRISE: _l("企业用户"),
    Role.BANK: _l("银行用户"),
    Role.OFFICE: _l("金融服务办"),
    Role.ADMIN: _l("平台管理员"),
    Role.GUARANTOR: _l("担保机构用户"),
}

APPLICATION_STATE = {
    ApplicationState.MATCHED: _l("已匹配"),
    ApplicationState.CLAIMED: _l("已受理"),
    ApplicationState.GUARANTEE_REQUESTED: _l("待担保机构答复"),
    ApplicationState.GUARANTEED: _l("担保已同意"),
    ApplicationState.APPROVED: _l("已审批通过"),
    ApplicationState.DECLINED: _l("已拒绝"),
    ApplicationState.DISBURSED: _l("已放款"),
    ApplicationState.REPAYING: _l("还款中"),
    ApplicationState.REPAID: _l("已结清"),
    ApplicationState.OVERDUE: _l("逾期"),
    ApplicationState.DEFAULTED: _l("违约"),
    ApplicationState.WITHDRAWN: _l("已撤回"),
}

# Through which channel a transition came (DESIGN §6: who, when, which channel).
CHANNEL = {
    Channel.WEB: _l("网页"),
    Channel.API: _l("系统接口"),
    Channel.CSV: _l("批量报送"),
    Channel.SYSTEM: _l("平台"),
}

NEED_STATUS = {
    NeedStatus.OPEN: _l("对接中"),
    NeedStatus.CLAIMED: _l("已受理"),
    NeedStatus.CLOSED: _l("已关闭"),
    NeedStatus.WITHDRAWN: _l("已撤回"),
}

ENTERPRISE_STATUS = {
    EnterpriseStatus.OPERATING: _l("存续"),
    EnterpriseStatus.REVOKED: _l("吊销"),
    EnterpriseStatus.CANCELLED: _l("注销"),
}

SIZE_CLASS = {
    SizeClass.LARGE: _l("大型"),
    SizeClass.MEDIUM: _l("中型"),
    SizeClass.SMALL: _l("小型"),
    SizeClass.MICRO: _l("微型"),
}

PRODUCT_STATUS = {
    ProductStatus.ACTIVE: _l("在售"),
    ProductStatus.PAUSED: _l("暂停"),
}

# Declared with each source (xinyidai.ingest.sources), worded in the page's language.
SOURCE = {spec.source: Bilingual(*spec.label) for spec in SOURCES.values()}

# The later sources' stored values (Chinese words, as delivered), worded per language.
IP_KIND = {IpKind.INVENTION_PATENT: Bilingual("发明专利", "Invention patent"),
           IpKind.UTILITY_MODEL: Bilingual("实用新型", "Utility model"),
           IpKind.DESIGN_PATENT: Bilingual("外观设计", "Design patent"), IpKind.TRADEMARK: Bilingual("商标", "Trademark")}
QUALIFICATION = {kind: Bilingual(zh, en[:1].upper() + en[1:]) for kind, (zh, en) in QUALIFICATION_NAMES.items()}
ENV_GRADE = {EnvironmentalGrade.GREEN: Bilingual("绿（环保诚信）", "Green (trustworthy)"),
             EnvironmentalGrade.BLUE: Bilingual("蓝（环保良好）", "Blue (good)"),
             EnvironmentalGrade.YELLOW: Bilingual("黄（环保警示）", "Yellow (warning)"),
             EnvironmentalGrade.RED: Bilingual("红（环保不良）", "Red (poor)")}
AGRI_KIND = {AgriOperatorKind.FAMILY_FARM: Bilingual("家庭农场", "Family farm"),
             AgriOperatorKind.COOPERATIVE: Bilingual("农民合作社", "Farmers' cooperative"),
             AgriOperatorKind.LEADING_ENTERPRISE: Bilingual("农业产业化龙头企业", "Leading agricultural enterprise"),
             AgriOperatorKind.SERVICE_ORGANISATION: Bilingual("农业社会化服务组织", "Agricultural service organisation")}
AGRI_LEVEL = {AgriLevel.NATIONAL: Bilingual("国家级", "National"), AgriLevel.CITY: Bilingual("市级", "City"),
              AgriLevel.DISTRICT: Bilingual("区级", "District")}

# The sections an enterprise may choose for its credit report (xinyidai.domain.credit_report.SECTIONS).
REPORT_SECTIONS = {
    "registry": _l("登记信息"),
    "public_credit": _l("公共信用记录（含信用修复情况）"),
    "tax_ratings": _l("纳税信用等级"),
    "continuity": _l("纳税、社保、公积金与水电气缴纳连续性"),
    "platform_grade": _l("平台信用评级、主要因素与准入规则"),
    "self_declared": _l("信用承诺与自愿填报信息（企业自述）"),
}

REPAIR_STATE = {
    RepairState.APPLIED: _l("办理中"),
    RepairState.REPAIRED: _l("已修复"),
    RepairState.REJECTED: _l("未予修复"),
}

GUARANTEE_STATUS = {
    GuaranteeStatus.REQUESTED: _l("待答复"),
    GuaranteeStatus.ACCEPTED: _l("已同意担保"),
    GuaranteeStatus.DECLINED: _l("已拒绝担保"),
    GuaranteeStatus.CANCELLED: _l("已取消"),
}

GUARANTEE_PRODUCT_STATUS = {
    GuaranteeProductStatus.ACTIVE: _l("在售"),
    GuaranteeProductStatus.PAUSED: _l("暂停"),
}

DELIVERY_STATUS = {
    DeliveryStatus.APPLIED: _l("已入库"),
    DeliveryStatus.FAILED: _l("失败"),
}


def init_app(app) -> None:
    app.jinja_env.globals["labels"] = {
        "role": ROLE, "application_state": APPLICATION_STATE, "need_status": NEED_STATUS,
        "product_status": PRODUCT_STATUS, "channel": CHANNEL,
        "enterprise_status": ENTERPRISE_STATUS, "size_class": SIZE_CLASS, "source": SOURCE, "delivery_status": DELIVERY_STATUS,
        "report_section": REPORT_SECTIONS, "repair_state": REPAIR_STATE, "ip_kind": IP_KIND,
        "qualification": QUALIFICATION, "env_grade": ENV_GRADE, "agri_kind": AGRI_KIND, "agri_level": AGRI_LEVEL,
        "guarantee_status": GUARANTEE_STATUS, "guarantee_product_status": GUARANTEE_PRODUCT_STATUS,
        "guarantee_status_by_value": {status.value: label for status, label in GUARANTEE_STATUS.items()},
        # Stored as Chinese words from fixed lists (what the enterprise chose): worded per language when shown.
        "need_purpose": PURPOSES, "guarantee_type": GUARANTEES,
    }
