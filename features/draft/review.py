"""What a draft would change in the current KB, record by record (added / changed / removed, each
with its sentence), and the overlay file that applying the accepted records writes."""

from __future__ import annotations

from typing import Any

from features.draft.build import Draft
from features.draft.compare import align, same_name, same_place, same_rule
from features.kb import KnowledgeBase

KINDS = {
    "zones": ("zone_id", same_name, ("name", "cities", "positioning")),
    "chains": ("chain_id", same_name, ("name", "group")),
    "parks": ("park_id", same_place, ("name", "kind", "city", "county", "chains")),
    "rules": ("rule_id", same_rule, ("effect", "title", "when", "weight")),
}


def _current(kb: KnowledgeBase, kind: str) -> list[dict[str, Any]]:
    recs = {"zones": kb.zones, "chains": kb.chains, "parks": kb.parks, "rules": kb.rules}[kind]
    return [r.model_dump(mode="json") for r in recs if getattr(r, "named_by_policy", True)]


def review_items(draft: Draft, kb: KnowledgeBase) -> list[dict[str, Any]]:
    """One item per draft record (added or changed) and per current record of the same document
    that the draft no longer has (removed)."""
    items: list[dict[str, Any]] = []
    doc_id = draft.document.get("document_id")
    for kind, (key, score, fields) in KINDS.items():
        new = draft.records()[kind]
        old = _current(kb, kind)
        a = align(new, old, score)
        pairs = {i: j for i, j, _ in a.pairs}
        for i, rec in enumerate(new):
            j = pairs.get(i)
            if j is None:
                items.append(_item("added", kind, rec[key], rec, None, fields))
                continue
            cur = old[j]
            rec[key] = cur[key]  # the draft speaks of a record the KB has: keep its id
            diff = [f for f in fields if rec.get(f) != cur.get(f)]
            action = "changed" if diff else "unchanged"
            items.append(_item(action, kind, cur[key], rec, cur, diff))
        for j in a.unmatched_kb():
            if old[j].get("document_id") == doc_id and doc_id:
                items.append(_item("removed", kind, old[j][key], None, old[j], ()))
    return items


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
