"""Assemble a draft knowledge base from a policy text: records in the schema of `data/kb/`, each
citing its verbatim sentence, marked 待审核 with a confidence, and ids aligned with the current KB
where the record is one the KB already has."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import yaml

from features.draft.check import record_problems
from features.draft.extract import (
    ChainDraft,
    DocumentMeta,
    RuleDraft,
    ZoneDraft,
    document_meta,
    extract_chains,
    extract_rules,
    extract_zones,
    short_id,
)
from features.draft.lexicon import Lexicon
from features.draft.places import Divisions, PlaceMention, PlaceResolver, extract_places, place_key
from features.draft.text import clean_input, split_sentences
from features.kb import DATA_DIR, KnowledgeBase

log = logging.getLogger("investmatch.draft")

PENDING = "待审核"
MAX_CHARS = 400_000  # a policy runs to tens of thousands of characters; beyond this is not one
T = TypeVar("T")


@dataclass
class Draft:
    """A drafted KB: YAML-ready records plus what the drafting could not do."""

    document: dict[str, Any]
    zones: list[dict[str, Any]] = field(default_factory=list)
    chains: list[dict[str, Any]] = field(default_factory=list)
    parks: list[dict[str, Any]] = field(default_factory=list)
    rules: list[dict[str, Any]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    text: str = ""
    # (kind, id, name, problems) of records that cannot join the current KB as drafted
    unfit: list[tuple[str, str, str, list[str]]] = field(default_factory=list)

    def records(self) -> dict[str, list[dict[str, Any]]]:
        return {
            "zones": self.zones,
            "chains": self.chains,
            "parks": self.parks,
            "rules": self.rules,
        }

    def sources(self) -> list[str]:
        """Every sentence the draft cites (chains' segments included)."""
        out = [r["source"] for kind in self.records().values() for r in kind]
        out += [s["source"] for c in self.chains for s in c["segments"]]
        return out


def _step(draft: Draft, what: str, fn: Callable[[], T], empty: T) -> T:  # noqa: UP047
    """Run one extraction step; a failure is reported in the draft, never raised to the user."""
    try:
        return fn()
    except Exception as exc:  # an odd document must still yield a draft of what could be read
        log.exception("draft step %s failed", what)
        draft.problems.append(f"{what}步骤未能完成（{type(exc).__name__}），该部分需人工整理")
        return empty


def draft_kb(
    raw: str | bytes,
    kb: KnowledgeBase | None,
    *,
    data_dir: Path = DATA_DIR,
    divisions: Divisions | None = None,
    use_kb_terms: bool = True,
) -> Draft:
    """Draft a KB from a policy text. `kb` is the current knowledge base: its vocabulary feeds the
    tokenizer (unless `use_kb_terms` is False) and its ids are reused for records it already has."""
    text = clean_input(raw)
    draft = Draft(document={}, text=text)
    if len(text) > MAX_CHARS:
        draft.problems.append(f"文本超过 {MAX_CHARS} 字，只读取了前 {MAX_CHARS} 字")
        text = text[:MAX_CHARS]
        draft.text = text
    sentences = split_sentences(text)
    meta = _step(
        draft,
        "文件信息",
        lambda: document_meta(text, sentences),
        DocumentMeta(None, None, None, None, None),
    )
    doc_id = _document_id(meta, text)
    draft.document = {
        "document_id": doc_id,
        "title": meta.title,
        "issuer": meta.issuer,
        "date": meta.date,
        "number": meta.number,
        "status": PENDING,
        "note": None
        if meta.date and meta.issuer and meta.title
        else "原文未写明标题、发文机关或日期中的一项或几项，请审核补充",
    }
    if not sentences:
        draft.problems.append("文本中没有可读的句子")
        return draft
    kb_cities = kb.cities if kb is not None else ()
    if divisions is None:
        divisions = Divisions.load(data_dir / "reference", kb_cities)
    province = divisions.province_of(text)
    resolver = PlaceResolver(divisions, province)
    # Division names join the user dictionary so that 正定集成电路 splits at the county's name.
    names = (a for a in divisions.by_alias if len(a) >= 2)
    lexicon = Lexicon.build(kb, extra_words=names, use_kb_terms=use_kb_terms)

    chains: list[ChainDraft] = _step(
        draft, "产业链", lambda: extract_chains(text, sentences, lexicon), []
    )
    zones: list[ZoneDraft] = _step(
        draft, "区域", lambda: extract_zones(sentences, resolver, lexicon), []
    )
    places: list[PlaceMention] = _step(
        draft, "园区与集群", lambda: extract_places(sentences, resolver, text), []
    )
    chain_ids = _add_chains(draft, chains, kb, lexicon, doc_id)
    zone_ids = _add_zones(draft, zones, kb, lexicon, chain_ids, doc_id)
    park_ids = _add_parks(draft, places, chains, kb, lexicon, chain_ids, zone_ids, resolver, doc_id)
    by_sentence: dict[int, list[str]] = {}
    for p in places:
        by_sentence.setdefault(p.sentence.index, []).append(p.name)
    rules: list[RuleDraft] = _step(
        draft, "规则", lambda: extract_rules(sentences, zones, by_sentence, text), []
    )
    _add_rules(draft, rules, kb, zone_ids, park_ids, doc_id)
    if kb is not None:
        draft_chains = {c["chain_id"] for c in draft.chains}
        for kind, recs in draft.records().items():
            key = f"{kind[:-1]}_id"
            for r in recs:
                found = record_problems(kind, r, kb, draft_chains)
                if found:
                    draft.unfit.append((kind, r[key], r.get("name") or r.get("title") or "", found))
    if not (draft.chains or draft.parks or draft.zones or draft.rules):
        draft.problems.append("未识别出产业链、区域、园区或规则；该文件可能不是产业布局类政策")
    return draft


def _document_id(meta: DocumentMeta, text: str) -> str:
    date = (meta.date or "").replace("-", "")
    return short_id(f"doc{date}" if date else "doc", meta.title or text[:200])


def _meta(conf: float, doc_id: str, notes: list[str] | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"document_id": doc_id, "status": PENDING, "confidence": round(conf, 2)}
    if notes:
        out["note"] = "；".join(dict.fromkeys(notes))
    return out


def _kb_chain(kb: KnowledgeBase | None, name: str) -> str | None:
    if kb is None:
        return None
    for c in kb.chains:
        if c.name == name:
            return c.chain_id
    return None


def _kb_segment(kb: KnowledgeBase | None, chain_id: str, name: str) -> str | None:
    if kb is None or chain_id not in kb.chain_by_id:
        return None
    for s in kb.chain_by_id[chain_id].segments:
        if s.name == name or (len(name) >= 3 and (name in s.name or s.name in name)):
            return s.segment_id
    return None


def _add_chains(
    draft: Draft, chains: list[ChainDraft], kb: KnowledgeBase | None, lexicon: Lexicon, doc_id: str
) -> dict[str, str]:
    ids: dict[str, str] = {}
    for c in chains:
        cid = _kb_chain(kb, c.name) or short_id("c", c.name)
        ids[c.name] = cid
        segs = []
        seen = set()
        for s in c.segments:
            sid = _kb_segment(kb, cid, s.name) or f"{cid}.{short_id('s', s.name)}"
            if sid in seen:
                continue
            seen.add(sid)
            lexicon.add_chain_terms(cid, sid, [s.name, *s.terms])
            segs.append(
                {
                    "segment_id": sid,
                    "name": s.name,
                    "keywords": s.terms[:40],
                    "source": s.sentence.text,
                    **_meta(s.confidence, doc_id),
                }
            )
        lexicon.add_chain_terms(cid, None, [c.name, *c.terms])
        draft.chains.append(
            {
                "chain_id": cid,
                "name": c.name,
                "group": c.group,
                "direction": c.direction,
                "keywords": c.terms[:40],
                "source": c.sentence.text,
                **_meta(0.9 if c.group else 0.6, doc_id),
                "segments": segs,
            }
        )
    return ids


def _refs(lexicon: Lexicon, text: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for cid, sid, _t in lexicon.chains_in(text):
        ref = {"chain_id": cid, "segment_id": sid}
        if ref not in out:
            out.append(ref)
    return out


def _add_zones(
    draft: Draft,
    zones: list[ZoneDraft],
    kb: KnowledgeBase | None,
    lexicon: Lexicon,
    chain_ids: dict[str, str],
    doc_id: str,
) -> dict[str, str]:
    """Zone name → id; also city → zone id for the parks."""
    city_zone: dict[str, str] = {}
    for z in zones:
        zid = None
        if kb is not None:
            zid = next((k.zone_id for k in kb.zones if k.name == z.name), None)
        zid = zid or short_id("z", z.name)
        for c in z.cities:
            city_zone.setdefault(c, zid)
        draft.zones.append(
            {
                "zone_id": zid,
                "name": z.name,
                "kind": z.kind,
                "cities": z.cities,
                "positioning": z.sentence.text,
                "focus_chains": _refs(lexicon, z.sentence.text)[:12],
                "focus_terms": z.terms[:40],
                "source": z.sentence.text,
                **_meta(z.confidence, doc_id, z.notes),
            }
        )
        city_zone[f"@{z.name}"] = zid
    return city_zone


def _add_parks(
    draft: Draft,
    places: list[PlaceMention],
    chains: list[ChainDraft],
    kb: KnowledgeBase | None,
    lexicon: Lexicon,
    chain_ids: dict[str, str],
    city_zone: dict[str, str],
    resolver: PlaceResolver,
    doc_id: str,
) -> dict[str, str]:
    """Place name → park id. Mentions of one place (same key and city) become one record."""
    section_chain: dict[int, str] = {}
    for c in chains:
        for s in c.sentences:
            section_chain[s.index] = chain_ids[c.name]
    by_key: dict[tuple[str, str | None, str | None], dict[str, Any]] = {}
    names: dict[str, str] = {}
    kb_park_key: dict[tuple[str, str], str] = {}
    if kb is not None:
        for p in kb.parks:
            if p.named_by_policy:
                kb_park_key.setdefault((place_key(p.name, resolver), p.city), p.park_id)
    for m in places:
        key = (place_key(m.name, resolver), m.city, m.county)
        rec = by_key.get(key)
        if rec is not None:
            if m.sentence.text != rec["source"] and m.sentence.text not in rec["also_source"]:
                rec["also_source"].append(m.sentence.text)
            if m.kind == "cluster":
                rec["kind"] = "cluster"
            names[m.name] = rec["park_id"]
            continue
        refs = _refs(lexicon, m.theme)
        if not refs and m.sentence.index in section_chain:
            refs = [{"chain_id": section_chain[m.sentence.index], "segment_id": None}]
        notes = list(m.notes)
        if not refs:
            notes.append("未能从名称判断产业链，请审核补充")
        pid = kb_park_key.get((key[0], m.city or "")) or short_id("p", m.name, m.city or "")
        zone_id = city_zone.get(m.city or "") or (
            kb.zone_of_city.get(m.city) if kb is not None and m.city else None
        )
        kind = m.kind
        chain_groups = {c["chain_id"]: c["group"] for c in draft.chains}
        if kind == "base" and refs and chain_groups.get(refs[0]["chain_id"]) == "producer_services":
            kind = "service_park"
        rec = {
            "park_id": pid,
            "name": m.name,
            "kind": kind,
            "city": m.city,
            "county": m.county,
            "zone_id": zone_id,
            "chains": refs[:6],
            "keywords": [t for _c, _s, t in lexicon.chains_in(m.theme)][:8] or [m.theme][:1],
            "devzone_code": None,
            "source": m.sentence.text,
            "also_source": [],
            **_meta(m.confidence, doc_id, notes),
        }
        by_key[key] = rec
        names[m.name] = pid
        draft.parks.append(rec)
    return names


def _add_rules(
    draft: Draft,
    rules: list[RuleDraft],
    kb: KnowledgeBase | None,
    zone_ids: dict[str, str],
    park_ids: dict[str, str],
    doc_id: str,
) -> None:
    for r in rules:
        when: dict[str, Any] = {}
        for k, v in r.when.items():
            names = [str(n) for n in v] if isinstance(v, list) else []
            if k == "zone_names":
                when["zone_ids"] = [zone_ids[f"@{n}"] for n in names if f"@{n}" in zone_ids]
            elif k == "park_names":
                when["park_ids"] = list(dict.fromkeys(park_ids[n] for n in names if n in park_ids))
            else:
                when[k] = v
        notes = list(r.notes) + ["权重为建议值，需审核确定"] if r.weight else list(r.notes)
        draft.rules.append(
            {
                "rule_id": short_id("r", r.key, r.sentence.text),
                "effect": r.effect,
                "title": r.title,
                "text": r.text,
                "when": when,
                "weight": r.weight,
                "warning_code": r.warning_code,
                "source": r.sentence.text,
                **_meta(r.confidence, doc_id, notes),
            }
        )


# -- writing ------------------------------------------------------------------------------------
def _dump(data: Any) -> str:
    return yaml.safe_dump(data, allow_unicode=True, sort_keys=False, width=1000)


def write_draft(draft: Draft, out: Path) -> list[Path]:
    """Write the draft as `documents.yaml`, `zones.yaml`, `chains.yaml`, `parks.yaml`,
    `rules.yaml` and `REVIEW.md` (what needs a reviewer's eye) into `out`."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    header = f"# 草稿（{PENDING}）：由 make draft-kb 自 {draft.document.get('title') or '政策文件'} 生成；每条记录的 source 为原文逐字句子。\n"
    files = {
        "documents.yaml": [draft.document],
        **{f"{k}.yaml": v for k, v in draft.records().items()},
    }
    for name, data in files.items():
        p = out / name
        p.write_text(header + _dump(data), encoding="utf-8")
        written.append(p)
    lines = [f"# 草稿审核要点：{draft.document.get('title') or '（原文未写标题）'}", ""]
    lines += [f"- {p}" for p in draft.problems]
    for kind, rid, name, problems in draft.unfit:
        lines.append(f"- 不能直接应用：{kind} `{rid}` {name}：{'；'.join(problems)}")
    for kind, recs in draft.records().items():
        for r in recs:
            if r.get("note") or (r.get("confidence") or 1) < 0.6:
                rid = next(v for k, v in r.items() if k.endswith("_id"))
                lines.append(
                    f"- {kind} `{rid}` {r.get('name') or r.get('title')}：{r.get('note') or '置信度较低'}"
                )
    p = out / "REVIEW.md"
    p.write_text("\n".join(lines) + "\n", encoding="utf-8")
    written.append(p)
    return written


def read_draft(path: Path) -> Draft:
    """A draft written by `write_draft` (what the review page loads from a directory)."""

    def load(name: str) -> list[dict[str, Any]]:
        f = path / name
        data = yaml.safe_load(f.read_text(encoding="utf-8")) if f.exists() else []
        return data or []

    docs = load("documents.yaml")
    return Draft(
        document=docs[0] if docs else {},
        zones=load("zones.yaml"),
        chains=load("chains.yaml"),
        parks=load("parks.yaml"),
        rules=load("rules.yaml"),
    )
