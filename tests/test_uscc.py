"""The unified social credit code validator (GB 32100-2015) that every entry point shares."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from xinyidai.uscc import (
    ALPHABET,
    InvalidUSCC,
    final_check_char,
    make_uscc,
    organization_check_char,
    validate_uscc,
)

# Published codes of well-known companies (business licences are public).
REAL_CODES = [
    "914403001922038216",  # 华为技术有限公司
    "91440300708461136T",  # 深圳市腾讯计算机系统有限公司
    "91330100716105852F",  # 阿里巴巴（中国）有限公司
    "91110108551385082Q",  # 小米科技有限责任公司
    "91310000132149237G",  # a Shanghai-registered enterprise (city-level registration)
]


@pytest.mark.parametrize("code", REAL_CODES)
def test_real_published_codes_are_valid(code):
    assert validate_uscc(code) == code


def test_lower_case_and_spaces_are_normalised_but_nothing_else():
    assert validate_uscc(" 91110108551385082q ") == "91110108551385082Q"


@pytest.mark.parametrize(("code", "part"), [
    ("9144030019220382", "length"),
    ("9144030019220382161", "length"),
    ("91440300192203821I", "alphabet"),  # I is never used
    ("91440300192O038216", "alphabet"),
    ("Z14403001922038216", "alphabet"),
    ("B14403001922038216", "authority"),
    ("94440300192203821X", "entity_type"),  # 工商 issues types 1, 2, 3 only
    ("919903001922038216", "division"),  # 99 is no province
    ("91310999MA1FL0AB1C", "division"),  # not a Shanghai district
    ("914403001922038226", "organization_check"),
    ("914403001922038217", "final_check"),
])
def test_each_kind_of_broken_code_names_the_part(code, part):
    with pytest.raises(InvalidUSCC) as caught:
        validate_uscc(code)
    assert caught.value.part == part
    assert caught.value.zh
    assert caught.value.en


def test_historic_shanghai_divisions_still_validate():
    # 闸北区 (310108) merged into 静安 in 2015, but codes issued there stay valid.
    assert validate_uscc(make_uscc("91", "310108", "MA1FL0AB"))


def test_organization_check_uses_gb11714_weights():
    # 10 -> X and 11 -> 0 are the two special cases.
    assert organization_check_char("19220382") == "1"
    bodies = ["".join(ALPHABET[(i * 7 + k) % 31] for k in range(8)) for i in range(400)]
    assert {"X", "0"} <= {organization_check_char(b) for b in bodies}


org_body = st.text(alphabet=ALPHABET, min_size=8, max_size=8)
division = st.sampled_from(["310101", "310115", "310117", "310151", "110108", "440300"])


@given(division, org_body)
def test_every_generated_code_validates(division, body):
    code = make_uscc("91", division, body)
    assert validate_uscc(code) == code


@given(division, org_body, st.integers(min_value=0, max_value=17), st.sampled_from(ALPHABET))
def test_any_single_character_change_is_caught(division, body, position, replacement):
    code = make_uscc("91", division, body)
    changed = code[:position] + replacement + code[position + 1:]
    if changed != code:
        with pytest.raises(InvalidUSCC):
            validate_uscc(changed)


def test_final_check_character_is_in_the_alphabet():
    assert final_check_char("9131011500000000X") in ALPHABET
