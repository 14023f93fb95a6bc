"""Passwords: the one rule for a password someone chooses, and hashing with scrypt (werkzeug's current
default), never a fast hash.

The rule (`weakness`), on every channel where a person chooses a password — registration, the password change,
`xyd user create`: 10 to 256 characters, and not easy to guess as judged by zxcvbn (Dropbox's estimator, kept by
the zxcvbn Python port): a score of at least 3 of 4, i.e. it would take some 10^8 guesses. That refuses common
passwords (its lists of leaked passwords, words and names), repeats (``aaaaaaaaaa``, ``abcabcabc``), sequences
and keyboard walks (``1234567890``, ``qwertyuiop``), dates, and passwords built from the user's own name, the
enterprise's name or code, or the platform's. zxcvbn's lists are English-language; the common Chinese choices
below are added to them. One-time passwords the platform generates (`users.temporary_password`) are random.
"""

from __future__ import annotations

from collections.abc import Iterable

from werkzeug.security import check_password_hash, generate_password_hash
from zxcvbn import zxcvbn

from xinyidai.i18n import N_

MIN_LENGTH = 10
MAX_LENGTH = 256
MIN_SCORE = 3  # zxcvbn: 0 too guessable … 4 very unguessable; 3 ≈ 10^8 guesses
# Checked up to this length (zxcvbn refuses longer input; its time grows with the length): what follows
# cannot make a password weaker.
_CHECKED_CHARS = 72  # zxcvbn's own maximum

# Frequent choices in Chinese password leaks that zxcvbn's English lists miss (pinyin, number puns), and the
# platform's own names: a password made of them counts as one made of common words.
COMMON_CHINESE = ("woaini", "5201314", "1314520", "woaini1314", "520520", "iloveyou", "aini", "wangyi", "baidu",
                  "taobao", "zhifubao", "weixin", "qq", "zhang", "wang", "li", "liu", "chen", "yang", "huang",
                  "zhao", "zhou", "wu", "xu", "sun", "ma", "zhu", "hu", "guo", "lin", "shanghai", "beijing",
                  "zhongguo", "china", "pudong", "mima", "yinhang", "gongsi", "qiye")
_COMMON = frozenset(COMMON_CHINESE)
PLATFORM_WORDS = ("xinyidai", "xyd", "信易贷", "credit", "finance", "loan", "bank", "daikuan")

WRONG_LENGTH = N_("长度须在 %(min)d 到 %(max)d 个字符之间。")
REPEATS = N_("由重复的字符或片段组成（如 aaaa、abcabc），很容易被猜到。")
SEQUENCE = N_("是连续或相邻的字符（如 123456、abcdef、qwerty），很容易被猜到。")
COMMON = N_("是常见密码或常见词语，很容易被猜到。")
OWN_NAME = N_("包含用户名、姓名、企业名称或平台名称，很容易被猜到。")
DATE = N_("主要由日期或年份组成，很容易被猜到。")
GUESSABLE = N_("太容易被猜到：请使用更长、不常见的组合，例如几个互不相关的词。")


def weakness(password: str, related: Iterable[str] = ()) -> str | None:
    """Why `password` is not acceptable (a Chinese source string marked with N_, which the caller words in
    its language after the field's name, with `min` and `max` for WRONG_LENGTH), or None when it is.
    `related`: the user's own words — username, display name, enterprise name and code."""
    if not MIN_LENGTH <= len(password) <= MAX_LENGTH:
        return WRONG_LENGTH
    own = [word.strip().lower() for word in related if word and word.strip()]
    own += [part for word in own for part in word.replace("_", "-").replace(".", "-").split("-") if len(part) >= 3]
    result = zxcvbn(password[:_CHECKED_CHARS], user_inputs=[*own, *PLATFORM_WORDS, *COMMON_CHINESE])
    if result["score"] >= MIN_SCORE:
        return None
    return _reason(result["sequence"], len(password[:_CHECKED_CHARS]))


def _reason(matches: list[dict], length: int) -> str:
    """The reason of the match that covers most of the password."""
    covered: dict[str, int] = {}
    for match in matches:
        pattern = match["pattern"]
        if pattern == "dictionary":
            own = match.get("dictionary_name") == "user_inputs" and match.get("matched_word") not in _COMMON
            pattern = "own" if own else "common"
        covered[pattern] = covered.get(pattern, 0) + len(match["token"])
    if not covered:
        return GUESSABLE
    pattern, size = max(covered.items(), key=lambda item: item[1])
    if size * 2 < length:
        return GUESSABLE
    return {"repeat": REPEATS, "sequence": SEQUENCE, "spatial": SEQUENCE, "common": COMMON, "own": OWN_NAME,
            "date": DATE, "regex": DATE}.get(pattern, GUESSABLE)


def hash_password(password: str) -> str:
    return generate_password_hash(password, method="scrypt")


def verify_password(stored_hash: str, password: str) -> bool:
    return check_password_hash(stored_hash, password)
