"""Reading a registry export's cells: the GB 32100-2015 check digit, 注册资金, dates, headers, and the
county a firm is registered in."""

from __future__ import annotations

from datetime import date

import pytest

from features import registry as reg

# Constructed codes (serials of zeros, never a real firm's); their check characters were
# cross-checked against python-stdnum's `stdnum.cn.uscc` (not a dependency of the project).
VALID = ["9113010200000000XJ", "9113062100000000XW", "92130102MA0000001U"]


@pytest.mark.parametrize("code", VALID)
def test_check_digit_accepts_codes_of_the_standard(code: str) -> None:
    assert reg.uscc_valid(code)
    assert reg.uscc_check_char(code[:17]) == code[17]


@pytest.mark.parametrize("code", VALID)
def test_check_digit_rejects_every_single_character_change(code: str) -> None:
    # 31 is prime and no weight is 0 mod 31: any one substituted character must be caught.
    for i in range(18):
        for c in "0A9Y":
            if c != code[i]:
                changed = code[:i] + c + code[i + 1 :]
                assert not reg.uscc_valid(changed), changed


@pytest.mark.parametrize(
    "code",
    ["9113010200000000X", "9113010200000000XJ0", "9113010200000000IJ", "9113010200000000OJ"],
)
def test_check_digit_rejects_wrong_length_and_letters_outside_the_alphabet(code: str) -> None:
    assert not reg.uscc_valid(code)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (" 91130102 00000000xj ", "9113010200000000XJ"),
        ("９１１３０１０２００００００００ＸＪ", "9113010200000000XJ"),  # full-width
        ("N/A", None),
        ("", None),
        ("-", None),
        ("无", None),
    ],
)
def test_normalize_code_reads_what_people_type(raw: str, expected: str | None) -> None:
    assert reg.normalize_code(raw) == expected


@pytest.mark.parametrize(
    ("raw", "wan", "currency"),
    [
        ("300万元人民币", 300.0, "CNY"),
        ("6,280(万元人民币)", 6280.0, "CNY"),
        ("6,280（万元人民币）", 6280.0, "CNY"),
        ("100万人民币", 100.0, "CNY"),
        ("1.2亿元", 12000.0, "CNY"),
        ("500000元", 50.0, "CNY"),
        ("300", 300.0, "CNY"),
        ("50万美元", 50.0, "USD"),
        ("20万港元", 20.0, "HKD"),
    ],
)
def test_parse_capital_reads_amount_unit_and_currency(raw: str, wan: float, currency: str) -> None:
    cap = reg.parse_capital(raw)
    assert cap is not None
    assert cap.amount_wan == pytest.approx(wan)
    assert cap.currency == currency
    # No exchange rate is assumed: only 人民币 gives a 万元人民币 figure.
    assert cap.cny_wan == (pytest.approx(wan) if currency == "CNY" else None)


@pytest.mark.parametrize("raw", ["N/A", "", "-", "壹佰万元", "不详"])
def test_parse_capital_gives_nothing_for_missing_or_wordy_cells(raw: str) -> None:
    assert reg.parse_capital(raw) is None


@pytest.mark.parametrize(
    "raw",
    ["2015-03-12", "2015/3/12", "2015年3月12日", "20150312", "2015.03.12", "2015-03-12T00:00:00"],
)
def test_parse_date_reads_common_formats(raw: str) -> None:
    assert reg.parse_date(raw) == date(2015, 3, 12)


@pytest.mark.parametrize("raw", ["N/A", "2015-02-30", "12/03/2015", "去年"])
def test_parse_date_gives_nothing_for_what_is_no_date(raw: str) -> None:
    assert reg.parse_date(raw) is None


def test_header_accepts_english_aliases_and_unit_suffixes() -> None:
    header = ["name", "USCC", "注册资本(万元)", "scope", "region", "Address", "法定代表人"]
    columns, ignored, problems = reg.header_columns(header)
    assert columns == {
        "name": [0],
        "credit_code": [1],
        "capital": [2],
        "scope": [3],
        "region": [4],
        "address": [5],
    }
    assert ignored == ["法定代表人"] and problems == []


def test_header_reads_split_region_columns_together_and_prefers_the_usual_name() -> None:
    header = ["公司名称", "企业名称", "所属城市", "所属区县", "统一社会信用代码", "经营范围"]
    columns, ignored, problems = reg.header_columns(header)
    assert columns["name"] == [1] and columns["region"] == [2, 3]
    assert ignored == ["公司名称"] and problems == []


def test_header_names_a_header_given_twice() -> None:
    _, _, problems = reg.header_columns(["企业名称", "经营范围", "统一社会信用代码", "经营范围"])
    assert problems == ["第 1 行 第 4 列 表头“经营范围”与第 2 列相同，请只保留一列"]


# -- where a firm is registered -------------------------------------------------------------------
@pytest.fixture(scope="module")
def divisions() -> reg.Divisions:
    return reg.load_divisions()


def where(
    d: reg.Divisions, code: str = "", address: str = "", region: str = "", province: str = ""
):
    c = reg.normalize_code(code) if code else None
    return reg.locate(d, c, bool(c and reg.uscc_valid(c)), address, region, province)


def code_for(division: str) -> str:
    body = "91" + division + "MA0000001"
    return body + reg.uscc_check_char(body)


def test_locate_reads_the_county_from_the_code(divisions: reg.Divisions) -> None:
    loc = where(divisions, code_for("130534"), address="北京市朝阳区某路1号")
    assert (loc.county_code, loc.county, loc.city, loc.located_by) == (
        "130534",
        "清河县",
        "邢台",
        "credit_code",
    )


def test_locate_ignores_the_division_of_an_invalid_code(divisions: reg.Divisions) -> None:
    bad = code_for("130534")[:17] + ("0" if code_for("130534")[17] != "0" else "1")
    loc = where(divisions, bad, address="河北省保定市竞秀区朝阳北大街1号")
    assert (loc.county, loc.city, loc.located_by) == ("竞秀区", "保定", "address")


def test_locate_maps_retired_codes_to_todays_county(divisions: reg.Divisions) -> None:
    assert where(divisions, code_for("130223")).county == "滦州市"  # 滦县, until 2018
    assert where(divisions, code_for("130429")).county == "永年区"  # 永年县, until 2016
    assert where(divisions, code_for("139001")).city == "定州"  # 定州市's old province code
    # Retired before the history table starts (满城县 → 满城区 in 2015): the city still holds.
    loc = where(divisions, code_for("130621"), address="满城镇中山路5号")
    assert (loc.county_code, loc.city, loc.located_by) == (None, "保定", "credit_code")
    assert where(divisions, code_for("130621"), address="保定市满城县1号").county == "满城区"
    # Registered in 满城 then moved: the address names a county elsewhere, and it wins.
    loc = where(divisions, code_for("130621"), address="河北省沧州市河间市滨河路1号")
    assert (loc.county, loc.city, loc.located_by) == ("河间市", "沧州", "address")
    loc = where(divisions, code_for("130621"), address="河北省秦皇岛市建设大街1号")
    assert (loc.county_code, loc.city, loc.located_by) == (None, "秦皇岛", "address")


def test_locate_city_bureau_code_takes_the_county_from_the_address(
    divisions: reg.Divisions,
) -> None:
    loc = where(divisions, code_for("130100"), address="石家庄市桥西区中华南大街1号")
    assert (loc.county_code, loc.city, loc.located_by) == ("130104", "石家庄", "address")
    # 桥西区 is in 张家口 too; the code's city decides.
    loc = where(divisions, code_for("130700"), address="桥西区胜利北路1号")
    assert (loc.county_code, loc.city) == ("130703", "张家口")
    # Without a county anywhere the city is still known, the county is not.
    loc = where(divisions, code_for("130100"), address="裕华路1号")
    assert (loc.county_code, loc.city, loc.located_by) == (None, "石家庄", "credit_code")


def test_locate_reads_old_county_names_in_addresses(divisions: reg.Divisions) -> None:
    assert where(divisions, address="保定市满城县满城镇中山路5号").county_code == "130607"
    assert where(divisions, address="河北省唐山市滦县滦州镇1号").county_code == "130284"
    assert where(divisions, address="邢台市桥东区新华路1号").county == "襄都区"
    assert where(divisions, address="石家庄市藁城市廉州路1号").county == "藁城区"


def test_locate_leaves_an_ambiguous_name_unlocated(divisions: reg.Divisions) -> None:
    assert where(divisions, address="桥西区胜利路1号").county_code is None
    assert where(divisions, address="新华路1号").county_code is None  # a street, not 新华区


def test_locate_falls_back_to_the_region_column(divisions: reg.Divisions) -> None:
    loc = where(divisions, "N/A", address="N/A", region="沧州市黄骅市", province="河北省")
    assert (loc.county, loc.city, loc.located_by) == ("黄骅市", "沧州", "region")
    loc = where(divisions, "N/A", address="", region="衡水市")
    assert (loc.county_code, loc.city, loc.located_by) == (None, "衡水", "region")
    assert where(divisions, "", address="", region="").located_by == "none"


def test_locate_names_the_project_cities_of_special_counties(divisions: reg.Divisions) -> None:
    assert where(divisions, address="河北雄安新区容城县容城镇1号").city == "雄安新区"
    assert where(divisions, address="河北雄安新区容城县容城镇1号").county == "容城县"
    assert where(divisions, code_for("130682")).city == "定州"
    assert where(divisions, address="河北省辛集市教育路1号").city == "辛集"


def test_locate_uses_the_province_for_names_shared_across_provinces(
    divisions: reg.Divisions,
) -> None:
    assert where(divisions, address="北京市朝阳区建国路1号").county_code == "110105"
    assert where(divisions, address="长安区建设大街1号", province="河北省").county_code == "130102"
    # A code's province speaks for the firm when no 所在省份 is given.
    assert where(divisions, code_for("130000"), address="长安区建设大街1号").county_code == "130102"


@pytest.mark.parametrize(
    ("address", "code"),
    [
        ("石家庄高新区黄河大道1号", "130171"),
        ("河北省石家庄市高新技术产业开发区湘江道1号", "130171"),
        ("保定市白沟新城和道路1号", "130672"),
        ("河北省沧州渤海新区港城大道1号", "130973"),
        ("廊坊经济技术开发区友谊路1号", "131071"),
    ],
)
def test_locate_reads_development_zones_that_are_county_level_units(
    divisions: reg.Divisions, address: str, code: str
) -> None:
    assert where(divisions, address=address).county_code == code


def test_locate_does_not_take_a_bare_high_tech_zone_for_any_city(divisions: reg.Divisions) -> None:
    assert where(divisions, address="高新区黄河大道1号").county_code is None
