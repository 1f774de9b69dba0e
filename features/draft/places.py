"""Named places of a policy: bases, parks and county clusters, with city and county resolved
against the 2023 administrative divisions (data/reference/{provinces,cities,areas}.csv).

Place names in policies are written the way officials speak: full names (正定县), short names
(正定), runs of one-character abbreviations (廊保 = 廊坊、保定; 怀涿昌抚卢), or inside brackets
(特种气体（肥乡）产业园). `PlaceResolver` reads all of these; `extract_places` finds the
enumerations that name places ("加快推进A、B、C等基地园区建设").
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from features.draft.text import Sentence, with_lead

COUNTY_SUFFIXES = (
    "回族自治县",
    "满族自治县",
    "蒙古族自治县",
    "自治县",
    "新区",
    "新城",
    "县",
    "区",
    "市",
    "旗",
)
CITY_SUFFIXES = ("市", "地区", "盟")
# Statistical units (开发区, 管理区) have no short name: their short forms are ordinary words.
_STAT_UNIT = re.compile(r"开发区|高新|经济|工业园|管理区|园区|农场|矿区")
PLACE_SUFFIX = re.compile(
    r"(产业基地|基地|产业园|园区|园|产业集群|集群|示范区|示范基地|产业带|工业区|食品城|门窗城|生态城|设计港|设计广场|设计廊|分园|工业遗址)$"
)
_QUANTITY = re.compile(r"^(一批|一个|若干|多个|\d+个|[一二三四五六七八九十百千]+个)")


@dataclass(frozen=True)
class Division:
    name: str  # full name as in the divisions table
    city: str  # the city name used by the KB (prefecture without 市, or a KB city such as 定州)
    county: str | None
    province_code: str
    level: str  # city | county


@dataclass(frozen=True)
class ResolvedPlace:
    city: str
    county: str | None
    matched: str  # the words of the document that named it
    confidence: float
    note: str | None = None


@dataclass
class Divisions:
    """The 2023 divisions, indexed by every name a policy may use."""

    provinces: dict[str, str]  # code → name
    by_alias: dict[str, list[Division]] = field(default_factory=dict)
    city_initials: dict[str, dict[str, list[Division]]] = field(default_factory=dict)
    county_initials: dict[str, dict[str, list[Division]]] = field(default_factory=dict)

    @classmethod
    def load(cls, ref_dir: Path, kb_cities: Iterable[str] = ()) -> Divisions:
        """The divisions under `ref_dir`, read once per process (they are never modified)."""
        return _load_divisions(Path(ref_dir), tuple(sorted(set(kb_cities))))

    @classmethod
    def read(cls, ref_dir: Path, kb_cities: Iterable[str] = ()) -> Divisions:
        provinces = {r["code"]: r["name"] for r in _csv(ref_dir / "provinces.csv")}
        cities = {r["code"]: r for r in _csv(ref_dir / "cities.csv")}
        kb_cities = set(kb_cities)
        d = cls(provinces)
        for r in cities.values():
            name = r["name"]
            pcode = r["provinceCode"]
            if name == "市辖区":  # a municipality's city row: the province is the city
                name = provinces.get(pcode, name)
            short = _strip(name, CITY_SUFFIXES)
            div = Division(name, short, None, pcode, "city")
            d._add(name, div)
            if len(short) >= 2:
                d._add(short, div)
                d.city_initials.setdefault(pcode, {}).setdefault(short[0], []).append(div)
        for r in _csv(ref_dir / "areas.csv"):
            name, pcode = r["name"], r["provinceCode"]
            city_row = cities.get(r["cityCode"])
            if city_row is None:
                continue
            cname = city_row["name"]
            if cname == "市辖区":
                cname = provinces.get(pcode, cname)
            city = _strip(cname, CITY_SUFFIXES)
            short = _strip(name, COUNTY_SUFFIXES)
            # A county-level city the KB keeps as a city of its own (定州, 辛集).
            if short in kb_cities:
                city = short
            div = Division(name, city, name, pcode, "county")
            d._add(name, div)
            if _STAT_UNIT.search(name):
                continue
            if name.startswith(city) and len(name) > len(city) + 1:  # 沧州渤海新区 → 渤海新区
                rest = name[len(city) :]
                d._add(rest, div)
                short = _strip(rest, COUNTY_SUFFIXES)
            if len(short) >= 2:
                d._add(short, div)
            d.county_initials.setdefault(pcode, {}).setdefault(name[0], []).append(div)
        for c in kb_cities:  # names the KB uses as cities (雄安新区) resolve to themselves
            if c not in d.by_alias:
                d._add(c, Division(c, c, None, "", "city"))
        return d

    def _add(self, alias: str, div: Division) -> None:
        lst = self.by_alias.setdefault(alias, [])
        if div not in lst:
            lst.append(div)

    def province_of(self, text: str) -> str | None:
        """The province a document is about: the one whose name or places it names most."""
        counts: dict[str, int] = {}
        for code, name in self.provinces.items():
            short = _strip(name, ("省", "市", "壮族自治区", "回族自治区", "维吾尔自治区", "自治区"))
            counts[code] = text.count(name) * 5 + text.count(short)
        for alias, divs in self.by_alias.items():
            if len(alias) >= 3 and divs[0].level == "city":
                n = text.count(alias)
                if n:
                    counts[divs[0].province_code] = counts.get(divs[0].province_code, 0) + n
        best = max(counts.items(), key=lambda kv: kv[1], default=(None, 0))
        return best[0] if best[1] > 0 else None


@lru_cache(maxsize=4)
def _load_divisions(ref_dir: Path, kb_cities: tuple[str, ...]) -> Divisions:
    return Divisions.read(ref_dir, kb_cities)


def _strip(name: str, suffixes: Iterable[str]) -> str:
    for s in suffixes:
        if name.endswith(s) and len(name) - len(s) >= 2:
            return name[: -len(s)]
    return name


def _csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


class PlaceResolver:
    """Reads the places a phrase names, preferring the document's own province."""

    def __init__(self, divisions: Divisions, province: str | None) -> None:
        self.d = divisions
        self.province = province
        self.max_alias = max((len(a) for a in divisions.by_alias), default=0)

    def _pick(self, divs: list[Division], alias: str) -> Division | None:
        inside = [x for x in divs if x.province_code in (self.province, "")]
        if self.province and not inside:
            return None  # a place of another province (北京•…) does not locate a Hebei base
        pool = inside or divs
        return pool[0] if len({(x.city, x.county) for x in pool}) == 1 else _prefer(pool, alias)

    def alias_at(self, s: str, i: int) -> tuple[Division, int] | None:
        """The longest division name starting at `s[i]`, and its length."""
        for n in range(min(self.max_alias, len(s) - i), 1, -1):
            divs = self.d.by_alias.get(s[i : i + n])
            if divs:
                div = self._pick(divs, s[i : i + n])
                if div is not None:
                    return div, n
        return None

    def initials_at(self, s: str, i: int) -> tuple[list[Division], int]:
        """A run of one-character abbreviations at `s[i]` (廊保, 怀涿昌抚卢), at least two long."""
        if not self.province:
            return [], 0
        for table, least in ((self.d.city_initials, 2), (self.d.county_initials, 3)):
            idx = table.get(self.province, {})
            run: list[list[Division]] = []
            j = i
            while j < len(s) and s[j] in idx:
                run.append(idx[s[j]])
                j += 1
            if len(run) >= least:
                return _agree(run), len(run)
        return [], 0

    def parse(self, item: str) -> tuple[list[ResolvedPlace], str]:
        """Places named at the start of `item` (or inside it) and the rest of the phrase (its theme)."""
        places: list[ResolvedPlace] = []
        i = 0
        while i < len(item):
            hit = self.alias_at(item, i)
            if hit:
                div, n = hit
                word = item[i : i + n]
                conf = 0.95 if div.level == "city" or word == div.name else 0.85
                prev = places[-1] if places else None
                if prev and div.level == "county" and prev.county is None and prev.city == div.city:
                    places[-1] = ResolvedPlace(div.city, div.county, prev.matched + word, conf)
                else:
                    places.append(ResolvedPlace(div.city, div.county, word, conf))
                i += n
                if i < len(item) and item[i] == "市" and div.level == "city":
                    i += 1
                continue
            run, n = self.initials_at(item, i)
            if n:
                for k, div in enumerate(run):
                    places.append(
                        ResolvedPlace(
                            div.city,
                            div.county,
                            item[i + k],
                            0.7 if div.level == "city" else 0.55,
                            note=f"“{item[i + k]}”按简称读作 {div.name}",
                        )
                    )
                i += n
                continue
            break
        theme = item[i:]
        if places:
            return places, theme
        # Not at the start: a city named inside (中船重工邯郸…, 中关村海淀园秦皇岛分园) or a
        # county in brackets (特种气体（肥乡）产业园).
        for j in range(1, len(item)):
            hit = self.alias_at(item, j)
            if hit and (hit[0].level == "city" or item[j - 1] in "（(•·"):
                div, n = hit
                k = j + n
                sub = self.alias_at(item, k) if k < len(item) else None
                county = div.county
                if sub and sub[0].level == "county" and sub[0].city == div.city:
                    county = sub[0].county
                return [ResolvedPlace(div.city, county, item[j : j + n], 0.8)], item
        return [], item


def _prefer(pool: list[Division], alias: str) -> Division:
    """承德 is the city (not 承德县); 沙河 is the county-level city 沙河市 of 邢台."""
    cities = [x for x in pool if x.level == "city" and x.city == alias]
    counties = [x for x in pool if x.level == "county"]
    return (cities or counties or pool)[0]


def _agree(run: list[list[Division]]) -> list[Division]:
    """Pick one reading per abbreviation, preferring cities its neighbours agree on (涿 → 涿鹿,
    not 涿州, when 怀 can only be a county of 张家口)."""
    cities = [{d.city for d in cands} for cands in run]
    out = []
    for k, cands in enumerate(run):
        neighbours: set[str] = set()
        for j in (k - 1, k + 1):
            if 0 <= j < len(run):
                neighbours |= cities[j]
        agreeing = [d for d in cands if d.city in neighbours]
        out.append((agreeing or cands)[0])
    return out


# -- finding the enumerations that name places ---------------------------------------------------
_VERBS = (
    "加快推进",
    "加快建设",
    "加快推动",
    "重点建设",
    "重点推进",
    "重点支持建设",
    "重点支持",
    "推进",
    "支持",
    "推动",
    "利用",
    "引导",
    "建设",
    "打造",
)
_VERB_RE = re.compile("|".join(_VERBS))
_ETC = re.compile(r"等([^，。；、]{0,24}?)(?=建设|，|。|；|、|植入|多点|加大|$)")
_LIST_NOUN = re.compile(
    r"(产业)?(基地园区|基地|园区|产业园|示范区|示范基地|产业带|工业区|食品城|门窗城|生态城|设计港|设计廊|分园)$"
)
_PLACE_NOUN = re.compile(r"基地|园区|产业园|集群|示范区|产业带|遗址|集聚区|试验区")


@dataclass
class PlaceMention:
    name: str
    city: str | None
    county: str | None
    kind: str
    theme: str
    sentence: Sentence
    confidence: float
    notes: list[str] = field(default_factory=list)


def _kind(name: str, list_noun: str, county: str | None = None) -> str:
    """cluster means a 县域特色产业集群: a county's, or one a list of such clusters names; a city's
    strategic 产业集群 (石家庄生物医药产业集群) is a base."""
    if "集群" in list_noun or ("集群" in name and county):
        return "cluster"
    if re.search(r"示范区|示范基地", name):
        return "demonstration"
    return "base"


def _suffix_for(list_noun: str) -> str:
    for noun, suffix in (
        ("产业集群", "产业集群"),
        ("集群", "产业集群"),
        ("遗址", "工业遗址"),
        ("产业基地", "产业基地"),
        ("基地", "基地"),
        ("产业园", "产业园"),
        ("园区", "园区"),
    ):
        if noun in list_noun:
            return suffix
    return ""


def _split_items(span: str) -> list[tuple[str, int]]:
    """Items of a place list with their group (a 、-list; groups separated by ，)."""
    items = []
    for g, group in enumerate(span.split("，")):
        for part in group.split("、"):
            part = part.strip()
            if part:
                items.append((part, g))
    return items


def extract_places(
    sentences: list[Sentence], resolver: PlaceResolver, source_text: str = ""
) -> list[PlaceMention]:
    """Every place an enumeration names, one record per city (廊保数控机床 → 廊坊…, 保定…)."""
    out: list[PlaceMention] = []
    for s in sentences:
        text = s.text
        # A numbered heading that is a place ("1.石家庄生物医药产业集群。") heads its own section.
        if s.lead and PLACE_SUFFIX.search(s.lead):
            places, theme = resolver.parse(s.lead)
            nxt = sentences[s.index + 1] if s.index + 1 < len(sentences) else None
            cited, said = s, theme
            if nxt is not None and nxt.line == s.line and source_text:
                cited = with_lead(source_text, s, nxt)
                said = f"{theme} {nxt.text}"  # its products say which chains it serves
            for p in places:
                name = s.lead if p.matched in s.lead else p.city + theme
                kind = _kind(name, "", p.county)
                out.append(PlaceMention(name, p.city, p.county, kind, said, cited, p.confidence))
        spans: list[tuple[str, str]] = []  # (list text, list noun)
        for m in _ETC.finditer(text):
            noun = m.group(1)
            head = text[: m.start()]
            verbs = list(_VERB_RE.finditer(head))
            if not verbs:
                continue
            span = head[verbs[-1].end() :]
            if re.match(r"(?:市|县|地)(?!域|级)", noun):  # 支持石家庄、邯郸等市……打造X基地
                tail = text[m.end() :]
                made = re.search(r".*(?:打造|建设)([^，。；]{2,20}?(?:基地|园区|中心))", tail)
                if made:
                    spans.append((span + "等市", made.group(1)))
                continue
            if _PLACE_NOUN.search(noun) or _mostly_places(span) or "企业" in noun:
                spans.append((span, noun))
        if not spans:
            # 加快建设曹妃甸、渤海新区沿海临港精品钢铁产业带 / 推进A示范区和B示范基地建设
            for v in _VERB_RE.finditer(text):
                rest = text[v.end() :]
                span = re.split(r"建设|[，。；]", rest, maxsplit=1)[0]
                if "、" in span or "和" in span or PLACE_SUFFIX.search(span):
                    last = re.split(r"[、和]", span)[-1]
                    noun_at_end = _LIST_NOUN.search(last)
                    if noun_at_end and not _QUANTITY.match(last):
                        spans.append((span, noun_at_end.group(0)))
                        break
        for span, noun in spans:
            out.extend(_places_of_span(span, noun, s, resolver))
    return out


def _mostly_places(span: str) -> bool:
    items = [i for i, _ in _split_items(span)]
    return bool(items) and sum(bool(PLACE_SUFFIX.search(i)) for i in items) * 2 >= len(items)


def _places_of_span(
    span: str, noun: str, s: Sentence, resolver: PlaceResolver
) -> list[PlaceMention]:
    bare_cities = span.endswith("等市")
    span = span.removesuffix("等市")
    suffix = _suffix_for(noun) if not bare_cities else ""
    only_named = "企业" in noun  # 保定长城汽车、曹妃甸工业区等骨干企业: only the 工业区 is a place
    items = _split_items(span)
    grouped = len({g for _, g in items}) > 1  # 邢台A、B，衡水C、D: a city heads each group
    raw: list[tuple[list[ResolvedPlace], str, int]] = []
    for item, group in items:
        parts = [item]
        if "和" in item:
            left, _, right = item.partition("和")
            lp, lt = resolver.parse(left)
            # 唐山和廊坊香河机器人: 和 joins two places; 怀涿昌抚卢葡萄酒和环京津乳制品产业基地园区:
            # two lists sharing the noun at the end.
            if (
                (resolver.alias_at(right, 0) and lp)
                or (lp and not lt)
                or lp
                and _LIST_NOUN.search(right)
                and not PLACE_SUFFIX.search(left)
            ):
                parts = [left, right]
        for part in parts:
            if _QUANTITY.match(part) or (only_named and not PLACE_SUFFIX.search(part)):
                continue
            part = re.sub(r"基地园区$", "基地", part)
            places, theme = resolver.parse(part)
            raw.append((places, theme, group))
    if not any(p for p, _, _ in raw):
        return []  # a list that names no place at all is a list of things, not of places
    out: list[PlaceMention] = []
    group_place: dict[int, list[ResolvedPlace]] = {}
    for k, (places, theme, group) in enumerate(raw):
        if places:
            group_place.setdefault(group, places)
        elif grouped and group in group_place and not bare_cities:
            places = group_place[group]  # 邢台太阳能光伏、玻璃深加工 → 邢台玻璃深加工
        if bare_cities:
            theme = noun
        elif not theme:
            # a bare place takes the theme of the next item that has one (唐山和廊坊香河机器人)
            theme = next((t for _, t, _ in raw[k + 1 :] if t), "")
        if not theme:
            continue
        if not places:
            # The document names the place but no division: the officer must locate it.
            name = theme if PLACE_SUFFIX.search(theme) else theme + suffix
            out.append(
                PlaceMention(
                    name,
                    None,
                    None,
                    _kind(name, noun),
                    theme,
                    s,
                    0.3,
                    ["原文未写明所在市县，请审核补充"],
                )
            )
            continue
        single = len(places) == 1
        for p in places:
            if p.matched and p.matched in theme:
                base = theme
            elif single and not bare_cities:
                base = p.matched + theme
            else:
                base = (p.county and _short(p.county) or p.city) + theme
            name = base if PLACE_SUFFIX.search(base) else base + suffix
            notes = [p.note] if p.note else []
            out.append(
                PlaceMention(
                    name,
                    p.city,
                    p.county,
                    _kind(name, noun, p.county),
                    theme,
                    s,
                    p.confidence,
                    notes,
                )
            )
    return out


def _short(county: str) -> str:
    return _strip(county, COUNTY_SUFFIXES)


_KEY_DROP = re.compile(r"国家级|国家|省级|（|）|\(|\)|•|·|市")


def place_key(name: str, resolver: PlaceResolver | None = None) -> str:
    """A place name without its division names, 国家/省级 and its kind suffix: what identifies it
    across mentions (张家口市国家可再生能源示范区 ~ 张家口可再生能源示范区)."""
    core = name
    if resolver is not None:
        i = 0
        out = []
        while i < len(core):
            hit = resolver.alias_at(core, i)
            if hit:
                i += hit[1]
                continue
            out.append(core[i])
            i += 1
        core = "".join(out)
    core = _KEY_DROP.sub("", core)
    for _ in range(3):
        new = PLACE_SUFFIX.sub("", core)
        new = re.sub(r"(产业|创新|集聚)$", "", new)
        if new == core:
            break
        core = new
    return core or name
