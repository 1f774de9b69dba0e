"""Extraction steps on a split document: its title/issuer/date, chains with segments and terms,
zones with their cities, and placement rules. Each step takes sentences and returns plain records
that cite the sentence they come from.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field

from features.draft.lexicon import Lexicon
from features.draft.places import PlaceResolver
from features.draft.text import Sentence, enumeration, parse_headings, with_lead

GROUP_WORDS = (
    ("战略性新兴", "strategic_emerging"),
    ("新兴", "strategic_emerging"),
    ("传统", "traditional"),
    ("服务", "producer_services"),
)
_NUMBERED = re.compile(r"^\d{1,2}\s*[.．、]")
_VERB_HEAD = re.compile(r"^(大力发展|大力实施|大力推进|加强|应用|支持企业开展)")
_VERBISH = re.compile(r"加快|推进|推动|支持|发展|鼓励|深化|大力|围绕|实施|加强|提升|建设|培育|坚持")
_ETC_TAIL = re.compile(r"等[^、，；。]*$")


def short_id(prefix: str, *parts: str) -> str:
    """A stable ASCII id for a record the current KB does not know (names are Chinese)."""
    h = hashlib.sha1("|".join(parts).encode("utf-8")).hexdigest()[:8]
    return f"{prefix}_{h}"


# -- the document -------------------------------------------------------------------------------
@dataclass
class DocumentMeta:
    title: str | None
    issuer: str | None
    date: str | None  # ISO date
    number: str | None
    source: str | None  # the sentence (line) the title or issuer was read from


_DATE = re.compile(r"(\d{4})\s*年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*日")
_ISSUER = re.compile(
    r"^[\u4e00-\u9fff（）()]{2,30}(人民政府|人民政府办公厅|委员会|厅|局|办公室|管委会)$"
)
_NUMBER = re.compile(r"[\u4e00-\u9fff]{1,6}〔\d{4}〕\d+号")


def document_meta(text: str, sentences: list[Sentence]) -> DocumentMeta:
    """Title, issuer, date and number as the text states them; what it does not state stays None."""
    lines = [ln.strip(" \t\u3000") for ln in text.split("\n")]
    lines = [ln for ln in lines if ln]
    title = None
    for ln in lines[:5]:
        m = re.search(r"《([^》]{6,80})》", ln) or re.match(
            r"^(.{6,80}(意见|方案|规划|通知|办法|计划|决定))$", ln
        )
        if m:
            title = m.group(1)
            break
    issuer = date = None
    source = None
    # The signature closes a document; a notice that forwards one signs near the top.
    near = [*range(len(lines) - 1, max(len(lines) - 8, -1), -1), *range(min(12, len(lines)))]
    for k in near:
        ln = lines[k]
        m = _DATE.fullmatch(ln)
        if m and date is None:
            date = f"{int(m.group(1)):04d}-{int(m.group(2)):02d}-{int(m.group(3)):02d}"
            if k > 0 and _ISSUER.match(lines[k - 1]):
                issuer = lines[k - 1]
                source = lines[k - 1]
    if issuer is None:
        m = re.search(
            r"([\u4e00-\u9fff]{2,10}(?:省|市)人民政府(?:办公厅)?)(?:印发|关于)", text[:400]
        )
        if m:
            issuer = m.group(1)
    number = None
    m = _NUMBER.search(text[:600])
    if m:
        number = m.group(0)
    return DocumentMeta(title, issuer, date, number, source)


# -- chains and segments ------------------------------------------------------------------------
@dataclass
class SegmentDraft:
    name: str
    sentence: Sentence
    terms: list[str]
    confidence: float


@dataclass
class ChainDraft:
    name: str
    group: str
    sentence: Sentence
    direction: str
    terms: list[str]
    segments: list[SegmentDraft] = field(default_factory=list)
    sentences: list[Sentence] = field(default_factory=list)  # every sentence of its section


def terms_of(text: str, lexicon: Lexicon) -> list[str]:
    """Product and technology words of a passage: known vocabulary, and the items of its
    enumerations ("A、B、C等") that read as nouns."""
    out: list[str] = []
    for tok in lexicon.tokens(text):
        if tok in lexicon.words and len(tok) >= 2:
            out.append(tok)
    for clause in re.split(r"[，；。：]", text):
        if "、" not in clause:
            continue
        items = enumeration(_ETC_TAIL.sub("", clause))
        if items:
            m = _VERBISH.search(items[0])
            if m:
                items[0] = items[0][m.end() :]
        for it in items:
            it = re.sub(r"^(以及|和|与|及)", "", it).strip("（）()“”")
            if 2 <= len(it) <= 12 and not _VERBISH.search(it):
                out.append(it)
    return list(dict.fromkeys(out))


def _group_of(title: str) -> str | None:
    for word, group in GROUP_WORDS:
        if word in title:
            return group
    return None


def extract_chains(text: str, sentences: list[Sentence], lexicon: Lexicon) -> list[ChainDraft]:
    """Chains are the numbered leads ("1. 高端装备产业。") under a heading that announces chains
    ("集中培植7个战略性新兴产业链"); their segments are the unnumbered leads that follow ("智能装备。"),
    or, for a chain without any, the sentences that open with a development verb, or its own name."""
    headings = parse_headings(text)
    chain_sections = [h for h in headings if h.level == 2 and "产业链" in h.title]
    if not chain_sections:
        return []
    by_line: dict[int, list[Sentence]] = {}
    for s in sentences:
        by_line.setdefault(s.line, []).append(s)
    levels = {h.line: h for h in headings}
    out: list[ChainDraft] = []
    current: ChainDraft | None = None
    group: str | None = None
    in_section = False
    lines = text.split("\n")
    for line_no in range(len(lines)):
        h = levels.get(line_no)
        if h and h.level <= 2:
            in_section = h in chain_sections
            group = _group_of(h.title) if in_section else None
            current = None
            if not in_section:
                continue
        if not in_section:
            continue
        line_sentences = by_line.get(line_no, [])
        if not line_sentences:
            continue
        first = line_sentences[0]
        if first.lead and len(line_sentences) > 1:
            first = with_lead(text, first, line_sentences[1])
            line_sentences = [first, *line_sentences[2:]]
        raw_line = lines[line_no].strip(" \t\u3000")
        if first.lead and _NUMBERED.match(raw_line) and len(first.lead) <= 14:
            body = first.text[first.text.index("。") + 1 :]
            direction = body.split("，")[0] if "主攻方向" in body.split("，")[0] else ""
            current = ChainDraft(
                first.lead,
                group or "strategic_emerging",
                first,
                direction,
                terms_of(" ".join(s.text for s in line_sentences), lexicon),
            )
            current.sentences.extend(line_sentences)
            out.append(current)
            # 工业电商，……农村电商，……: short leads before a comma name the chain's segments
            for s in line_sentences:
                body = s.text[s.text.index("。") + 1 :] if s is first else s.text
                lead = body.split("，")[0]
                if 2 <= len(lead) <= 6 and "，" in body and not _VERBISH.search(lead):
                    current.segments.append(SegmentDraft(lead, s, terms_of(s.text, lexicon), 0.7))
            continue
        if current is None:
            continue
        current.sentences.extend(line_sentences)
        if first.lead and not _NUMBERED.match(raw_line):
            current.segments.append(
                SegmentDraft(
                    first.lead,
                    first,
                    terms_of(" ".join(s.text for s in line_sentences), lexicon),
                    0.85,
                )
            )
        elif not first.lead and len(raw_line) > 0 and h is None:
            continue  # a paragraph that belongs to no chain (e.g. the list of特色产品)
    for c in out:
        if not c.segments:
            c.segments = _verb_segments(c, lexicon)
        if not c.segments:
            c.segments = [SegmentDraft(c.name, c.sentence, c.terms, 0.5)]
    return out


def _verb_segments(c: ChainDraft, lexicon: Lexicon) -> list[SegmentDraft]:
    """Segments of a chain the document does not subdivide: its sentences that open with a
    development verb ("大力发展互联网经济，…") name one each."""
    out = []
    for s in c.sentences:
        body = s.text[s.text.index("。") + 1 :] if s is c.sentence else s.text
        m = _VERB_HEAD.match(body)
        if not m:
            continue
        obj = re.split(r"[，、；。]", body[m.end() :])[0]
        obj = obj.strip("“”")
        if 2 <= len(obj) <= 14:
            out.append(SegmentDraft(obj, s, terms_of(s.text, lexicon), 0.55))
    return out


# -- zones --------------------------------------------------------------------------------------
@dataclass
class ZoneDraft:
    name: str
    kind: str
    cities: list[str]
    sentence: Sentence
    terms: list[str]
    confidence: float
    notes: list[str] = field(default_factory=list)


_ZONE_HEAD = re.compile(
    r"^(?:[一二三四五六七八九十\d]+[核区带群]：)?(?:打造|建设|构建)?"
    r"([\u4e00-\u9fff“”]{3,30}?(?:核心区|示范区|发展区|经济区|功能区|经济带|城市群))(?:[，。])"
)


def extract_zones(
    sentences: list[Sentence], resolver: PlaceResolver, lexicon: Lexicon
) -> list[ZoneDraft]:
    """Zones are sentences that open with a region's name (一核：打造雄安新区…核心区。 / 张承绿色发展
    示范区，推进…); their cities are read from the name (石保廊 → 石家庄、保定、廊坊)."""
    out: list[ZoneDraft] = []
    seen: set[str] = set()
    for s in sentences:
        m = _ZONE_HEAD.match(s.text)
        if not m:
            continue
        name = m.group(1)
        if name in seen:
            continue
        places, _theme = resolver.parse(name)
        cities = list(dict.fromkeys(p.city for p in places))
        if not cities:
            continue  # a goal ("打造世界级…城市群") that names no place is not a zone
        seen.add(name)
        notes = [p.note for p in places if p.note]
        kind = "core" if name.endswith("核心区") else "demonstration"
        conf = 0.8 if all(p.confidence >= 0.9 for p in places) else 0.65
        out.append(ZoneDraft(name, kind, cities, s, terms_of(s.text, lexicon), conf, notes))
    return out


# -- rules --------------------------------------------------------------------------------------
@dataclass
class RuleDraft:
    key: str
    effect: str
    title: str
    text: str
    sentence: Sentence
    weight: float
    when: dict[str, object]
    warning_code: str | None
    confidence: float
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Cue:
    """A phrase of policy language that states a placement rule, and the rule it proposes."""

    key: str
    pattern: re.Pattern[str]
    effect: str
    title: str
    weight: float = 0.0
    warning_code: str | None = None
    needs_zone: bool = False
    origins: tuple[str, ...] = ()
    terms_from: str | None = None  # regex whose group 1 is an enumeration of trigger words


CUES: tuple[Cue, ...] = (
    Cue(
        "restrict",
        re.compile(r"严格限制|严禁|禁止(?:新建|布局|承接)|不得(?:新建|布局)"),
        "exclude",
        "限制布局",
        needs_zone=True,
    ),
    Cue(
        "priority",
        re.compile(r"优先布局"),
        "bonus",
        "优先布局的产业",
        0.2,
        needs_zone=True,
        terms_from=r"优先布局(.+)",
    ),
    Cue(
        "ahead",
        re.compile(r"超前布局"),
        "bonus",
        "超前布局的未来产业",
        0.2,
        needs_zone=True,
        terms_from=r"培育发展(.+?)等",
    ),
    Cue(
        "rd_institutions",
        re.compile(r"建设一批(?:国家级)?研发机构"),
        "bonus",
        "建设研发机构",
        0.1,
        needs_zone=True,
    ),
    Cue(
        "overcapacity",
        re.compile(r"化解过剩产能|压减产能|产能置换"),
        "warning",
        "产能过剩行业：压减产能、产能置换",
        warning_code="overcapacity_swap",
        terms_from=r"以(.+?)(?:[六五四三两二]大)?行业为重点",
    ),
    Cue(
        "overcapacity_penalty",
        re.compile(r"化解过剩产能|压减产能"),
        "penalty",
        "产能过剩行业新增产能",
        -0.3,
        terms_from=r"以(.+?)(?:[六五四三两二]大)?行业为重点",
    ),
    Cue(
        "reduction_swap",
        re.compile(r"减量置换"),
        "warning",
        "以减量置换为前提",
        warning_code="reduction_swap",
    ),
    Cue(
        "coastal_belt",
        re.compile(r"加快建设.{0,20}(?:沿海|临港).{0,12}产业带"),
        "bonus",
        "向沿海临港产业带集中",
        0.2,
    ),
    Cue(
        "emission",
        re.compile(r"特别排放限值|排污许可"),
        "warning",
        "高污染行业：特别排放限值与排污许可",
        warning_code="env_emission_permit",
    ),
    Cue(
        "emission_energy",
        re.compile(r"(?=.*(?:特别排放限值|排污许可)).*高耗能"),
        "warning",
        "高耗能企业：特别排放限值与排污许可",
        warning_code="env_emission_permit",
    ),
    Cue("coastal_transfer", re.compile(r"向沿海转移"), "bonus", "产业向沿海转移、向园区集聚", 0.2),
    Cue("inland_penalty", re.compile(r"向沿海转移"), "penalty", "基础项目不宜布局内陆", -0.2),
    Cue(
        "coordination",
        re.compile(r"推进.{0,6}产业协同发展"),
        "bonus",
        "承接产业转移",
        0.05,
        origins=("北京", "天津"),
    ),
    Cue(
        "transfer_sharing",
        re.compile(r"产业转移收益分享"),
        "bonus",
        "合作共建园区",
        0.2,
        origins=("北京", "天津"),
    ),
    Cue(
        "institutes",
        re.compile(r"科研院所.{0,20}设立分支机构"),
        "bonus",
        "科研院所设立分支机构",
        0.1,
        origins=("北京", "天津"),
    ),
    Cue("into_parks", re.compile(r"退城入园|退城进园|入园进区"), "bonus", "鼓励企业退城入园", 0.1),
    Cue(
        "land",
        re.compile(r"(?:优先给予)?建设用地保障|用地保障"),
        "warning",
        "重大项目优先保障建设用地",
        warning_code="land_priority_major_project",
    ),
    Cue(
        "credit", re.compile(r"差别化信贷|给予优先支持"), "bonus", "高端高新产业优先金融支持", 0.05
    ),
    Cue(
        "hi_tech",
        re.compile(r"高新技术企业.{0,12}倍增|双倍增"),
        "bonus",
        "高新技术企业、科技型中小企业",
        0.1,
    ),
    Cue("rd", re.compile(r"加大研发投入"), "bonus", "研发投入强度", 0.05),
)

_TERM_WORDS = {
    "into_parks": ["退城入园", "搬迁入园", "整体搬迁"],
    "hi_tech": ["高新技术企业", "科技型中小企业", "专精特新"],
    "land": ["重大项目", "重大工业项目"],
    "institutes": ["科研院所", "研究院", "研究所", "高等学校", "孵化器"],
    "rd_institutions": ["研发中心", "研发总部", "研究院", "研究所", "研发机构"],
}


def extract_rules(
    sentences: list[Sentence],
    zones: list[ZoneDraft],
    place_names_by_sentence: dict[int, list[str]],
    text: str,
) -> list[RuleDraft]:
    """Rules from the policy language that states them (see `CUES`); a weight is only proposed."""
    zone_of_line: dict[int, ZoneDraft] = {z.sentence.line: z for z in zones}
    rd_floor = None
    m = re.search(r"研发经费投入强度达到(\d+(?:\.\d+)?)%", text)
    if m:
        rd_floor = float(m.group(1)) / 100
    out: list[RuleDraft] = []
    for s in sentences:
        zone = zone_of_line.get(s.line)
        for cue in CUES:
            if not cue.pattern.search(s.text):
                continue
            if cue.needs_zone and zone is None:
                continue
            when: dict[str, object] = {}
            notes: list[str] = []
            if zone is not None and cue.needs_zone:
                when["zone_names"] = [zone.name]
            if cue.origins:
                when["origins"] = list(cue.origins)
            if cue.terms_from:
                tm = re.search(cue.terms_from, s.text)
                items = [t for t in terms_list(tm.group(1)) if 2 <= len(t) <= 12] if tm else []
                if not items:
                    continue  # a general statement ("坚定不移化解过剩产能") names nothing to test
                when["enterprise_terms"] = items
            if cue.key in _TERM_WORDS:
                when["enterprise_terms"] = _TERM_WORDS[cue.key]
            if cue.key == "coastal_belt" and place_names_by_sentence.get(s.index):
                when["park_names"] = place_names_by_sentence[s.index]
            if cue.key == "emission_energy":
                when["min_energy_tce"] = 5000
                notes.append("原文未给能耗阈值；5000 吨标准煤为建议值，请审核")
            if cue.key == "rd" and rd_floor is not None:
                when["min_rd_intensity"] = rd_floor
            clause = _clause(s.text, cue.pattern)
            title = cue.title if zone is None or not cue.needs_zone else f"{zone.name}：{cue.title}"
            conf = 0.75 if cue.effect in ("exclude", "warning") else 0.6
            out.append(
                RuleDraft(
                    cue.key,
                    cue.effect,
                    title,
                    f"政策原文：“{clause}”。",
                    s,
                    cue.weight,
                    when,
                    cue.warning_code,
                    conf,
                    notes,
                )
            )
    return out


def terms_list(s: str) -> list[str]:
    """Items of an enumeration with its joining words and trailing 等… removed."""
    s = _ETC_TAIL.sub("", s)
    parts = re.split(r"[、，]|(?<=[\u4e00-\u9fff])和(?=[\u4e00-\u9fff])", s)
    out = []
    for p in parts:
        p = re.sub(r"^(以及|及|和|与)", "", p.strip()).strip("“”")
        if p:
            out.append(p)
    return out


def _clause(text: str, pat: re.Pattern[str]) -> str:
    m = pat.search(text)
    if not m:
        return text
    clauses = re.split(r"(?<=[，；])", text)
    pos = 0
    for c in clauses:
        if pos <= m.start() < pos + len(c):
            return c.rstrip("，；。")
        pos += len(c)
    return text.rstrip("。")
