import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from hypothesis import given
from hypothesis import strategies as st

from minqing.lib.idcard import (
    check_digit,
    make_id_number,
    sex_from_id,
    validate_id_number,
    validate_phone,
)
from minqing.lib.masking import mask_id_number, mask_name, mask_phone


def test_known_id_number_check_digit():
    # GB 11643 worked example: 11010519491231002 → X
    assert check_digit("11010519491231002") == "X"
    assert validate_id_number("11010519491231002x") == "11010519491231002X"


@pytest.mark.parametrize(
    ("value", "code"),
    [
        ("11010519491231002", "id_format"),  # 17 characters
        ("1101051949123100AX", "id_format"),  # letter inside
        ("110105194902300021", "id_birth"),  # 30 February
        ("110105194912310021", "id_check"),  # wrong check digit
    ],
)
def test_bad_id_numbers_are_refused_with_reason(value, code):
    with pytest.raises(ValidationError) as err:
        validate_id_number(value)
    assert err.value.code == code


@given(
    born=st.dates(min_value=dt.date(1900, 1, 1), max_value=dt.date(2020, 12, 31)),
    seq=st.integers(0, 499),
    sex=st.sampled_from("MF"),
)
def test_made_id_numbers_validate_and_carry_sex(born, seq, sex):
    value = make_id_number("341602", born, seq, sex)
    assert validate_id_number(value) == value
    assert sex_from_id(value) == sex
    assert value[6:14] == born.strftime("%Y%m%d")


def test_phones():
    assert validate_phone("+86 138 1234 5678") == "13812345678"
    assert validate_phone("0558-5123456") == "0558-5123456"
    for bad in ("12812345678", "1381234567", "phone", "138123456789"):
        with pytest.raises(ValidationError):
            validate_phone(bad)


def test_masks():
    assert mask_id_number("320102199001011234") == "3201*************4"
    assert mask_phone("13812345678") == "138****5678"
    assert mask_name("王小明") == "王**"
    assert mask_name("王") == "王*"
