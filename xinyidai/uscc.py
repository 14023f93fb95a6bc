"""The unified social credit code (统一社会信用代码, GB 32100-2015): the one validator every entry point uses."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from xinyidai.reference import PROVINCE_PREFIXES, SHANGHAI_DISTRICTS, SHANGHAI_HISTORIC_DIVISIONS

ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_VALUE = {char: index for index, char in enumerate(ALPHABET)}
_CHECK_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
_ORG_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)

# Registration authority (char 1) -> the entity types (char 2) it may issue (GB 32100-2015, annex A).
_AUTHORITY_TYPES = {
    "1": "1239",  # 机构编制
    "2": "19",  # 外交
    "3": "1239",  # 司法行政
    "4": "19",  # 文化
    "5": "1239",  # 民政
    "6": "129",  # 旅游
    "7": "129",  # 宗教
    "8": "19",  # 工会
    "9": "123",  # 工商 / 市场监管: 企业, 个体工商户, 农民专业合作社
    "A": "19",  # 中央军委改革和编制办公室
    "N": "1239",  # 农业
    "Y": "1",  # 其他
}
_SHANGHAI_DIVISIONS = frozenset(SHANGHAI_DISTRICTS) | frozenset(SHANGHAI_HISTORIC_DIVISIONS) | {"310000"}


class InvalidUSCC(ValueError):
    """The code is not a valid USCC. `part` names what failed; str() is a Chinese message, `.en` English."""

    def __init__(self, part: str, zh: str, en: str):
        super().__init__(zh)
        self.part, self.zh, self.en = part, zh, en


@dataclass(frozen=True)
class USCCParts:
    code: str
    authority: str
    entity_type: str
    division: str
    organization_code: str


def organization_check_char(body: str) -> str:
    """GB 11714 check character over the 8-character organization-code body."""
    total = sum((int(c) if c.isdigit() else ord(c) - 55) * w for c, w in zip(body, _ORG_WEIGHTS, strict=True))
    check = 11 - total % 11
    return {10: "X", 11: "0"}.get(check, str(check))


def final_check_char(first17: str) -> str:
    """GB 32100 check character (18th) over the first 17 characters."""
    total = sum(_VALUE[c] * w for c, w in zip(first17, _CHECK_WEIGHTS, strict=True))
    return ALPHABET[(31 - total % 31) % 31]


@lru_cache(maxsize=262144)
def validate_uscc(raw: str) -> str:
    """Return the normalised code (upper case, surrounding spaces trimmed) or raise InvalidUSCC.

    Only case is normalised: a code with a wrong character is rejected, never silently "fixed".
    Cached because a monthly delivery repeats each code dozens of times.
    """
    if not isinstance(raw, str):
        raise InvalidUSCC("type", "统一社会信用代码必须是文本", "the USCC must be text")
    code = raw.strip().upper()
    if len(code) != 18:
        raise InvalidUSCC("length", f"统一社会信用代码应为18位，实为{len(code)}位", f"must be 18 characters, got {len(code)}")
    bad = sorted({c for c in code if c not in _VALUE})
    if bad:
        chars = "、".join(bad)
        raise InvalidUSCC(
            "alphabet",
            f"统一社会信用代码含有不允许的字符：{chars}（不使用 I、O、S、V、Z）",
            f"contains characters not allowed: {', '.join(bad)} (I, O, S, V and Z are never used)",
        )
    authority, entity_type = code[0], code[1]
    if authority not in _AUTHORITY_TYPES:
        raise InvalidUSCC("authority", f"第1位登记管理部门代码“{authority}”无效", f"registration authority '{authority}' is not valid")
    if entity_type not in _AUTHORITY_TYPES[authority]:
        raise InvalidUSCC(
            "entity_type",
            f"第2位机构类别代码“{entity_type}”与登记管理部门不符",
            f"entity type '{entity_type}' is not valid for authority '{authority}'",
        )
    division = code[2:8]
    if not _division_is_valid(division):
        raise InvalidUSCC("division", f"第3–8位行政区划码“{division}”无效", f"administrative division '{division}' is not valid")
    org = code[8:17]
    if organization_check_char(org[:8]) != org[8]:
        raise InvalidUSCC(
            "organization_check",
            f"第9–17位组织机构代码“{org}”校验位错误",
            f"organization code '{org}' fails its GB 11714 check character",
        )
    if final_check_char(code[:17]) != code[17]:
        raise InvalidUSCC("final_check", "第18位校验码错误", "the 18th (check) character is wrong")
    return code


def _division_is_valid(division: str) -> bool:
    if not division.isdigit() or division[:2] not in PROVINCE_PREFIXES:
        return False
    if division.startswith("31"):
        return division in _SHANGHAI_DIVISIONS
    return True


def parse_uscc(raw: str) -> USCCParts:
    code = validate_uscc(raw)
    return USCCParts(code, code[0], code[1], code[2:8], code[8:17])


def make_uscc(authority_type: str, division: str, org_body: str) -> str:
    """Build a valid code from its parts (the demo generator and tests use this)."""
    first17 = authority_type + division + org_body + organization_check_char(org_body)
    return first17 + final_check_char(first17)
