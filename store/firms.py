"""Registered firms in the database: the streaming, all-or-nothing import of a registry export, the
placements it gives for learning, and counts for the bureau.

A re-import of the same file changes nothing; a newer export updates the firms whose record changed.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import datetime
from itertools import islice
from typing import Any, cast

import pandas as pd
from sqlalchemy import Table, bindparam, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from features import registry as reg
from store import orm

CHUNK = 2000
MAX_WARNINGS = 200
# Fields compared to decide whether a re-imported firm changed; who imported it and when do not.
COMPARED = (
    "credit_code",
    "credit_code_raw",
    "code_valid",
    "name",
    "reg_date",
    "firm_type",
    "capital_wan",
    "capital_currency",
    "capital_amount_wan",
    "scope",
    "province",
    "region",
    "address",
    "county_code",
    "city",
    "county",
    "located_by",
    "status",
)
SOURCE = "企业登记名录（招商部门导入）"
TABLE = cast(Table, orm.RegistryFirm.__table__)
UPDATE_BY_ID = (
    update(TABLE)
    .where(TABLE.c.id == bindparam("firm_id"))
    .values({c: bindparam(c) for c in (*COMPARED, "row_key", "imported_at")})
)


class ConcurrentImport(RuntimeError):
    """Another import wrote some of the same firms while this one ran; nothing of this one was
    written, and running it again will do."""


class RegistryFileError(ValueError):
    """A file rejected before anything was written; `errors` are row-numbered Chinese messages."""

    def __init__(self, detail: str, errors: list[str]) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = errors


@dataclass
class RegistryImportReport:
    rows_read: int = 0  # data rows in the file, blank rows not counted
    imported: int = 0  # firms new to the database
    updated: int = 0  # firms already held whose record changed
    unchanged: int = 0  # firms already held, identical
    duplicates: int = 0  # rows repeating an earlier row's code (or name and address) in the file
    skipped: int = 0  # rows without a 企业名称
    invalid_codes: int = 0  # a code that fails the GB 32100-2015 check (kept, flagged)
    missing_codes: int = 0  # N/A or blank code (kept, flagged)
    located_by: dict[str, int] = field(default_factory=dict)  # credit_code / address / region
    city_only: int = 0  # the city is known, the county is not
    unlocated: int = 0  # no county: city_only plus firms with no place at all
    capital_foreign: int = 0  # capital in another currency: kept as written, no 万元人民币 figure
    capital_unparsed: int = 0  # a capital cell that is neither a figure nor N/A
    bad_dates: int = 0  # a 注册日期 that is no date
    by_city: dict[str, int] = field(default_factory=dict)
    ignored_columns: list[str] = field(default_factory=list)
    dropped_personal_columns: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def warn(self, message: str) -> None:
        if len(self.warnings) < MAX_WARNINGS:
            self.warnings.append(message)


def check_header(
    header: list[str], label: str
) -> tuple[dict[str, list[int]], list[str], list[str]]:
    """(column -> index, ignored headers, personal headers dropped), or `RegistryFileError`."""
    columns, ignored, problems = reg.header_columns(header)
    personal = [h for h in ignored if reg.norm_header(h) in reg.PERSONAL_LOOKUP]
    ignored = [h for h in ignored if h not in personal]
    errors = [f"{label} {p}" for p in problems]
    for col in reg.REQUIRED:
        if col not in columns:
            zh, en = reg.COLUMNS[col][:2]
            errors.append(f"{label} 第 1 行 缺少必需的列“{zh}”（或 {en}）")
    if errors:
        accepted = "、".join(f"{a[0]}（{a[1]}）" for a in reg.COLUMNS.values())
        raise RegistryFileError(
            f"{label} 的表头有误，未导入任何企业；表头应为（中文或英文）：{accepted}", errors
        )
    return columns, ignored, personal


def _parse_rows(
    rows: Iterator[list[str]],
    columns: dict[str, list[int]],
    divisions: reg.Divisions,
    report: RegistryImportReport,
    label: str,
) -> Iterator[dict[str, Any]]:
    """Each usable row as table values; counts and row-numbered warnings go to `report`."""
    seen: set[str] = set()
    by_city: Counter[str] = Counter()
    located: Counter[str] = Counter()

    def cell(row: list[str], col: str) -> str:
        return "".join(row[j] for j in columns.get(col, ()) if j < len(row) and row[j])

    for i, row in enumerate(rows):
        if not row:
            continue
        line = i + 2  # row 1 is the header
        report.rows_read += 1
        name = reg.clean_text(cell(row, "name"), 500)
        if name is None:
            report.skipped += 1
            report.warn(f"{label} 第 {line} 行 企业名称为空，已跳过该行")
            continue
        raw_code = cell(row, "credit_code").replace("\x00", "")
        code = reg.normalize_code(raw_code)
        valid = code is not None and reg.uscc_valid(code)
        if code is None:
            report.missing_codes += 1
        elif not valid:
            report.invalid_codes += 1
            report.warn(
                f"{label} 第 {line} 行 统一社会信用代码“{raw_code[:40]}”未通过 GB 32100-2015 校验，"
                "已导入并标记为无效代码"
            )
        address = reg.clean_text(cell(row, "address"), 1000)
        key = code if valid and code else reg.row_key(None, name, address or "")
        if key in seen:
            report.duplicates += 1
            continue
        seen.add(key)
        capital_text = cell(row, "capital")
        capital = reg.parse_capital(capital_text)
        if capital is None and not reg.is_missing(capital_text):
            report.capital_unparsed += 1
            report.warn(f"{label} 第 {line} 行 注册资金“{capital_text[:40]}”无法识别，按空值导入")
        elif capital is not None and capital.cny_wan is None:
            report.capital_foreign += 1
        date_text = cell(row, "reg_date")
        reg_date = reg.parse_date(date_text)
        if reg_date is None and not reg.is_missing(date_text):
            report.bad_dates += 1
            report.warn(f"{label} 第 {line} 行 注册日期“{date_text[:40]}”无法识别，按空值导入")
        region = reg.clean_text(cell(row, "region"), 200)
        province = reg.clean_text(cell(row, "province"), 50)
        where = reg.locate(
            divisions,
            code if valid else None,
            valid,
            address or "",
            region or "",
            province or "",
        )
        if where.county_code is None:
            report.unlocated += 1
            if where.city:
                report.city_only += 1
        if where.located_by != "none":
            located[where.located_by] += 1
        by_city[where.city or "未能定位"] += 1
        yield {
            "row_key": key,
            "credit_code": code if valid else None,
            "credit_code_raw": None if valid or code is None else raw_code[:40],
            "code_valid": valid,
            "name": name,
            "reg_date": reg_date,
            "firm_type": reg.clean_text(cell(row, "firm_type"), 200),
            "capital_wan": capital.cny_wan if capital else None,
            "capital_currency": capital.currency if capital else None,
            "capital_amount_wan": capital.amount_wan if capital else None,
            "scope": reg.clean_text(cell(row, "scope"), 4000) or "",
            "province": province,
            "region": region,
            "address": address,
            "county_code": where.county_code,
            "city": where.city,
            "county": where.county,
            "located_by": where.located_by,
            "status": reg.clean_text(cell(row, "status"), 100),
        }
    report.by_city = dict(by_city.most_common())
    report.located_by = dict(located)


def _existing(session: Session, keys: list[str]) -> dict[str, dict[str, Any]]:
    cols = [orm.RegistryFirm.id, orm.RegistryFirm.row_key] + [
        getattr(orm.RegistryFirm, c) for c in COMPARED
    ]
    out: dict[str, dict[str, Any]] = {}
    for row in session.execute(select(*cols).where(orm.RegistryFirm.row_key.in_(keys))):
        m = row._mapping
        out[m["row_key"]] = dict(m)
    return out


def import_registry(
    sessions: sessionmaker[Session],
    header: list[str],
    rows: Iterator[list[str]],
    *,
    bureau: str | None,
    label: str = "文件",
    divisions: reg.Divisions | None = None,
) -> RegistryImportReport:
    """Import a registry export in ONE transaction, streaming `rows` in chunks.

    A bad header raises `RegistryFileError` before anything is written; any error while reading
    (e.g. `features.tables.TableError` on a row past the limits) rolls the whole import back.
    """
    t0 = time.perf_counter()
    columns, ignored, personal = check_header(header, label)
    report = RegistryImportReport(ignored_columns=ignored, dropped_personal_columns=personal)
    divisions = divisions or reg.load_divisions()
    parsed = _parse_rows(rows, columns, divisions, report, label)
    now = orm.utcnow()
    try:
        _write(sessions, parsed, report, bureau, now)
    except IntegrityError as exc:
        raise ConcurrentImport(str(exc.orig)) from exc
    report.seconds = round(time.perf_counter() - t0, 2)
    return report


def _write(
    sessions: sessionmaker[Session],
    parsed: Iterator[dict[str, Any]],
    report: RegistryImportReport,
    bureau: str | None,
    now: datetime,
) -> None:
    with sessions.begin() as session:
        while chunk := list(islice(parsed, CHUNK)):
            held = _existing(session, [r["row_key"] for r in chunk])
            new: list[dict[str, Any]] = []
            changed: list[dict[str, Any]] = []
            for r in chunk:
                old = held.get(r["row_key"])
                if old is None:
                    new.append({**r, "bureau": bureau, "imported_at": now})
                elif any(old[c] != r[c] for c in COMPARED):
                    changed.append({**r, "firm_id": old["id"], "imported_at": now})
                else:
                    report.unchanged += 1
            # Core executemany: one statement for the chunk (the ORM's bulk insert splits a chunk
            # into one statement per pattern of NULL cells, i.e. almost one per row here).
            if new:
                session.execute(insert(TABLE), new)
            if changed:
                session.execute(UPDATE_BY_ID, changed)
            report.imported += len(new)
            report.updated += len(changed)


def count_firms(sessions: sessionmaker[Session]) -> int:
    with sessions() as session:
        return int(session.scalar(select(func.count()).select_from(orm.RegistryFirm)) or 0)


PLACEMENT_COLUMNS = [
    "firm_id",
    "name",
    "scope",
    "county_code",
    "city",
    "county",
    "reg_date",
    "capital_wan",
]


def load_placements(
    sessions: sessionmaker[Session], *, hebei_only: bool = True, active_only: bool = True
) -> pd.DataFrame:
    """Firms located to a county (Hebei's by default, county codes 13xxxx), one row each: the real
    placements the recommender learns from. Firms known only to a city, or nowhere, are left out,
    and so (by default) are firms whose 登记状态 says they are gone (注销, 吊销, 迁出, …)."""
    f = orm.RegistryFirm
    stmt = select(
        f.id.label("firm_id"),
        f.name,
        f.scope,
        f.county_code,
        f.city,
        f.county,
        f.reg_date,
        f.capital_wan,
    ).where(f.county_code.is_not(None))
    if hebei_only:
        stmt = stmt.where(f.county_code.startswith("13"))
    if active_only:
        stmt = stmt.where(
            *[or_(f.status.is_(None), ~f.status.contains(w, autoescape=True)) for w in reg.INACTIVE]
        )
    with sessions() as session:
        rows = session.execute(stmt.order_by(f.id)).all()
    return pd.DataFrame([tuple(r) for r in rows], columns=PLACEMENT_COLUMNS)


def registry_summary(session: Session) -> dict[str, Any]:
    """Counts for the bureau: firms by city and county, by how they were located, by source."""
    f = orm.RegistryFirm
    total = int(session.scalar(select(func.count()).select_from(f)) or 0)
    valid = int(session.scalar(select(func.count()).where(f.code_valid.is_(True))) or 0)
    located = dict(session.execute(select(f.located_by, func.count()).group_by(f.located_by)).all())
    counties = session.execute(
        select(f.city, f.county_code, f.county, func.count())
        .group_by(f.city, f.county_code, f.county)
        .order_by(func.count().desc())
    ).all()
    by_city: dict[str, dict[str, Any]] = {}
    for city, code, county, n in counties:
        entry = by_city.setdefault(city or "未能定位", {"count": 0, "counties": []})
        entry["count"] += int(n)
        if code is not None:
            entry["counties"].append({"county_code": code, "county": county, "count": int(n)})
    sources = [
        {"bureau": b, "count": int(n), "last_imported_at": _iso(last)}
        for b, n, last in session.execute(
            select(f.bureau, func.count(), func.max(f.imported_at)).group_by(f.bureau)
        ).all()
    ]
    return {
        "total": total,
        "code_valid": valid,
        "code_invalid_or_missing": total - valid,
        "located_by": {k: int(v) for k, v in located.items()},
        "with_county": total - sum(int(n) for _c, code, _n2, n in counties if code is None),
        "by_city": [
            {"city": c, **v} for c, v in sorted(by_city.items(), key=lambda kv: -kv[1]["count"])
        ],
        "sources": sources,
        "source": SOURCE,
    }


def _iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    return value.isoformat(timespec="seconds")
