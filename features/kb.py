"""Typed knowledge base of the Hebei policy: zones, chains, parks, rules and reference tables.

Loads `data/kb/*.yaml` and `data/reference/*.csv`, validates every cross-reference, and returns one
immutable `KnowledgeBase`. Errors name the file, the record and the field (see `KBError`).
"""

from __future__ import annotations

import csv
import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

DATA_DIR = Path(__file__).resolve().parents[1] / "data"
KB_FILES = (
    "zones.yaml",
    "chains.yaml",
    "parks.yaml",
    "rules.yaml",
    "devzones.yaml",
    "industry_terms.yaml",
    "gbt_chain_map.yaml",
)
# Optional files: evidence from public lists kept apart from the policy's own records, the GB/T
# classes of every place, and hand-written synonyms (each with a note).
OPTIONAL_KB_FILES = (
    "county_clusters.yaml",
    "evidence_lists.yaml",
    "place_classes.yaml",
    "synonyms.yaml",
)
ORIGINS = ("北京", "天津", "河北", "其他省份", "境外")
CHAIN_GROUPS = {
    "strategic_emerging": "战略性新兴产业链",
    "traditional": "优势传统产业链",
    "producer_services": "现代生产性服务业产业链",
}
PARK_KINDS = {
    "base": "产业基地园区",
    "cluster": "县域特色产业集群",
    "service_park": "服务业集聚园区",
    "demonstration": "示范区/示范基地",
    "devzone_national": "国家级开发区",
    "devzone_provincial": "省级开发区",
    "county_cluster": "县域特色产业集群（公开名单）",
    "county": "县域",
}
NAMED_PARK_KINDS = frozenset({"base", "cluster", "service_park", "demonstration"})
CATALOGUE_KINDS = frozenset({"devzone_national", "devzone_provincial"})
CATALOGUE = "中国开发区审核公告目录（2018年版）"


class KBError(ValueError):
    """A knowledge-base file that cannot be used; the message names file, record and field."""

    def __init__(self, file: str, record: str | None, fld: str | None, message: str) -> None:
        self.file, self.record, self.field = file, record, fld
        where = file
        if record:
            where += f" 记录 {record}"
        if fld:
            where += f" 字段 {fld}"
        super().__init__(f"{where}: {message}")


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


class ChainRef(_Record):
    chain_id: str
    segment_id: str | None = None


class Segment(_Record):
    segment_id: str
    name: str
    keywords: tuple[str, ...] = ()
    synonyms: tuple[str, ...] = ()
    source: str
    also_source: tuple[str, ...] = ()
    note: str | None = None
    # Which policy document the record rests on, and a draft's review state (see DraftMeta).
    document_id: str | None = None
    status: str | None = None
    confidence: float | None = None
    supersedes: str | None = None


class Chain(_Record):
    chain_id: str
    name: str
    group: Literal["strategic_emerging", "traditional", "producer_services"]
    direction: str = ""
    keywords: tuple[str, ...] = ()
    synonyms: tuple[str, ...] = ()
    source: str
    also_source: tuple[str, ...] = ()
    segments: tuple[Segment, ...]
    note: str | None = None
    # Which policy document the record rests on, and a draft's review state (see DraftMeta).
    document_id: str | None = None
    status: str | None = None
    confidence: float | None = None
    supersedes: str | None = None

    @property
    def group_name(self) -> str:
        return CHAIN_GROUPS[self.group]


class Zone(_Record):
    zone_id: str
    name: str
    kind: Literal["core", "demonstration"]
    cities: tuple[str, ...]
    positioning: str
    focus_chains: tuple[ChainRef, ...] = ()
    focus_terms: tuple[str, ...] = ()
    source: str
    also_source: tuple[str, ...] = ()
    note: str | None = None
    # Which policy document the record rests on, and a draft's review state (see DraftMeta).
    document_id: str | None = None
    status: str | None = None
    confidence: float | None = None
    supersedes: str | None = None


class ClassRef(_Record):
    """A GB/T 4754-2017 class (4 digits; a group or division of 3 or 2 digits for a broad
    主导产业 such as 装备制造) a place hosts, with where that came from."""

    code: str
    weight: float = 1.0
    via: Literal["reviewed", "classifier", "chain_map"] = "classifier"
    basis: str | None = None  # the words of the place the class was derived from

    @field_validator("code", mode="before")
    @classmethod
    def _code_as_text(cls, v: Any) -> Any:
        return f"{v:04d}" if isinstance(v, int) else v


class Park(_Record):
    park_id: str
    name: str
    kind: Literal[
        "base",
        "cluster",
        "service_park",
        "demonstration",
        "devzone_national",
        "devzone_provincial",
        "county_cluster",
        "county",
    ]
    city: str
    county: str | None = None
    zone_id: str
    chains: tuple[ChainRef, ...] = ()
    keywords: tuple[str, ...] = ()
    devzone_code: str | None = None
    devzone_note: str | None = None
    source: str
    also_source: tuple[str, ...] = ()
    note: str | None = None
    # Which policy document the record rests on, and a draft's review state (see DraftMeta).
    document_id: str | None = None
    status: str | None = None
    confidence: float | None = None
    supersedes: str | None = None
    # Filled from the 2018 catalogue for catalogue zones and for named bases linked to one.
    level: str | None = None
    zone_type: str | None = None
    approved: str | None = None
    area_ha: float | None = None
    leading_industries: tuple[str, ...] = ()
    lon: float | None = None
    lat: float | None = None
    classes: tuple[ClassRef, ...] = ()  # GB/T classes hosted (place_classes.yaml)
    county_code: str | None = None
    lists: tuple[str, ...] = ()  # evidence lists naming this place (county clusters)

    @property
    def kind_name(self) -> str:
        return PARK_KINDS[self.kind]

    @property
    def named_by_policy(self) -> bool:
        return self.kind in NAMED_PARK_KINDS

    @property
    def from_catalogue(self) -> bool:
        return self.kind in CATALOGUE_KINDS

    @property
    def from_list(self) -> bool:
        """A county cluster named by a public list, not by the policy."""
        return self.kind == "county_cluster"


class RuleWhen(_Record):
    zone_ids: tuple[str, ...] = ()
    park_kinds: tuple[str, ...] = ()
    park_ids: tuple[str, ...] = ()
    enterprise_chains: tuple[str, ...] = ()
    enterprise_not_chains: tuple[str, ...] = ()
    enterprise_terms: tuple[str, ...] = ()
    enterprise_not_terms: tuple[str, ...] = ()
    origins: tuple[str, ...] = ()
    park_chains: tuple[str, ...] = ()
    park_not_chains: tuple[str, ...] = ()
    min_energy_tce: float | None = None
    min_rd_intensity: float | None = None
    min_investment_wan: float | None = None
    min_land_mu: float | None = None
    # "manufacturing": the enterprise's text describes producing goods (制造/生产/加工 …), whatever
    # else it says (设计, 研发); "non_manufacturing": design-only, R&D, headquarters, services.
    enterprise_activities: tuple[Literal["manufacturing", "non_manufacturing"], ...] = ()


class Rule(_Record):
    rule_id: str
    effect: Literal["exclude", "penalty", "bonus", "warning"]
    title: str
    text: str
    when: RuleWhen = RuleWhen()
    weight: float = 0.0
    warning_code: str | None = None
    source: str
    also_source: tuple[str, ...] = ()
    note: str | None = None
    # Which policy document the record rests on, and a draft's review state (see DraftMeta).
    document_id: str | None = None
    status: str | None = None
    confidence: float | None = None
    supersedes: str | None = None


class DevzoneLocation(_Record):
    code: str
    city: str
    county: str | None = None
    zone_id: str
    extra_chains: tuple[ChainRef, ...] = ()
    note: str | None = None


class GbtMapping(_Record):
    code: str
    chains: tuple[ChainRef, ...]
    note: str | None = None

    @field_validator("code", mode="before")
    @classmethod
    def _code_as_text(cls, v: Any) -> Any:
        # YAML reads an unquoted 27 as an int; the code is text with leading zeros kept.
        return f"{v:02d}" if isinstance(v, int) else v


class EvidenceList(_Record):
    """A public list (e.g. 河北省县域特色产业集群名单) whose entries the KB carries as evidence."""

    list_id: str
    title: str
    issuer: str
    year: int | None = None
    origin: str
    terms: str
    entries: int | None = None
    captured: int | None = None
    note: str | None = None

    @property
    def citation(self) -> str:
        year = f"，{self.year}" if self.year else ""
        return f"{self.title}（{self.issuer}{year}）"


class ListEntry(_Record):
    list_id: str
    entry: str


class CountyCluster(_Record):
    cluster_id: str
    name: str
    city: str
    county: str
    county_code: str
    products: tuple[str, ...]
    chain_ids: tuple[str, ...] = ()
    lists: tuple[ListEntry, ...]
    note: str | None = None

    @field_validator("county_code", mode="before")
    @classmethod
    def _code_as_text(cls, v: Any) -> Any:
        return str(v) if isinstance(v, int) else v


class PlaceClasses(_Record):
    """The GB/T classes of one place (park, catalogue zone or county cluster)."""

    place_id: str
    classes: tuple[ClassRef, ...]
    reviewed: bool = False
    note: str | None = None

    @field_validator("place_id", mode="before")
    @classmethod
    def _id_as_text(cls, v: Any) -> Any:
        return str(v)


class Synonyms(_Record):
    """Words an enterprise uses for the same product (标准件 ↔ 紧固件); `note` says why."""

    terms: tuple[str, ...]
    note: str


CLUSTER_PREFIX = "cc_"


class Document(_Record):
    """A policy document the KB quotes (documents.yaml); `status` 现行 means in force."""

    document_id: str
    title: str
    issuer: str | None = None
    date: str | None = None
    number: str | None = None
    status: str = "现行"
    file: str | None = None
    note: str | None = None


@dataclass(frozen=True)
class Industry:
    """One row of GB/T 4754-2017."""

    code: str
    name: str
    level: int
    parent_code: str
    description: str


@dataclass(frozen=True)
class KnowledgeBase:
    zones: tuple[Zone, ...]
    chains: tuple[Chain, ...]
    parks: tuple[Park, ...]
    rules: tuple[Rule, ...]
    industries: dict[str, Industry]
    gbt_map: tuple[GbtMapping, ...]
    counties: dict[str, str]  # county name -> city name (2023 divisions)
    digest: str = ""
    evidence_lists: tuple[EvidenceList, ...] = ()
    synonyms: tuple[Synonyms, ...] = ()
    policy_title: str = "河北省人民政府关于加快推进工业转型升级建设现代化工业体系的指导意见"
    documents: tuple[Document, ...] = ()
    cited: dict[str, str] = field(default_factory=dict)  # source sentence → document_id

    @cached_property
    def document_by_id(self) -> dict[str, Document]:
        return {d.document_id: d for d in self.documents}

    def cite(self, source: str | None) -> Document | None:
        """The document a quoted sentence comes from (the first document when none is recorded)."""
        if not source:
            return None
        doc_id = self.cited.get(source)
        if doc_id in self.document_by_id:
            return self.document_by_id[doc_id]
        return self.documents[0] if self.documents else None

    @cached_property
    def chain_by_id(self) -> dict[str, Chain]:
        return {c.chain_id: c for c in self.chains}

    @cached_property
    def segment_by_id(self) -> dict[str, Segment]:
        return {s.segment_id: s for c in self.chains for s in c.segments}

    @cached_property
    def chain_of_segment(self) -> dict[str, str]:
        return {s.segment_id: c.chain_id for c in self.chains for s in c.segments}

    @cached_property
    def zone_by_id(self) -> dict[str, Zone]:
        return {z.zone_id: z for z in self.zones}

    @cached_property
    def zone_of_city(self) -> dict[str, str]:
        return {city: z.zone_id for z in self.zones for city in z.cities}

    @cached_property
    def park_by_id(self) -> dict[str, Park]:
        return {p.park_id: p for p in self.parks}

    @cached_property
    def list_by_id(self) -> dict[str, EvidenceList]:
        return {x.list_id: x for x in self.evidence_lists}

    @cached_property
    def cities(self) -> tuple[str, ...]:
        return tuple(city for z in self.zones for city in z.cities)

    def chains_for_code(self, code: str) -> tuple[ChainRef, ...]:
        """Chains for a GB/T 4754 code by longest matching prefix (letters of the section dropped)."""
        digits = code.strip().upper().lstrip("ABCDEFGHIJKLMNOPQRST")
        best: GbtMapping | None = None
        for m in self.gbt_map:
            if digits.startswith(m.code) and (best is None or len(m.code) > len(best.code)):
                best = m
        return best.chains if best else ()

    def industry(self, code: str) -> Industry | None:
        """The GB/T 4754 row for a code such as `C3612` or `3612`."""
        digits = code.strip().upper().lstrip("ABCDEFGHIJKLMNOPQRST")
        return self.industries.get(digits or code.strip().upper())


def _read_yaml(path: Path) -> Any:
    try:
        with path.open(encoding="utf-8") as fh:
            return yaml.safe_load(fh)
    except FileNotFoundError:
        raise KBError(path.name, None, None, "文件不存在") from None
    except yaml.YAMLError as exc:
        raise KBError(path.name, None, None, f"YAML 格式错误：{exc}") from None


def _parse_list(path: Path, model: type[_Record], key: str) -> list[Any]:
    raw = _read_yaml(path)
    if not isinstance(raw, list):
        raise KBError(path.name, None, None, "应为记录列表")
    out = []
    for i, item in enumerate(raw, start=1):
        label = f"#{i}"
        if isinstance(item, dict) and item.get(key):
            label += f" ({key}={item[key]})"
        if not isinstance(item, dict):
            raise KBError(path.name, label, None, "应为键值映射")
        try:
            out.append(model.model_validate(item))
        except ValidationError as exc:
            err = exc.errors()[0]
            loc = ".".join(str(p) for p in err["loc"]) or None
            msg = "缺少此字段" if err["type"] == "missing" else err["msg"]
            if err["type"] == "extra_forbidden":
                msg = "未知字段（拼写错误？）"
            raise KBError(path.name, label, loc, msg) from None
    return out


def _check_unique(file: str, ids: Iterable[str], what: str) -> None:
    seen: set[str] = set()
    for i in ids:
        if i in seen:
            raise KBError(file, f"({what}={i})", what, f"重复的 {what}：{i}")
        seen.add(i)


def _check_sources(file: str, records: Iterable[Any], key: str) -> None:
    for r in records:
        if not (r.source or "").strip():
            raise KBError(
                file, f"({key}={getattr(r, key)})", "source", "缺少政策原文依据（source）"
            )


def _split_terms(text: str) -> tuple[str, ...]:
    for sep in "，,；;/":
        text = text.replace(sep, "、")
    return tuple(t.strip() for t in text.split("、") if t.strip())


def _read_csv(path: Path) -> list[dict[str, str]]:
    try:
        with path.open(encoding="utf-8", newline="") as fh:
            return list(csv.DictReader(fh))
    except FileNotFoundError:
        raise KBError(path.name, None, None, "参考数据文件不存在") from None


def _float(v: str | None) -> float | None:
    try:
        return float(v) if v not in (None, "") else None
    except ValueError:
        return None


def _catalogue_parks(
    rows: list[dict[str, str]],
    locations: dict[str, DevzoneLocation],
    terms: dict[str, tuple[ChainRef, ...]],
) -> dict[str, Park]:
    parks: dict[str, Park] = {}
    for row in rows:
        code = row["代码"]
        loc = locations.get(code)
        if loc is None:
            raise KBError("devzones.yaml", f"(code={code})", "code", "目录中的开发区没有位置记录")
        items = _split_terms(row["主导产业"])
        chains: list[ChainRef] = []
        for item in items:
            if item not in terms:
                raise KBError(
                    "industry_terms.yaml",
                    f"({item})",
                    None,
                    f"开发区 {code} 的主导产业“{item}”未映射",
                )
            chains.extend(terms[item])
        chains.extend(loc.extra_chains)
        bad_geo = row.get("geocode_flag") == "geocode_wrong"
        parks[code] = Park(
            park_id=code,
            name=row["开发区名称"],
            kind="devzone_national" if row["批准级别"] == "国务院" else "devzone_provincial",
            city=loc.city,
            county=loc.county,
            zone_id=loc.zone_id,
            chains=tuple(dict.fromkeys(chains)),
            keywords=items,
            source=f"{CATALOGUE}：{code} {row['开发区名称']}（{row['批准级别']}批准，"
            f"{row['开发区类型']}），主导产业：{row['主导产业']}",
            level=row["批准级别"],
            zone_type=row["开发区类型"],
            approved=row["批准时间"],
            area_ha=_float(row["核准面积_公顷"]),
            leading_industries=items,
            lon=None if bad_geo else _float(row["经度_WGS84"]),
            lat=None if bad_geo else _float(row["纬度_WGS84"]),
        )
    return parks


DIVISIONS = "统计用区划代码（2023年）"
COUNTY_PREFIX = "county_"
# The three counties of 雄安新区 are listed under 保定 in the 2023 table; the KB names the new area
# as a city of its own (zones.yaml), as it does the two county-level cities under direct provincial
# administration, 辛集 and 定州.
XIONGAN_COUNTIES = ("容城县", "雄县", "安新县")


def county_city(name: str, city_name: str, cities: Iterable[str]) -> str:
    """The KB city of a county-level division of the 2023 table."""
    if name in XIONGAN_COUNTIES:
        return "雄安新区"
    own = name.removesuffix("市")
    return own if own in set(cities) else city_name.removesuffix("市")


def county_places(
    rows: Iterable[dict[str, str]], zone_of_city: dict[str, str], parks: Iterable[Park]
) -> list[Park]:
    """Every county-level division of the 2023 table as a place beside the parks (`county_<code>`,
    kind county): a registered firm's natural answer is often its county's cluster. A county
    serves the chains of the KB's parks that lie in it."""
    chains: dict[tuple[str, str], list[ChainRef]] = {}
    for p in parks:
        if p.county:
            chains.setdefault((p.city, p.county), []).extend(p.chains)
    out = []
    for row in rows:
        if row["level"] != "县级":
            continue
        city = county_city(row["name"], row["city_name"], zone_of_city)
        out.append(
            Park(
                park_id=f"{COUNTY_PREFIX}{row['code']}",
                name=row["name"],
                kind="county",
                city=city,
                county=row["name"],
                zone_id=zone_of_city[city],
                chains=tuple(dict.fromkeys(chains.get((city, row["name"]), []))),
                source=f"{DIVISIONS}：{row['code']} {row['city_name']}{row['name']}",
            )
        )
    return out


def _county_clusters(
    kb_dir: Path,
    chain_ids: set[str],
    zone_of_city: dict[str, str],
    counties: dict[str, str],
    county_by_code: dict[str, str],
) -> tuple[list[EvidenceList], list[Park]]:
    """County clusters of public lists as places of their own, each citing the lists naming it."""
    if not (kb_dir / "county_clusters.yaml").exists():
        return [], []
    lists: list[EvidenceList] = _parse_list(kb_dir / "evidence_lists.yaml", EvidenceList, "list_id")
    _check_unique("evidence_lists.yaml", (x.list_id for x in lists), "list_id")
    by_id = {x.list_id: x for x in lists}
    clusters: list[CountyCluster] = _parse_list(
        kb_dir / "county_clusters.yaml", CountyCluster, "cluster_id"
    )
    _check_unique("county_clusters.yaml", (c.cluster_id for c in clusters), "cluster_id")
    out: list[Park] = []
    for c in clusters:
        label = f"(cluster_id={c.cluster_id})"
        file = "county_clusters.yaml"
        if county_by_code.get(c.county_code) != c.county:
            raise KBError(file, label, "county_code", f"区划代码 {c.county_code} 不是 '{c.county}'")
        city = county_city(c.county, counties[c.county], zone_of_city)
        if city != c.city:
            raise KBError(file, label, "city", f"'{c.county}' 属于 '{city}'，不是 '{c.city}'")
        for i, ch in enumerate(c.chain_ids):
            if ch not in chain_ids:
                raise KBError(file, label, f"chain_ids[{i}]", f"产业链 '{ch}' 不存在")
        for i, ref in enumerate(c.lists):
            if ref.list_id not in by_id:
                raise KBError(file, label, f"lists[{i}].list_id", f"名单 '{ref.list_id}' 不存在")
        out.append(
            Park(
                park_id=CLUSTER_PREFIX + c.cluster_id,
                name=c.name,
                kind="county_cluster",
                city=c.city,
                county=c.county,
                county_code=c.county_code,
                zone_id=zone_of_city[c.city],
                chains=tuple(ChainRef(chain_id=ch) for ch in c.chain_ids),
                keywords=c.products,
                source="；".join(f"{by_id[r.list_id].citation}：{r.entry}" for r in c.lists),
                lists=tuple(dict.fromkeys(r.list_id for r in c.lists)),
                note=c.note,
            )
        )
    return lists, out


def _county_classes(parks: list[Park]) -> list[Park]:
    """A county place hosts the classes of the places that lie in it (each at its best weight),
    so it is compared in class space like them rather than by its chains alone."""
    best: dict[tuple[str, str], dict[str, ClassRef]] = {}
    for p in parks:
        if p.kind != "county" and p.county:
            here = best.setdefault((p.city, p.county), {})
            for ref in p.classes:
                if ref.code not in here or here[ref.code].weight < ref.weight:
                    here[ref.code] = ref
    return [
        p.model_copy(update={"classes": tuple(best[(p.city, p.county or "")].values())})
        if p.kind == "county" and (p.city, p.county or "") in best
        else p
        for p in parks
    ]


def _attach_classes(kb_dir: Path, parks: list[Park], industries: dict[str, Industry]) -> list[Park]:
    """Give each place the GB/T classes place_classes.yaml records for it."""
    path = kb_dir / "place_classes.yaml"
    if not path.exists():
        return parks
    records: list[PlaceClasses] = _parse_list(path, PlaceClasses, "place_id")
    _check_unique("place_classes.yaml", (r.place_id for r in records), "place_id")
    ids = {p.park_id for p in parks}
    by_place: dict[str, PlaceClasses] = {}
    for r in records:
        label = f"(place_id={r.place_id})"
        if r.place_id not in ids:
            raise KBError(
                "place_classes.yaml", label, "place_id", "没有此地点（园区、开发区或集群）"
            )
        for i, ref in enumerate(r.classes):
            ind = industries.get(ref.code)
            if ind is None or ind.level not in (2, 3, 4):
                raise KBError(
                    "place_classes.yaml",
                    label,
                    f"classes[{i}].code",
                    f"'{ref.code}' 不是 GB/T 4754-2017 的大类、中类或小类代码",
                )
        by_place[r.place_id] = r
    return [
        p.model_copy(update={"classes": by_place[p.park_id].classes})
        if p.park_id in by_place
        else p
        for p in parks
    ]


def load_kb(data_dir: Path | str = DATA_DIR) -> KnowledgeBase:
    """Load and validate the whole knowledge base; raise `KBError` on the first problem."""
    data_dir = Path(data_dir)
    kb_dir, ref_dir = data_dir / "kb", data_dir / "reference"
    digest = hashlib.sha256()
    for name in KB_FILES + OPTIONAL_KB_FILES:
        p = kb_dir / name
        if p.exists():
            digest.update(p.read_bytes())

    zones: list[Zone] = _parse_list(kb_dir / "zones.yaml", Zone, "zone_id")
    chains: list[Chain] = _parse_list(kb_dir / "chains.yaml", Chain, "chain_id")
    named: list[Park] = _parse_list(kb_dir / "parks.yaml", Park, "park_id")
    rules: list[Rule] = _parse_list(kb_dir / "rules.yaml", Rule, "rule_id")
    documents, zones, chains, named, rules = _apply_policies(
        kb_dir, digest, zones, chains, named, rules
    )
    locations: list[DevzoneLocation] = _parse_list(
        kb_dir / "devzones.yaml", DevzoneLocation, "code"
    )
    gbt_map: list[GbtMapping] = _parse_list(kb_dir / "gbt_chain_map.yaml", GbtMapping, "code")
    raw_terms = _read_yaml(kb_dir / "industry_terms.yaml")
    if not isinstance(raw_terms, dict):
        raise KBError("industry_terms.yaml", None, None, "应为“主导产业词 → 产业链列表”的映射")
    terms: dict[str, tuple[ChainRef, ...]] = {}
    for term, refs in raw_terms.items():
        try:
            terms[str(term)] = tuple(ChainRef.model_validate(r) for r in (refs or []))
        except (ValidationError, TypeError) as exc:
            raise KBError("industry_terms.yaml", f"({term})", "chains", str(exc)) from None

    _check_unique("zones.yaml", (z.zone_id for z in zones), "zone_id")
    _check_unique("chains.yaml", (c.chain_id for c in chains), "chain_id")
    _check_unique("chains.yaml", (s.segment_id for c in chains for s in c.segments), "segment_id")
    _check_unique("parks.yaml", (p.park_id for p in named), "park_id")
    _check_unique("rules.yaml", (r.rule_id for r in rules), "rule_id")
    _check_unique("devzones.yaml", (d.code for d in locations), "code")
    _check_unique("parks.yaml", (p.devzone_code for p in named if p.devzone_code), "devzone_code")
    _check_unique("zones.yaml", (c for z in zones for c in z.cities), "cities")
    for file, recs, key in (
        ("zones.yaml", zones, "zone_id"),
        ("chains.yaml", chains, "chain_id"),
        ("chains.yaml", [s for c in chains for s in c.segments], "segment_id"),
        ("parks.yaml", named, "park_id"),
        ("rules.yaml", rules, "rule_id"),
    ):
        _check_sources(file, recs, key)

    chain_ids = {c.chain_id for c in chains}
    seg_chain = {s.segment_id: c.chain_id for c in chains for s in c.segments}
    zone_of_city = {city: z.zone_id for z in zones for city in z.cities}
    zone_ids = set(zone_of_city.values()) | {z.zone_id for z in zones}

    def check_refs(file: str, label: str, fld: str, refs: Iterable[ChainRef]) -> None:
        for i, ref in enumerate(refs):
            if ref.chain_id not in chain_ids:
                raise KBError(
                    file, label, f"{fld}[{i}].chain_id", f"产业链 '{ref.chain_id}' 不存在"
                )
            if ref.segment_id is not None:
                if ref.segment_id not in seg_chain:
                    raise KBError(
                        file, label, f"{fld}[{i}].segment_id", f"产业环节 '{ref.segment_id}' 不存在"
                    )
                if seg_chain[ref.segment_id] != ref.chain_id:
                    raise KBError(
                        file,
                        label,
                        f"{fld}[{i}].segment_id",
                        f"产业环节 '{ref.segment_id}' 不属于产业链 '{ref.chain_id}'",
                    )

    def check_place(file: str, label: str, city: str, county: str | None, zone_id: str) -> None:
        if city not in zone_of_city:
            raise KBError(file, label, "city", f"城市 '{city}' 不在任何区域（zones.yaml）中")
        if zone_id not in zone_ids:
            raise KBError(file, label, "zone_id", f"区域 '{zone_id}' 不存在")
        if zone_of_city[city] != zone_id:
            raise KBError(
                file,
                label,
                "zone_id",
                f"城市 '{city}' 属于区域 '{zone_of_city[city]}'，不是 '{zone_id}'",
            )

    for c in chains:
        for s in c.segments:
            if not s.segment_id.startswith(c.chain_id + "."):
                raise KBError(
                    "chains.yaml",
                    f"(segment_id={s.segment_id})",
                    "segment_id",
                    f"应以 '{c.chain_id}.' 开头",
                )
    for z in zones:
        check_refs("zones.yaml", f"(zone_id={z.zone_id})", "focus_chains", z.focus_chains)
    for p in named:
        label = f"(park_id={p.park_id})"
        check_place("parks.yaml", label, p.city, p.county, p.zone_id)
        check_refs("parks.yaml", label, "chains", p.chains)
        if not p.chains:
            raise KBError("parks.yaml", label, "chains", "至少需要一条产业链")
    for d in locations:
        label = f"(code={d.code})"
        check_place("devzones.yaml", label, d.city, d.county, d.zone_id)
        check_refs("devzones.yaml", label, "extra_chains", d.extra_chains)
    for term, refs in terms.items():
        check_refs("industry_terms.yaml", f"({term})", "chains", refs)
    for m in gbt_map:
        check_refs("gbt_chain_map.yaml", f"(code={m.code})", "chains", m.chains)
    park_ids = {p.park_id for p in named}
    for r in rules:
        label = f"(rule_id={r.rule_id})"
        w = r.when
        for fld, values, known in (
            ("when.zone_ids", w.zone_ids, zone_ids),
            ("when.park_kinds", w.park_kinds, set(PARK_KINDS)),
            ("when.enterprise_chains", w.enterprise_chains, chain_ids),
            ("when.enterprise_not_chains", w.enterprise_not_chains, chain_ids),
            ("when.park_chains", w.park_chains, chain_ids),
            ("when.park_not_chains", w.park_not_chains, chain_ids),
            ("when.origins", w.origins, set(ORIGINS)),
        ):
            for v in values:
                if v not in known:
                    raise KBError("rules.yaml", label, fld, f"取值 '{v}' 不存在")
        for pid in w.park_ids:
            if pid not in park_ids:
                raise KBError("rules.yaml", label, "when.park_ids", f"园区 '{pid}' 不存在")

    # Reference tables.
    catalogue_rows = _read_csv(ref_dir / "hebei_devzones_2018.csv")
    loc_by_code = {d.code: d for d in locations}
    codes = {r["代码"] for r in catalogue_rows}
    for d in locations:
        if d.code not in codes:
            raise KBError("devzones.yaml", f"(code={d.code})", "code", "目录中没有此开发区代码")
    catalogue = _catalogue_parks(catalogue_rows, loc_by_code, terms)
    for p in named:
        if p.devzone_code and p.devzone_code not in catalogue:
            raise KBError(
                "parks.yaml",
                f"(park_id={p.park_id})",
                "devzone_code",
                f"目录中没有开发区代码 '{p.devzone_code}'",
            )

    industries: dict[str, Industry] = {}
    for row in _read_csv(ref_dir / "gbt4754_2017.csv"):
        industries[row["code"]] = Industry(
            code=row["code"],
            name=row["name"],
            level=int(row["level"]),
            parent_code=row["parent_code"],
            description=row["description"],
        )
    for m in gbt_map:
        if m.code not in industries:
            raise KBError(
                "gbt_chain_map.yaml", f"(code={m.code})", "code", "GB/T 4754-2017 中没有此代码"
            )
    division_rows = _read_csv(ref_dir / "hebei_city_county.csv")
    county_rows = [r for r in division_rows if r["level"] == "县级"]
    counties = {row["name"]: row["city_name"].removesuffix("市") for row in county_rows}
    county_by_code = {row["code"]: row["name"] for row in county_rows}

    # A named base that is the same place as a catalogue zone absorbs it: one record, both sources.
    parks: list[Park] = []
    for p in named:
        if p.devzone_code:
            z = catalogue.pop(p.devzone_code)
            p = p.model_copy(
                update={
                    "chains": tuple(dict.fromkeys(p.chains + z.chains)),
                    "also_source": p.also_source + (z.source,),
                    "level": z.level,
                    "zone_type": z.zone_type,
                    "approved": z.approved,
                    "area_ha": z.area_ha,
                    "leading_industries": z.leading_industries,
                    "lon": z.lon,
                    "lat": z.lat,
                    "county": p.county or z.county,
                }
            )
        parks.append(p)
    parks.extend(catalogue.values())
    evidence_lists, clusters = _county_clusters(
        kb_dir, chain_ids, zone_of_city, counties, county_by_code
    )
    parks.extend(clusters)
    parks.extend(county_places(division_rows, zone_of_city, parks))
    parks = _county_classes(_attach_classes(kb_dir, parks, industries))
    synonyms: list[Synonyms] = (
        _parse_list(kb_dir / "synonyms.yaml", Synonyms, "terms")
        if (kb_dir / "synonyms.yaml").exists()
        else []
    )

    return KnowledgeBase(
        zones=tuple(zones),
        chains=tuple(chains),
        parks=tuple(parks),
        rules=tuple(rules),
        industries=industries,
        gbt_map=tuple(gbt_map),
        counties=counties,
        digest=digest.hexdigest()[:16],
        evidence_lists=tuple(evidence_lists),
        synonyms=tuple(synonyms),
        documents=tuple(documents),
        cited=_cited(documents, zones, chains, parks, rules),
    )


POLICY_KINDS: dict[str, tuple[type[_Record], str]] = {
    "zones": (Zone, "zone_id"),
    "chains": (Chain, "chain_id"),
    "parks": (Park, "park_id"),
    "rules": (Rule, "rule_id"),
}


def _apply_policies(
    kb_dir: Path, digest: Any, *lists: list[Any]
) -> tuple[list[Document], list[Zone], list[Chain], list[Park], list[Rule]]:
    """Records applied from reviewed drafts (`kb/policies/<document_id>.yaml`, oldest document
    first) join the hand-built lists; one with the id of an existing record replaces it, and keeps
    in `supersedes` the document it replaced (a newer document wins where two conflict)."""
    documents: list[Document] = []
    path = kb_dir / "documents.yaml"
    if path.exists():
        digest.update(path.read_bytes())
        documents = _parse_list(path, Document, "document_id")
        _check_unique("documents.yaml", (d.document_id for d in documents), "document_id")
    by_id = {d.document_id: d for d in documents}
    base_doc = documents[0].document_id if documents else None
    merged = dict(zip(POLICY_KINDS, (list(x) for x in lists), strict=True))
    overlays = []
    for f in sorted((kb_dir / "policies").glob("*.yaml")) if (kb_dir / "policies").is_dir() else []:
        digest.update(f.read_bytes())
        raw = _read_yaml(f) or {}
        if not isinstance(raw, dict):
            raise KBError(f"policies/{f.name}", None, None, "应为“记录类别 → 记录列表”的映射")
        doc_id = f.stem
        if doc_id not in by_id:
            raise KBError(f"policies/{f.name}", None, None, f"documents.yaml 中没有文件 '{doc_id}'")
        overlays.append((by_id[doc_id].date or "", f, doc_id, raw))
    for _date, f, doc_id, raw in sorted(overlays, key=lambda t: (t[0], t[1].name)):
        for kind, (model, key) in POLICY_KINDS.items():
            items = raw.get(kind) or []
            tmp = f.parent / f"{f.stem}.{kind}"
            recs = _parse_items(tmp.name, items, model, key)
            index = {getattr(r, key): i for i, r in enumerate(merged[kind])}
            for r in recs:
                r = r.model_copy(update={"document_id": r.document_id or doc_id})
                i = index.get(getattr(r, key))
                if i is None:
                    merged[kind].append(r)
                    continue
                old = merged[kind][i]
                merged[kind][i] = r.model_copy(update={"supersedes": old.document_id or base_doc})
    return (
        documents,
        merged["zones"],
        merged["chains"],
        merged["parks"],
        merged["rules"],
    )


def _parse_items(file: str, items: Any, model: type[_Record], key: str) -> list[Any]:
    if not isinstance(items, list):
        raise KBError(file, None, None, "应为记录列表")
    out = []
    for i, item in enumerate(items, start=1):
        label = f"#{i}" + (
            f" ({key}={item[key]})" if isinstance(item, dict) and item.get(key) else ""
        )
        try:
            out.append(model.model_validate(item))
        except ValidationError as exc:
            err = exc.errors()[0]
            loc = ".".join(str(p) for p in err["loc"]) or None
            raise KBError(file, label, loc, err["msg"]) from None
    return out


def _cited(documents: list[Document], *lists: Iterable[Any]) -> dict[str, str]:
    base = documents[0].document_id if documents else ""
    out: dict[str, str] = {}
    for recs in lists:
        for r in recs:
            if getattr(r, "from_catalogue", False) or getattr(r, "from_list", False):
                continue  # quotes the 2018 catalogue or a public list, not a policy document
            items = [r, *getattr(r, "segments", ())]
            for x in items:
                doc = x.document_id or base
                for src in (x.source, *getattr(x, "also_source", ())):
                    if src and (doc != base or src not in out):
                        out[src] = doc
    return out


def main(argv: list[str] | None = None) -> int:
    """`python -m features.kb check [目录]`: every problem at once, in Chinese (features/kb_check.py)."""
    from features.kb_check import main as check_main  # it imports this module's types

    return check_main(argv)


if __name__ == "__main__":
    raise SystemExit(main())
