"""The header's per-role navigation and the "who am I" line.

Each blueprint adds its own entries in its `init_app`:

    add_nav_item(app, "bank.products", _l("贷款产品"), Role.BANK, order=20)

so the shell never needs to know which pages exist.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import current_app, request, url_for
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from models.identity import Role
from xinyidai.extensions import db
from xinyidai.i18n import localized

HOME_ENDPOINT = {
    Role.ENTERPRISE: "web.enterprise_home",
    Role.BANK: "web.bank_home",
    Role.OFFICE: "web.office_home",
    Role.ADMIN: "web.admin_home",
    Role.GUARANTOR: "web.guarantor_home",
}


@dataclass(frozen=True)
class NavItem:
    endpoint: str
    label: object  # a lazy string: worded in the request's language when rendered
    roles: frozenset[Role]
    order: int = 100
    tenant_admin_only: bool = False  # the organisation's administrator's pages (staff, API tokens)


def add_nav_item(app, endpoint: str, label, *roles: Role, order: int = 100, tenant_admin_only: bool = False) -> None:
    items = app.extensions.setdefault("xyd_navigation", [])
    items.append(NavItem(endpoint, label, frozenset(roles), order, tenant_admin_only))
    items.sort(key=lambda item: item.order)


def nav_links() -> list[dict]:
    """The current user's entries as {url, label, current}; the longest URL that prefixes the path is current."""
    if not current_user.is_authenticated:
        return []
    items = current_app.extensions.get("xyd_navigation", [])
    links = [
        {"url": url_for(item.endpoint), "label": item.label}
        for item in items
        if current_user.role in item.roles and item.endpoint in current_app.view_functions
        and (current_user.is_tenant_admin or not item.tenant_admin_only)
    ]
    matching = [link["url"] for link in links if request.path.startswith(link["url"])]
    active = max(matching, key=len, default=None)
    for link in links:
        link["current"] = link["url"] == active
    return links


def tenant_name(user) -> str | None:
    """The organisation the user acts for, in the page's language (None for platform admins)."""
    from models.enterprise import Enterprise
    from models.identity import District
    from models.lending import Bank

    if user.role is Role.ENTERPRISE:
        enterprise = db.session.get(Enterprise, user.enterprise_uscc)
        return enterprise.name if enterprise else None
    if user.role is Role.BANK:
        bank = db.session.get(Bank, user.bank_id)
        return localized(bank.name_zh, bank.name_en) if bank else None
    if user.role is Role.OFFICE:
        district = db.session.get(District, user.district_code)
        return localized(district.name_zh, district.name_en) if district else None
    if user.role is Role.GUARANTOR:
        from models.guarantee import Guarantor

        guarantor = db.session.get(Guarantor, user.guarantor_id)
        return localized(guarantor.name_zh, guarantor.name_en) if guarantor else None
    return None


def init_app(app) -> None:
    for role, endpoint in HOME_ENDPOINT.items():
        add_nav_item(app, endpoint, _l("首页"), role, order=0)
    add_nav_item(app, "auth.change_password", _l("修改密码"), *Role, order=1000)

    @app.context_processor
    def shell_context():
        return {"nav_links": nav_links, "tenant_name": tenant_name}
