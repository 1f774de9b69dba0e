"""Write the knowledge base into the database: idempotent (a second run changes nothing) and atomic."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import Table, delete, insert, select, update
from sqlalchemy.orm import Session, sessionmaker

from features.kb import KnowledgeBase, load_kb
from store import orm


@dataclass
class SyncReport:
    inserted: dict[str, int] = field(default_factory=dict)
    updated: dict[str, int] = field(default_factory=dict)
    deleted: dict[str, int] = field(default_factory=dict)

    @property
    def changed(self) -> int:
        return sum(self.inserted.values()) + sum(self.updated.values()) + sum(self.deleted.values())


def _desired(kb: KnowledgeBase) -> list[tuple[Table, list[dict[str, Any]]]]:
    """The rows each KB table should hold, parents before children."""
    zones = [
        dict(
            zone_id=z.zone_id,
            name=z.name,
            kind=z.kind,
            positioning=z.positioning,
            focus_terms=list(z.focus_terms),
            source=z.source,
            position=i,
        )
        for i, z in enumerate(kb.zones)
    ]
    cities = [
        dict(name=c, zone_id=z.zone_id, position=i)
        for i, (z, c) in enumerate((z, c) for z in kb.zones for c in z.cities)
    ]
    chains = [
        dict(
            chain_id=c.chain_id,
            name=c.name,
            group=c.group,
            direction=c.direction,
            keywords=list(c.keywords),
            source=c.source,
            position=i,
        )
        for i, c in enumerate(kb.chains)
    ]
    segments = [
        dict(
            segment_id=s.segment_id,
            chain_id=c.chain_id,
            name=s.name,
            keywords=list(s.keywords),
            source=s.source,
            position=i,
        )
        for c in kb.chains
        for i, s in enumerate(c.segments)
    ]
    parks = [
        dict(
            park_id=p.park_id,
            name=p.name,
            kind=p.kind,
            city=p.city,
            county=p.county,
            zone_id=p.zone_id,
            devzone_code=p.devzone_code,
            keywords=list(p.keywords),
            source=p.source,
            also_source=list(p.also_source),
            level=p.level,
            zone_type=p.zone_type,
            approved=p.approved,
            area_ha=p.area_ha,
            leading_industries=list(p.leading_industries),
            lon=p.lon,
            lat=p.lat,
            position=i,
        )
        for i, p in enumerate(kb.parks)
    ]
    park_chains = [
        dict(park_id=p.park_id, position=i, chain_id=r.chain_id, segment_id=r.segment_id)
        for p in kb.parks
        for i, r in enumerate(p.chains)
    ]
    return [
        (orm.Zone.__table__, zones),
        (orm.City.__table__, cities),
        (orm.Chain.__table__, chains),
        (orm.Segment.__table__, segments),
        (orm.Park.__table__, parks),
        (orm.ParkChain.__table__, park_chains),
    ]


def _key(table: Table, row: dict[str, Any]) -> tuple[Any, ...]:
    return tuple(row[c.name] for c in table.primary_key.columns)


def sync_kb(
    factory: sessionmaker[Session],
    kb: KnowledgeBase,
    also: Callable[[Session], None] | None = None,
) -> SyncReport:
    """Make the KB tables equal to `kb` in one transaction; on any error nothing is written.
    `also` writes more in the same transaction (e.g. that a reviewed draft was applied)."""
    report = SyncReport()
    plan = _desired(kb)
    with factory.begin() as session:
        if also is not None:
            also(session)
        existing: dict[str, dict[tuple[Any, ...], dict[str, Any]]] = {}
        for table, _ in plan:
            rows = session.execute(select(table)).mappings().all()
            existing[table.name] = {_key(table, dict(r)): dict(r) for r in rows}
        # Children first when deleting, parents first when writing.
        for table, rows in reversed(plan):
            wanted = {_key(table, r) for r in rows}
            gone = [k for k in existing[table.name] if k not in wanted]
            for k in gone:
                cond = [c == v for c, v in zip(table.primary_key.columns, k, strict=True)]
                session.execute(delete(table).where(*cond))
            report.deleted[table.name] = len(gone)
        for table, rows in plan:
            have = existing[table.name]
            new = [r for r in rows if _key(table, r) not in have]
            changed = [r for r in rows if _key(table, r) in have and have[_key(table, r)] != r]
            if new:
                session.execute(insert(table), new)
            for r in changed:
                cond = [c == r[c.name] for c in table.primary_key.columns]
                session.execute(update(table).where(*cond).values(**r))
            report.inserted[table.name] = len(new)
            report.updated[table.name] = len(changed)
        version = session.get(orm.KbVersion, KB_VERSION_ROW)
        if version is None:
            session.add(orm.KbVersion(id=KB_VERSION_ROW, digest=kb.digest))
        elif version.digest != kb.digest:
            version.digest, version.synced_at = kb.digest, orm.utcnow()
    return report


KB_VERSION_ROW = 1


def synced_digest(session: Session) -> str | None:
    """The digest of the KB the database holds (None before the first sync): one primary-key read."""
    return session.scalar(select(orm.KbVersion.digest).where(orm.KbVersion.id == KB_VERSION_ROW))


def apply_policy(
    factory: sessionmaker[Session],
    data_dir: Path,
    document: dict[str, Any],
    records: dict[str, Any],
    also: Callable[[Session], None] | None = None,
) -> tuple[KnowledgeBase, SyncReport]:
    """Apply reviewed records of one policy document: validate the KB they make, write it into the
    database in one transaction (`sync_kb`), and only then put `kb/policies/<document_id>.yaml` and
    the document's entry in `kb/documents.yaml` in place. A record that does not validate, or a
    database error, changes nothing."""
    kb_dir = data_dir / "kb"
    doc_id = document["document_id"]
    docs_path = kb_dir / "documents.yaml"
    docs = yaml.safe_load(docs_path.read_text(encoding="utf-8")) if docs_path.exists() else []
    docs = list(docs or [])
    entry = {**document, "status": "现行"}
    for i, d in enumerate(docs):
        if d.get("document_id") == doc_id:  # a document the KB has: keep what it records
            docs[i] = {**d, **{k: v for k, v in entry.items() if v is not None}}
            break
    else:
        docs.append(entry)
    with tempfile.TemporaryDirectory() as tmp:
        trial = Path(tmp)
        (trial / "reference").symlink_to(data_dir / "reference")
        shutil.copytree(kb_dir, trial / "kb")
        (trial / "kb" / "policies").mkdir(exist_ok=True)
        policy_text = yaml.safe_dump(records, allow_unicode=True, sort_keys=False, width=1000)
        (trial / "kb" / "policies" / f"{doc_id}.yaml").write_text(policy_text, encoding="utf-8")
        docs_text = yaml.safe_dump(docs, allow_unicode=True, sort_keys=False, width=1000)
        (trial / "kb" / "documents.yaml").write_text(docs_text, encoding="utf-8")
        kb = load_kb(trial)  # raises KBError naming the record and field
        report = sync_kb(factory, kb, also)
        (kb_dir / "policies").mkdir(exist_ok=True)
        for name, text in ((f"policies/{doc_id}.yaml", policy_text), ("documents.yaml", docs_text)):
            target = kb_dir / name
            part = target.with_suffix(".yaml.part")
            part.write_text(text, encoding="utf-8")
            os.replace(part, target)
    return load_kb(data_dir), report
