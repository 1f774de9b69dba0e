"""What a draft would change in the current KB, record by record (added / changed / removed, each
with its sentence), and the overlay file that applying the accepted records writes."""

from __future__ import annotations

from typing import Any

from features.draft.build import Draft
from features.draft.check import record_problems
from features.draft.compare import align, same_name, same_place, same_rule
from features.kb import KnowledgeBase

KINDS = {
    "zones": ("zone_id", same_name, ("name", "cities", "positioning")),
    "chains": ("chain_id", same_name, ("name", "group")),
    "parks": ("park_id", same_place, ("name", "kind", "city", "county", "chains")),
    "rules": ("rule_id", same_rule, ("effect", "title", "when", "weight")),
}


FIELD_NAMES = {
    "name": "名称",
    "cities": "城市",
    "positioning": "定位",
    "group": "产业链分组",
    "kind": "类别",
    "city": "城市",
    "county": "县区",
    "chains": "产业链",
    "effect": "作用",
    "title": "标题",
    "when": "适用条件",
    "weight": "权重",
}


def _current(kb: KnowledgeBase, kind: str) -> list[dict[str, Any]]:
    recs = {"zones": kb.zones, "chains": kb.chains, "parks": kb.parks, "rules": kb.rules}[kind]
    return [r.model_dump(mode="json") for r in recs if getattr(r, "named_by_policy", True)]


def review_items(draft: Draft, kb: KnowledgeBase) -> list[dict[str, Any]]:
    """One item per draft record (added or changed) and per current record of the same document
    that the draft no longer has (removed)."""
    items: list[dict[str, Any]] = []
    known = same_document(draft.document, kb)
    if known is not None:  # a new draft of a document the KB already quotes keeps its id
        doc = kb.document_by_id[known]
        given = {k: v for k, v in draft.document.items() if v is not None}
        draft.document = {**given, **doc.model_dump(exclude_none=True), "document_id": known}
        for recs in draft.records().values():
            for r in recs:
                r["document_id"] = known
                for seg in r.get("segments") or []:
                    seg["document_id"] = known
    doc_id = draft.document.get("document_id")
    draft_chains = {c["chain_id"] for c in draft.chains}
    for kind, (key, score, fields) in KINDS.items():
        new = draft.records()[kind]
        old = _current(kb, kind)
        a = align(new, old, score)
        pairs = {i: j for i, j, _ in a.pairs}
        for i, rec in enumerate(new):
            j = pairs.get(i)
            if j is None:
                it = _item("added", kind, rec[key], rec, None, fields)
                it["problems"] = record_problems(kind, rec, kb, draft_chains)
                it["suggest"] = (rec.get("confidence") or 0) >= 0.6 and not it["problems"]
                items.append(it)
                continue
            cur = old[j]
            rec[key] = cur[key]  # the draft speaks of a record the KB has: keep its id
            diff = [f for f in fields if rec.get(f) != cur.get(f)]
            action = "changed" if diff else "unchanged"
            it = _item(action, kind, cur[key], rec, cur, diff)
            it["problems"] = record_problems(kind, rec, kb, draft_chains) if diff else []
            # A newer document replacing a record is proposed; a re-draft of the same document is
            # not (the hand-checked record stays unless the officer says otherwise).
            cited = kb.cite(cur.get("source"))
            it["suggest"] = (
                bool(diff) and not it["problems"] and (cited is None or cited.document_id != doc_id)
            )
            items.append(it)
        for j in a.unmatched_kb():
            cited = kb.cite(old[j].get("source"))
            if doc_id and cited is not None and cited.document_id == doc_id:
                gone = _item("removed", kind, old[j][key], None, old[j], ())
                items.append(gone | {"suggest": False, "problems": []})
    return items


def same_document(doc: dict[str, Any], kb: KnowledgeBase) -> str | None:
    """The KB's id for the document a draft was made from: same title, or same issuer and date."""
    for d in kb.documents:
        if doc.get("title") and doc["title"] == d.title:
            return d.document_id
        if (
            doc.get("issuer")
            and doc.get("date")
            and (doc["issuer"], doc["date"]) == (d.issuer, d.date)
        ):
            return d.document_id
    return None


def _item(
    action: str,
    kind: str,
    rid: str,
    rec: dict[str, Any] | None,
    cur: dict[str, Any] | None,
    fields: Any,
) -> dict[str, Any]:
    shown = rec or cur or {}
    return {
        "action": action,
        "kind": kind,
        "id": rid,
        "name": shown.get("name") or shown.get("title"),
        "source": shown.get("source"),
        "confidence": (rec or {}).get("confidence"),
        "note": (rec or {}).get("note"),
        "fields": list(fields),
        "field_names": [FIELD_NAMES.get(f, f) for f in fields],
        "current_name": (cur or {}).get("name") or (cur or {}).get("title"),
        "draft": rec,
        "current": cur,
    }


def overlay(draft: Draft, items: list[dict[str, Any]], accept: set[str]) -> dict[str, Any]:
    """The records an officer accepted, as `kb/policies/<document_id>.yaml` holds them."""
    out: dict[str, list[dict[str, Any]]] = {k: [] for k in KINDS}
    for it in items:
        if it["id"] not in accept or it["draft"] is None:
            continue
        rec = dict(it["draft"])
        rec["status"] = "已审核"
        if it["kind"] == "parks":
            rec["also_source"] = rec.get("also_source") or []
        out[it["kind"]].append(rec)
    return out
