from callcenter.customers.phone import normalize_phone


def test_formatting_is_ignored():
    assert normalize_phone("+86 138-0013-8000") == normalize_phone("+8613800138000")


def test_double_zero_is_the_international_prefix():
    assert normalize_phone("0086 138 0013 8000") == "+8613800138000"


def test_national_numbers_are_kept_as_dialed():
    assert normalize_phone("(010) 6552-9988") == "01065529988"


def test_stray_plus_signs_are_dropped():
    assert normalize_phone("+1+555") == "+1555"


def test_withheld_number_is_empty():
    assert normalize_phone("anonymous") == ""
