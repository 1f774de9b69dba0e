"""Placement history (enterprises and their interactions with parks): validation of CSV or DataFrame input.

The synthetic generator and a bureau's real CSV export go through the same `validate_history`, which
either returns clean frames or raises `HistoryError` listing every bad row; nothing is half-imported.
"""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path

import pandas as pd

from features.enterprise import FIELD_NAMES, NUMERIC_LIMITS, ORIGINS
from features.tables import TableError, TableLimits, open_table

INTERACTION_KINDS = ("viewed", "contacted", "visited", "signed", "settled", "declined")
KIND_NAMES = {
    "viewed": "浏览",
    "contacted": "已接洽",
    "visited": "已考察",
    "signed": "已签约",
    "settled": "已落地",
    "declined": "已放弃",
}
# How much each stage says about fit, for training (declined says the opposite: weight 0).
KIND_WEIGHTS = {
    "viewed": 0.2,
    "contacted": 0.5,
    "visited": 1.0,
    "signed": 2.0,
    "settled": 3.0,
    "declined": 0.0,
}
POSITIVE_KINDS = ("signed", "settled")

ENTERPRISE_COLUMNS = ("enterprise_id", *FIELD_NAMES, "created_at")
INTERACTION_COLUMNS = ("enterprise_id", "park_id", "kind", "occurred_at")
MAX_ERRORS = 50


class HistoryError(ValueError):
    """Bad rows in a history import; `errors` are Chinese, each naming file, row and column."""

    def __init__(self, errors: list[str]) -> None:
        self.errors = errors
        shown = errors[:MAX_ERRORS]
        more = f"\n……另有 {len(errors) - MAX_ERRORS} 处错误" if len(errors) > MAX_ERRORS else ""
        super().__init__("导入失败，未写入任何数据：\n" + "\n".join(shown) + more)


# A bureau's history export, read from the shell: larger than an upload, still bounded.
HISTORY_LIMITS = TableLimits(max_bytes=200 * 1024 * 1024, max_rows=5_000_000, max_cols=64)


def read_csv(path: Path | str) -> pd.DataFrame:
    """A history CSV (UTF-8, UTF-8-BOM or GB18030) as text columns, through `features.tables`;
    blank lines are skipped, as before."""
    try:
        with open(path, "rb") as fh:
            header, rows = open_table(fh, Path(path).name, HISTORY_LIMITS)
            body = [r + [""] * (len(header) - len(r)) for r in rows if r]
    except FileNotFoundError:
        raise HistoryError([f"文件 {path} 不存在"]) from None
    except TableError as exc:
        raise HistoryError([f"文件 {path} 无法读取：{exc.args[0]}"]) from None
    if any(len(r) > len(header) for r in body):
        raise HistoryError([f"文件 {path} 有的行比表头多出列，请补上表头或删除多余的列"])
    return pd.DataFrame(body, columns=header, dtype=str)


def _blank(v: object) -> bool:
    return v is None or (isinstance(v, float) and pd.isna(v)) or str(v).strip() == ""


def validate_enterprises(
    df: pd.DataFrame, industry_codes: Collection[str], label: str = "enterprises.csv"
) -> tuple[pd.DataFrame, list[str]]:
    errors: list[str] = []
    missing = [c for c in ("enterprise_id", "description") if c not in df.columns]
    if missing:
        return df, [f"{label}: 缺少必需的列 {', '.join(missing)}"]
    out = df.copy()
    for c in ENTERPRISE_COLUMNS:
        if c not in out.columns:
            out[c] = None
    seen: set[str] = set()
    records = []
    for i, row in enumerate(out.to_dict("records"), start=2):  # row 1 is the header
        where = f"{label} 第 {i} 行"
        eid = str(row["enterprise_id"]).strip() if not _blank(row["enterprise_id"]) else ""
        if not eid:
            errors.append(f"{where} enterprise_id 为空，请填写企业编号")
        elif eid in seen:
            errors.append(f"{where} enterprise_id “{eid}” 重复")
        seen.add(eid)
        desc = "" if _blank(row["description"]) else str(row["description"]).strip()
        if len(desc) < 4:
            errors.append(f"{where} description 至少需要 4 个字")
        elif len(desc) > 4000:
            errors.append(f"{where} description 最多 4000 个字")
        code = None if _blank(row["industry_code"]) else str(row["industry_code"]).strip().upper()
        if code is not None and code.lstrip("ABCDEFGHIJKLMNOPQRST") not in industry_codes:
            errors.append(f"{where} industry_code “{code}” 不是 GB/T 4754-2017 行业代码")
        rec: dict[str, object] = {"enterprise_id": eid, "description": desc, "industry_code": code}
        rec["name"] = None if _blank(row["name"]) else str(row["name"]).strip()
        rec["products"] = "" if _blank(row["products"]) else str(row["products"]).strip()
        for col, (lo, hi) in NUMERIC_LIMITS.items():
            v = row[col]
            if _blank(v):
                rec[col] = None
                continue
            try:
                num = float(v)  # type: ignore[arg-type]
            except (TypeError, ValueError):
                errors.append(f"{where} {col} “{v}” 应为数字")
                continue
            if not lo <= num <= hi:
                errors.append(f"{where} {col} = {v} 超出范围 {lo}–{hi:g}")
            rec[col] = int(num) if col == "employees" else num
        origin = None if _blank(row["origin"]) else str(row["origin"]).strip()
        if origin is not None and origin not in ORIGINS:
            errors.append(f"{where} origin “{origin}” 应为 {' | '.join(ORIGINS)} 之一")
        rec["origin"] = origin
        created = row["created_at"]
        if _blank(created):
            rec["created_at"] = pd.NaT
        else:
            ts = pd.to_datetime(created, errors="coerce", utc=True)
            if pd.isna(ts):
                errors.append(f"{where} created_at “{created}” 不是日期（例如 2024-05-01）")
            rec["created_at"] = ts
        records.append(rec)
    clean = pd.DataFrame(records, columns=list(ENTERPRISE_COLUMNS))
    return clean, errors


def validate_interactions(
    df: pd.DataFrame,
    enterprise_ids: Collection[str],
    park_ids: Collection[str],
    label: str = "interactions.csv",
) -> tuple[pd.DataFrame, list[str]]:
    errors: list[str] = []
    missing = [c for c in INTERACTION_COLUMNS if c not in df.columns]
    if missing:
        return df, [f"{label}: 缺少必需的列 {', '.join(missing)}"]
    records = []
    has_key = "idempotency_key" in df.columns
    for i, row in enumerate(df.to_dict("records"), start=2):
        where = f"{label} 第 {i} 行"
        eid, pid = str(row["enterprise_id"]).strip(), str(row["park_id"]).strip()
        kind = str(row["kind"]).strip()
        if eid not in enterprise_ids:
            errors.append(f"{where} enterprise_id “{eid}” 在企业表中不存在")
        if pid not in park_ids:
            errors.append(f"{where} park_id “{pid}” 不是知识库中的园区")
        if kind not in INTERACTION_KINDS:
            errors.append(f"{where} kind “{kind}” 应为 {' | '.join(INTERACTION_KINDS)} 之一")
        ts = pd.to_datetime(row["occurred_at"], errors="coerce", utc=True)
        if pd.isna(ts):
            errors.append(f"{where} occurred_at “{row['occurred_at']}” 不是日期（例如 2024-05-01）")
        key = (
            str(row["idempotency_key"]).strip()
            if has_key and not _blank(row["idempotency_key"])
            else None
        )
        records.append(
            dict(enterprise_id=eid, park_id=pid, kind=kind, occurred_at=ts, idempotency_key=key)
        )
    clean = pd.DataFrame(
        records, columns=["enterprise_id", "park_id", "kind", "occurred_at", "idempotency_key"]
    )
    return clean, errors


def validate_history(
    enterprises: pd.DataFrame,
    interactions: pd.DataFrame,
    industry_codes: Collection[str],
    park_ids: Collection[str],
    known_enterprise_ids: Collection[str] = (),
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Clean frames, or `HistoryError` with every problem found in either file."""
    ent, errors = validate_enterprises(enterprises, industry_codes)
    # The raw ids, so that interactions are checked even when some enterprise rows are bad.
    ids = {str(x).strip() for x in enterprises.get("enterprise_id", [])} | set(known_enterprise_ids)
    inter, more = validate_interactions(interactions, ids, set(park_ids))
    errors += more
    if errors:
        raise HistoryError(errors)
    return ent, inter
