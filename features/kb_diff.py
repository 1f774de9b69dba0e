"""What a changed knowledge base would change: records added, changed (with each field's old and new
value) or removed, kind by kind, between the KB being served and an edited one."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from features.kb import GbtMapping, KnowledgeBase

# (kind in Chinese, how to list a KB's records of that kind as id → record)
KINDS: tuple[tuple[str, str], ...] = (
    ("zones", "区域"),
    ("chains", "产业链"),
    ("segments", "产业环节"),
    ("parks", "园区"),
    ("rules", "规则"),
    ("gbt_map", "行业代码映射"),
)
MAX_SHOWN = 160  # characters of a value shown on the page


@dataclass(frozen=True)
class FieldChange:
    field: str
    before: str
    after: str


@dataclass(frozen=True)
class RecordChange:
    kind: str  # zones | chains | …
    kind_name: str
    record_id: str
    name: str
    action: str  # added | changed | removed
    fields: tuple[FieldChange, ...] = ()


def _records(kb: KnowledgeBase, kind: str) -> dict[str, Any]:
    if kind == "zones":
        return {z.zone_id: z for z in kb.zones}
    if kind == "chains":
        return {c.chain_id: c for c in kb.chains}
    if kind == "segments":
        return dict(kb.segment_by_id)
    if kind == "parks":
        return dict(kb.park_by_id)
    if kind == "rules":
        return {r.rule_id: r for r in kb.rules}
    return {m.code: m for m in kb.gbt_map}


def _name(record: Any) -> str:
    if isinstance(record, GbtMapping):
        return record.note or record.code
    return str(getattr(record, "name", None) or getattr(record, "title", ""))


def _show(value: Any) -> str:
    if hasattr(value, "model_dump"):
        value = value.model_dump(exclude_defaults=True)
    if isinstance(value, tuple | list):
        value = [v.model_dump(exclude_none=True) if hasattr(v, "model_dump") else v for v in value]
    text = "（空）" if value in (None, "", (), []) else str(value)
    return text if len(text) <= MAX_SHOWN else text[: MAX_SHOWN - 1] + "…"


def _fields(before: Any, after: Any) -> tuple[FieldChange, ...]:
    """Fields whose value differs; a chain's segments are compared as their own records."""
    out = []
    for name in type(after).model_fields:
        if name == "segments":
            continue
        old, new = getattr(before, name), getattr(after, name)
        if old != new:
            out.append(FieldChange(name, _show(old), _show(new)))
    return tuple(out)


def diff_kb(current: KnowledgeBase, changed: KnowledgeBase) -> list[RecordChange]:
    """Every record of `changed` that is new, different or gone compared with `current`."""
    out: list[RecordChange] = []
    for kind, kind_name in KINDS:
        old, new = _records(current, kind), _records(changed, kind)
        for rid, rec in new.items():
            if rid not in old:
                out.append(RecordChange(kind, kind_name, rid, _name(rec), "added"))
            elif old[rid] != rec:
                fields = _fields(old[rid], rec)
                if fields:
                    out.append(RecordChange(kind, kind_name, rid, _name(rec), "changed", fields))
        for rid, rec in old.items():
            if rid not in new:
                out.append(RecordChange(kind, kind_name, rid, _name(rec), "removed"))
    return out


def summary(changes: Iterable[RecordChange]) -> dict[str, int]:
    counts = {"added": 0, "changed": 0, "removed": 0}
    for c in changes:
        counts[c.action] += 1
    return counts
