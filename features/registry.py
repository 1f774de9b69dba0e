"""Reading a market-regulation registry export: its columns, the 统一社会信用代码 check digit, 注册资金,
dates, and the county each firm is registered in (from the code, else the address, else 地区).

Pure functions over strings; the database side is `store.firms`.
"""

from __future__ import annotations

import csv
import hashlib
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date
from functools import cache
from pathlib import Path

from features.tables import TableLimits

REFERENCE = Path(__file__).resolve().parents[1] / "data" / "reference"

# Column -> accepted headers: the Chinese one first (used in messages), then English aliases, then
# other headers that registry exports commonly use for the same thing.
COLUMNS: dict[str, tuple[str, ...]] = {
    "name": ("企业名称", "name", "company_name", "企业（机构）名称", "公司名称"),
    "credit_code": ("统一社会信用代码", "credit_code", "uscc", "信用代码"),
    "reg_date": ("注册日期", "reg_date", "成立日期", "注册时间"),
    "firm_type": ("企业类型", "type", "firm_type", "企业（机构）类型", "公司类型"),
    "capital": ("注册资金", "capital", "注册资本"),
    "scope": ("经营范围", "scope", "business_scope"),
    "province": ("所在省份", "province", "省份", "所属省份"),
    # Exports that split the place over 所属城市 and 所属区县 keep both: they are read together.
    "region": ("地区", "region", "所在地区", "所属地区", "所属城市", "城市", "所属区县", "区县"),
    "address": ("注册地址", "address", "住所", "企业地址"),
    "status": ("登记状态", "status", "经营状态", "企业状态"),
}
MULTI = {"region"}  # columns several headers may feed, joined in file order
# 登记状态 of a firm that no longer operates where it registered: not a current placement.
INACTIVE = ("注销", "吊销", "撤销", "迁出", "停业", "清算")
REQUIRED = ("name", "credit_code", "scope")
# A registry export is large (a province's manufacturers run to six figures) and its 经营范围 long.
REGISTRY_LIMITS = TableLimits(
    max_bytes=512 * 1024 * 1024,
    max_rows=1_000_000,
    max_cols=64,
    max_cell_chars=10_000,
    max_uncompressed_bytes=1024 * 1024 * 1024,
    max_shared_strings=5_000_000,
)
# Headers that name a natural person: dropped on reading, never stored (a registry is the bureau's
# data, but a legal representative's name is personal data the matcher has no use for).
PERSONAL = {"法定代表人", "法人代表", "法人", "负责人", "legal_representative", "legal_person"}

# GB 32100-2015: 18 characters from this alphabet (no I, O, S, V, Z); weights of positions 1–17.
USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
_USCC_VALUE = {c: i for i, c in enumerate(USCC_ALPHABET)}
MISSING = {"", "N/A", "NA", "#N/A", "-", "--", "—", "无", "NULL", "NONE", "暂无", "/"}


def norm_header(h: object) -> str:
    """`注册资本(万元)`, ` 注册资本（万元） ` and `注册资本` all name one column."""
    s = unicodedata.normalize("NFKC", str(h or ""))
    s = re.sub(r"\s+", "", s)
    s = re.sub(r"\((万元|万元人民币|元|人民币|万)\)$", "", s)
    return s.lower()


HEADER_LOOKUP = {norm_header(a): col for col, aliases in COLUMNS.items() for a in aliases}
ALIAS_RANK = {norm_header(a): i for aliases in COLUMNS.values() for i, a in enumerate(aliases)}
PERSONAL_LOOKUP = {norm_header(h) for h in PERSONAL}


def _nfkc(value: str) -> str:
    if not unicodedata.is_normalized("NFKC", value):
        value = unicodedata.normalize("NFKC", value)
    return value.strip()


def is_missing(value: str) -> bool:
    return _nfkc(value).upper() in MISSING


# -- 统一社会信用代码 --------------------------------------------------------------------------------
def uscc_check_char(first17: str) -> str:
    """The 18th character for the first 17 (GB 32100-2015: 31 − Σ value·weight mod 31)."""
    total = sum(_USCC_VALUE[c] * w for c, w in zip(first17, USCC_WEIGHTS, strict=True))
    return USCC_ALPHABET[(31 - total % 31) % 31]


def normalize_code(raw: str) -> str | None:
    """The code as written, upper case, without spaces or dashes; None for N/A and blanks."""
    s = re.sub(r"[\s\-_]", "", _nfkc(raw)).upper()
    return None if s in MISSING else s


def uscc_valid(code: str) -> bool:
    return (
        len(code) == 18
        and all(c in _USCC_VALUE for c in code)
        and uscc_check_char(code[:17]) == code[17]
    )


# -- 注册资金 ---------------------------------------------------------------------------------------
CURRENCIES = {
    "人民币": "CNY",
    "美元": "USD",
    "港元": "HKD",
    "港币": "HKD",
    "欧元": "EUR",
    "日元": "JPY",
    "英镑": "GBP",
    "新台币": "TWD",
    "澳元": "AUD",
    "加元": "CAD",
    "新加坡元": "SGD",
    "韩元": "KRW",
    "瑞士法郎": "CHF",
}
_NUMBER = re.compile(r"\d+(?:\.\d+)?")


@dataclass(frozen=True)
class Capital:
    amount_wan: float  # in `currency`, units of 10,000
    currency: str  # ISO 4217

    @property
    def cny_wan(self) -> float | None:
        """万元人民币, or None: no exchange rate is assumed for other currencies."""
        return self.amount_wan if self.currency == "CNY" else None


def parse_capital(raw: str) -> Capital | None:
    """`300万元人民币`, `6,280(万元人民币)`, `50万美元`, `1.2亿元`, `500000元`, `300` (万元 as the
    column is usually headed). None for N/A, blanks and text without a number."""
    s = _nfkc(raw)
    if not s or s.upper() in MISSING:
        return None
    s = s.replace(",", "").replace(" ", "")
    m = _NUMBER.search(s)
    if m is None:
        return None
    amount = float(m.group())
    rest = s[m.end() :]
    if rest.startswith("亿"):
        amount *= 10_000
    elif not rest.lstrip("(（").startswith("万") and "元" in rest[:2]:
        amount /= 10_000  # a plain 元 amount
    currency = "CNY"
    for word, iso in CURRENCIES.items():
        if word in s:
            currency = iso
            break
    return Capital(round(amount, 6), currency)


# -- dates ----------------------------------------------------------------------------------------
_DATE = re.compile(r"^(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?(?:[T\s].*)?$")
_COMPACT = re.compile(r"^(\d{4})(\d{2})(\d{2})$")


def parse_date(raw: str) -> date | None:
    """`2015-03-12`, `2015/3/12`, `2015年3月12日`, `2015.03.12`, `20150312`, ISO with a time."""
    s = _nfkc(raw)
    m = _DATE.match(s) or _COMPACT.match(s)
    if m is None:
        return None
    try:
        d = date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
    except ValueError:
        return None
    return d if date(1949, 1, 1) <= d <= date(2100, 1, 1) else None


# -- where a firm is registered -------------------------------------------------------------------
# Hebei's county-level divisions whose city in this project is not their 2023 prefecture: the two
# province-administered cities and the three counties of 雄安新区 (see data/kb/zones.yaml).
SPECIAL_CITY = {
    "130181": "辛集",
    "130682": "定州",
    "130629": "雄安新区",
    "130632": "雄安新区",
    "130638": "雄安新区",
}
_SUFFIX = re.compile(r"(市|地区|盟|自治州)$")


@dataclass(frozen=True)
class County:
    code: str  # 6 digits, 2023
    name: str
    city: str  # prefecture name without 市, or 辛集 / 定州 / 雄安新区
    province_code: str


@dataclass(frozen=True)
class Location:
    county_code: str | None
    county: str | None
    city: str | None
    located_by: str  # credit_code | address | region | none


NOWHERE = Location(None, None, None, "none")


@dataclass
class Divisions:
    """The 2023 county-level divisions of China, Hebei's retired codes and names since 2015, and a
    longest-match index of division names for reading addresses."""

    counties: dict[str, County]
    city_of_code4: dict[str, str]  # 4-digit prefecture code -> city name
    province_names: dict[str, str]  # 2-digit code -> name
    retired: dict[str, str]  # retired 6-digit code -> 2023 code
    retired_city: dict[str, str]  # retired code without a single successor -> 4-digit city code
    names: dict[str, list[tuple[str, str]]] = field(default_factory=dict)  # text -> [(kind, code)]
    max_name: int = 0

    def county_of_code(self, code6: str) -> County | None:
        code6 = self.retired.get(code6, code6)
        return self.counties.get(code6)

    def city_code_of(self, code6: str) -> str | None:
        """The prefecture a registering authority's code names when it names no county:
        `xxxx00` / `xxxx01` (a city's own bureau or its 市辖区), a retired split county, or a
        county code retired before the history table starts (130621 满城县 until 2015)."""
        if code6 in self.retired_city:
            return self.retired_city[code6]
        return code6[:4] if code6[:4] in self.city_of_code4 else None

    def scan(self, text: str) -> list[tuple[str, str]]:
        """Every division name in `text`, left to right, longest match first: [(kind, code)]
        where kind is county / city / province and the code has 6, 4 or 2 digits."""
        s = _nfkc(text)
        found: list[tuple[str, str]] = []
        i, n = 0, len(s)
        while i < n:
            for length in range(min(self.max_name, n - i), 1, -1):
                hits = self.names.get(s[i : i + length])
                if hits:
                    found.extend(hits)
                    i += length
                    break
            else:
                i += 1
        return found

    def locate_text(
        self, text: str, *, city4: str | None = None, province2: str | None = None
    ) -> tuple[County | None, str | None]:
        """(county, 4-digit city code) that `text` names. A name several places share (桥西区,
        长安区) counts only where a city or province tells them apart: the text's own, else the
        hints (the code's city, the province column). A county the text names unambiguously in
        another city than the hint wins over the hint: the firm has moved since registering."""
        hits = self.scan(text)
        cities = {c for kind, c in hits if kind == "city"}
        provinces = {c for kind, c in hits if kind == "province"} or (
            {province2} if province2 else set()
        )
        counties = [self.counties[c] for kind, c in hits if kind == "county"]
        if provinces:
            counties = [c for c in counties if c.province_code in provinces]
        if city4:
            in_hint = {c.code: c for c in counties if c.code[:4] == city4}
            if len(in_hint) == 1:
                county = next(iter(in_hint.values()))
                return county, county.code[:4]
        if cities:
            in_text = [c for c in counties if c.code[:4] in cities]
            if in_text:
                counties = in_text
        unique = {c.code: c for c in counties}
        if len(unique) == 1:
            county = next(iter(unique.values()))
            return county, county.code[:4]
        if len(cities) == 1:
            return None, next(iter(cities))
        return None, city4

    def city_name(self, city4: str) -> str:
        return self.city_of_code4.get(city4, "")


def _read(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def _city_display(name: str, province: str) -> str:
    if name in ("市辖区", "县") or name.endswith("直辖县级行政区划"):
        return _SUFFIX.sub("", province)  # 北京, 天津, …: the municipality itself
    return _SUFFIX.sub("", name)


@cache
def load_divisions(ref_dir: Path = REFERENCE) -> Divisions:
    provinces = {r["code"]: r["name"] for r in _read(ref_dir / "provinces.csv")}
    city_rows = _read(ref_dir / "cn_cities_2023.csv")
    city4 = {
        r["code"]: _city_display(r["name"], provinces.get(r["provinceCode"], "")) for r in city_rows
    }
    counties: dict[str, County] = {}
    for r in _read(ref_dir / "cn_areas_2023.csv"):
        code = r["code"]
        counties[code] = County(
            code=code,
            name=r["name"],
            city=SPECIAL_CITY.get(code, city4.get(r["cityCode"], "")),
            province_code=r["provinceCode"],
        )
    retired: dict[str, str] = {}
    retired_city: dict[str, str] = {}
    old_names: list[tuple[str, str]] = []  # (old name, 2023 code or 4-digit city code)
    for r in _read(ref_dir / "hebei_division_history.csv"):
        if r["successor_by"] == "current":
            continue
        if r["code_2023"]:
            if r["code"] != r["code_2023"]:
                retired[r["code"]] = r["code_2023"]
            old_names.append((r["name"], r["code_2023"]))
        elif r["name"] != "市辖区" and r["code"][:4] in city4:
            retired_city[r["code"]] = r["code"][:4]  # 邢台县, 邯郸县: split among several
    d = Divisions(counties, city4, provinces, retired, retired_city)
    index: dict[str, list[tuple[str, str]]] = {}

    def add(name: str, kind: str, code: str) -> None:
        if len(name) >= 2 and (kind, code) not in index.get(name, []):
            index.setdefault(name, []).append((kind, code))

    for p, name in provinces.items():
        add(name, "province", p)
        short = re.sub(r"(省|市|壮族自治区|回族自治区|维吾尔自治区|自治区|特别行政区)$", "", name)
        if p == "13":
            add(short, "province", p)  # 河北; other short names (吉林, 海南) are ambiguous
    for r in city_rows:
        if r["name"] != "市辖区" and not r["name"].endswith("直辖县级行政区划"):
            add(r["name"], "city", r["code"])
        if r["code"].startswith("13"):
            add(city4[r["code"]], "city", r["code"])  # 石家庄, 保定 stand alone in addresses
    for c in counties.values():
        if c.name != "市辖区":
            add(c.name, "county", c.code)
    for old, code in old_names:
        if code in counties:
            add(old, "county", code)
    # A Hebei county turned district (满城县 → 满城区, 藁城市 → 藁城区, 2014–2015, before the NBS
    # releases the history table starts at) keeps its old suffix in many registered addresses.
    for c in counties.values():
        m = re.fullmatch(r"(.{2,})(县|区|市)", c.name)
        if c.province_code == "13" and m and c.code[4:5] != "7":
            for suffix in ("县", "区", "市"):
                alt = m.group(1) + suffix
                if alt != c.name and alt not in index:
                    add(alt, "county", c.code)
    # Hebei's statistical units (xxxx7x: 高新区, 经开区, 新区) as addresses write them:
    # 石家庄高新区, 石家庄市高新技术产业开发区, 白沟新城, 渤海新区.
    generic = {"高新区", "高新技术产业开发区", "经济开发区", "经济技术开发区", "经开区", "开发区"}
    for c in counties.values():
        if c.province_code != "13" or c.code[4] != "7":
            continue
        rest = c.name.removeprefix("河北").removeprefix(c.city).removeprefix("市")
        variants = {
            rest,
            rest.replace("高新技术产业开发区", "高新区"),
            rest.replace("经济技术开发区", "经开区"),
            rest.replace("经济技术开发区", "经济开发区"),
        }
        for v in variants:
            for alias in (c.city + v, c.city + "市" + v) + (() if v in generic else (v,)):
                if alias not in index:
                    add(alias, "county", c.code)
    add("雄安新区", "city", "1306")  # its three counties are filed under 保定 in the 2023 table
    d.names = index
    d.max_name = max(map(len, index))
    return d


def locate(
    divisions: Divisions,
    code: str | None,
    code_valid: bool,
    address: str,
    region: str,
    province: str,
) -> Location:
    """The county a firm is registered in: from characters 3–8 of a valid code (the registering
    authority's division), else from 注册地址, else from 地区; failing a county, the city."""
    city4: str | None = None
    source = "none"
    if code_valid and code:
        division = code[2:8]
        county = divisions.county_of_code(division)
        if county is not None:
            return Location(county.code, county.name, county.city, "credit_code")
        city4 = divisions.city_code_of(division)
        if city4:
            source = "credit_code"
    # A valid code's first two digits name the province even where its county is unknown.
    province2 = code[2:4] if code_valid and code and code[2:4] in divisions.province_names else None
    if province:
        provinces = [c for kind, c in divisions.scan(province) if kind == "province"]
        if len(provinces) == 1:
            province2 = provinces[0]
    for text, by in ((address, "address"), (region, "region")):
        if not text:
            continue
        county, found_city = divisions.locate_text(text, city4=city4, province2=province2)
        if county is not None:
            return Location(county.code, county.name, county.city, by)
        if found_city and source in ("none", "credit_code") and found_city != city4:
            city4, source = found_city, by  # the address's city is the current one
    if city4:
        return Location(None, None, divisions.city_name(city4), source)
    return NOWHERE


# -- one row --------------------------------------------------------------------------------------
def row_key(code: str | None, name: str, address: str) -> str:
    """The dedupe key: the code when valid, else a hash of name and address."""
    if code is not None and uscc_valid(code):
        return code
    return hashlib.sha1(f"{name}\x1f{address}".encode()).hexdigest()


def clean_text(value: str, limit: int) -> str | None:
    """The cell as written (a firm's name keeps its full-width brackets), None for N/A. NUL is
    dropped: PostgreSQL cannot store it, and one stray NUL must not sink a 100,000-row import."""
    s = value.replace("\x00", "").strip() if value else ""
    if not s or (len(s) <= 4 and is_missing(s)):
        return None
    return s[:limit]


def header_columns(header: list[str]) -> tuple[dict[str, list[int]], list[str], list[str]]:
    """(column -> indexes, headers ignored, problems) for a header row.

    Two headers for one column: 地区-like ones are all read; otherwise the one listed earlier in
    COLUMNS wins (注册资金 over 注册资本) and the other is ignored. The very same header twice is
    a problem: nobody can tell which one is meant.
    """
    columns: dict[str, list[int]] = {}
    rank: dict[str, int] = {}
    seen: dict[str, int] = {}
    ignored: list[str] = []
    problems: list[str] = []
    for j, h in enumerate(header):
        key = norm_header(h)
        if key and key in seen:
            problems.append(
                f"第 1 行 第 {j + 1} 列 表头“{h}”与第 {seen[key] + 1} 列相同，请只保留一列"
            )
            continue
        seen[key] = j
        col = HEADER_LOOKUP.get(key)
        if col is None:
            if h:
                ignored.append(h)
            continue
        priority = ALIAS_RANK[key]
        if col not in columns:
            columns[col], rank[col] = [j], priority
        elif col in MULTI:
            columns[col].append(j)
        elif priority < rank[col]:
            ignored.append(header[columns[col][0]])
            columns[col], rank[col] = [j], priority
        else:
            ignored.append(h)
    return columns, ignored, problems
