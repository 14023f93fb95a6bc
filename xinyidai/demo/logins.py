"""The demo's logins: one per bank, two offices, an admin and one enterprise, all with one password.

It is a demo: the password is printed by `xyd demo logins` and written here on purpose.
"""

from __future__ import annotations

from dataclasses import dataclass

from xinyidai.demo.banks import BANKS
from xinyidai.demo.guarantees import GUARANTORS

DEMO_PASSWORD = "xinyidai-demo-2026"  # noqa: S105 - a published demo password, not a secret
DEMO_ENTERPRISE_USERNAME = "demo-enterprise"
SONGJIANG = "310117"
CITY = "310000"


@dataclass(frozen=True)
class DemoLogin:
    role: str
    username: str
    display_name: str
    description: str
    bank_code: str | None = None
    district_code: str | None = None
    guarantor_code: str | None = None


def demo_accounts() -> list[DemoLogin]:
    accounts = [DemoLogin("enterprise", DEMO_ENTERPRISE_USERNAME, "企业演示用户",
                          "松江区一家小型企业的员工：有融资需求、贷款记录和完整的数据历史 "
                          "(staff of a small Songjiang firm with needs, a loan history and full data)")]
    accounts += [DemoLogin("bank", f"demo-bank-{bank.short}", f"{bank.name_zh}客户经理",
                           f"{bank.name_zh}的信贷员 (loan officer, {bank.name_en})", bank_code=bank.code)
                 for bank in BANKS]
    accounts += [DemoLogin("guarantor", f"demo-guarantor-{g.short}", f"{g.name_zh}业务经理",
                           f"{g.name_zh}的担保业务经理 (guarantee officer, {g.name_en})", guarantor_code=g.code)
                 for g in GUARANTORS]
    accounts += [
        DemoLogin("office", "demo-office-songjiang", "松江区金融服务办", "松江区金融服务办 (Songjiang district office)",
                  district_code=SONGJIANG),
        DemoLogin("office", "demo-office-city", "上海市信用办", "市级办公室，可见全部区 (city office, sees every district)",
                  district_code=CITY),
        DemoLogin("admin", "demo-admin", "平台管理员", "平台运营管理员 (platform operator)"),
    ]
    return accounts


def demo_logins(*, every_account: bool = False) -> list[dict]:
    """One login per role (enterprise, bank, office, admin), or every demo account."""
    seen: set[str] = set()
    logins = []
    for account in demo_accounts():
        if every_account or account.role not in seen:
            seen.add(account.role)
            logins.append({"role": account.role, "username": account.username, "password": DEMO_PASSWORD,
                           "description": account.description})
    return logins
