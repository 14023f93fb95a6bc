"""What each role's landing page shows, read from the database and scoped to the caller's tenant.

Every function takes the tenant key (USCC, bank id, district code) from the logged-in user, never from
the URL, and counts only rows inside that tenant.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import sqlalchemy as sa

from models.enterprise import Enterprise
from models.identity import District, Role, User
from models.lending import (
    Application,
    ApplicationState,
    Bank,
    FinancingNeed,
    NeedStatus,
    Product,
    ProductStatus,
)
from models.scoring import ModelVersion, WhitelistEntry
from models.sources import Delivery
from xinyidai.domain.scope import office_scope
from xinyidai.domain.whitelist import latest_published_ids
from xinyidai.extensions import db
from xinyidai.reference import INDUSTRY_SECTIONS

LATEST_DELIVERIES = 10


def _all_keys(enum_cls, counts: Counter) -> dict:
    """Every member in declaration order, zero where nothing was counted: a table that never changes shape."""
    return {member: counts.get(member, 0) for member in enum_cls}


def _count_by(column, *where) -> Counter:
    rows = db.session.execute(sa.select(column, sa.func.count()).where(*where).group_by(column))
    return Counter(dict(rows.all()))


@dataclass(frozen=True)
class EnterpriseSummary:
    enterprise: Enterprise
    district: District
    industry_zh: str
    industry_en: str
    needs_by_status: dict[NeedStatus, int]
    applications_by_state: dict[ApplicationState, int]

    @property
    def needs_total(self) -> int:
        return sum(self.needs_by_status.values())

    @property
    def applications_total(self) -> int:
        return sum(self.applications_by_state.values())


def enterprise_summary(uscc: str) -> EnterpriseSummary:
    enterprise = db.session.get(Enterprise, uscc)
    if enterprise is None:
        raise LookupError(f"enterprise {uscc} not found")
    section_zh, section_en, _ = INDUSTRY_SECTIONS.get(enterprise.industry_section, ("—", "—", None))
    return EnterpriseSummary(
        enterprise=enterprise,
        district=db.session.get(District, enterprise.district_code),
        industry_zh=f"{enterprise.industry_section}{enterprise.industry_division} {section_zh}",
        industry_en=f"{enterprise.industry_section}{enterprise.industry_division} {section_en}",
        needs_by_status=_all_keys(NeedStatus, _count_by(FinancingNeed.status, FinancingNeed.uscc == uscc)),
        applications_by_state=_all_keys(
            ApplicationState, _count_by(Application.state, Application.uscc == uscc)
        ),
    )


@dataclass(frozen=True)
class BankSummary:
    bank: Bank
    products_by_status: dict[ProductStatus, int]
    applications_by_state: dict[ApplicationState, int]

    @property
    def products_total(self) -> int:
        return sum(self.products_by_status.values())

    @property
    def applications_total(self) -> int:
        return sum(self.applications_by_state.values())


def bank_summary(bank_id: int) -> BankSummary:
    bank = db.session.get(Bank, bank_id)
    if bank is None:
        raise LookupError(f"bank {bank_id} not found")
    return BankSummary(
        bank=bank,
        products_by_status=_all_keys(ProductStatus, _count_by(Product.status, Product.bank_id == bank_id)),
        applications_by_state=_all_keys(
            ApplicationState, _count_by(Application.state, Application.bank_id == bank_id)
        ),
    )


@dataclass(frozen=True)
class DistrictCounts:
    district: District
    enterprises: int = 0
    needs: int = 0
    open_needs: int = 0
    # Entries of the district's currently published whitelist; None when none has been published yet.
    whitelist_entries: int | None = None


@dataclass(frozen=True)
class OfficeSummary:
    office_district: District
    rows: list[DistrictCounts] = field(default_factory=list)

    @property
    def is_city(self) -> bool:
        return self.office_district.is_city

    def total(self, name: str) -> int:
        return sum(getattr(row, name) or 0 for row in self.rows)


def office_summary(district_code: str) -> OfficeSummary:
    office_district = db.session.get(District, district_code)
    if office_district is None:
        raise LookupError(f"district {district_code} not found")
    scope = list(office_scope(district_code).districts)  # OutOfScope (a LookupError) for a stray code
    districts = db.session.scalars(sa.select(District).where(District.code.in_(scope)).order_by(District.code))
    enterprises = _count_by(Enterprise.district_code, Enterprise.district_code.in_(scope))
    need_rows = db.session.execute(
        sa.select(Enterprise.district_code, sa.func.count(),
                  sa.func.count().filter(FinancingNeed.status == NeedStatus.OPEN))
        .join(Enterprise, Enterprise.uscc == FinancingNeed.uscc)
        .where(Enterprise.district_code.in_(scope))
        .group_by(Enterprise.district_code)
    )
    needs = {code: (total, open_needs) for code, total, open_needs in need_rows}
    whitelists = _published_whitelist_sizes(scope)
    rows = [
        DistrictCounts(district, enterprises.get(district.code, 0), *needs.get(district.code, (0, 0)),
                       whitelists.get(district.code))
        for district in districts
    ]
    return OfficeSummary(office_district, rows)


def _published_whitelist_sizes(scope: list[str]) -> dict[str, int]:
    """Entries in each district's latest published whitelist version (districts without one are absent)."""
    latest = latest_published_ids(scope)
    rows = db.session.execute(
        sa.select(latest.c.district_code, sa.func.count(WhitelistEntry.uscc))
        .select_from(latest)
        .outerjoin(WhitelistEntry, WhitelistEntry.whitelist_version_id == latest.c.version_id)
        .group_by(latest.c.district_code)
    )
    return dict(rows.all())


@dataclass(frozen=True)
class AdminSummary:
    deliveries: int
    users_by_role: dict
    banks: int
    model_versions: int
    active_model: ModelVersion | None
    latest_deliveries: list[Delivery]

    @property
    def users(self) -> int:
        return sum(self.users_by_role.values())


def admin_summary() -> AdminSummary:
    def count(model) -> int:
        return db.session.scalar(sa.select(sa.func.count()).select_from(model))

    return AdminSummary(
        deliveries=count(Delivery),
        users_by_role=_all_keys(Role, _count_by(User.role)),
        banks=count(Bank),
        model_versions=count(ModelVersion),
        active_model=db.session.scalar(sa.select(ModelVersion).where(ModelVersion.is_active)),
        latest_deliveries=list(db.session.scalars(
            sa.select(Delivery).order_by(Delivery.received_at.desc(), Delivery.id.desc()).limit(LATEST_DELIVERIES)
        )),
    )


@dataclass(frozen=True)
class GuarantorSummary:
    guarantor: object
    by_status: dict  # guarantee status value -> count, every status
    products_total: int
    products_active: int


def guarantor_summary(guarantor_id: int) -> GuarantorSummary:
    """The guarantor's own guarantees by status and its guarantee products (its tenant only)."""
    from models.guarantee import (
        Guarantee,
        GuaranteeProduct,
        GuaranteeProductStatus,
        GuaranteeStatus,
        Guarantor,
    )

    guarantor = db.session.get(Guarantor, guarantor_id)
    if guarantor is None:
        raise LookupError(f"guarantor {guarantor_id} not found")
    counts = _all_keys(GuaranteeStatus, _count_by(Guarantee.status, Guarantee.guarantor_id == guarantor_id))
    products = _count_by(GuaranteeProduct.status, GuaranteeProduct.guarantor_id == guarantor_id)
    return GuarantorSummary(guarantor, {status.value: n for status, n in counts.items()}, sum(products.values()),
                            products.get(GuaranteeProductStatus.ACTIVE, 0))
