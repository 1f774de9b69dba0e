"""Importing a bureau's enterprise file (CSV or XLSX) into the candidate pool, whole or not at all:
headers read through the enterprise schema, rows checked with row-numbered Chinese errors, one
import at a time. Table parsing itself is `features.tables`."""

from __future__ import annotations

import re
import threading
from pathlib import PurePath
from typing import BinaryIO

import pandas as pd

from api.deps import AppState
from api.errors import AppError, FileRejected, ServiceUnavailable, TooLarge, database
from api.schemas_bureau import INVENTED_ID, INVENTED_ID_MESSAGE
from features.controls import control_message
from features.enterprise import ENTERPRISE_FIELDS, EXTERNAL_ID_HEADERS
from features.history import validate_enterprises
from features.tables import TableError, TableLimits, open_table
from store import enterprises as store

MAX_UPLOAD_BYTES = 5 * 1024 * 1024
MAX_ROWS = 50_000
MAX_LISTED_ERRORS = 500
MAX_COLLECTED_ERRORS = 10_000
UPLOAD_LIMITS = TableLimits(max_bytes=MAX_UPLOAD_BYTES, max_rows=MAX_ROWS, max_cols=64)
# One import at a time: each holds up to a 5 MB file, its rows and a transaction. A second one
# waits this long for the first, then is told to retry rather than queueing without bound.
IMPORT_WAIT_SECONDS = 30
_import_slot = threading.BoundedSemaphore(1)

# Column -> accepted headers: the Chinese one first (used in messages), then the English ones. The
# bureau's own id is `external_id` (a legacy `enterprise_id` header means it too, never a record id).
HEADERS: dict[str, tuple[str, ...]] = {
    "external_id": EXTERNAL_ID_HEADERS,
    **{f.name: (*f.headers, f.name) for f in ENTERPRISE_FIELDS},
}
REQUIRED = ("external_id", "description")


class InvalidFile(AppError):
    """A file that cannot be imported; `errors` are row-numbered Chinese messages."""

    status_code = 422
    code = "invalid_file"

    def __init__(self, detail: str, errors: list[str] | None = None) -> None:
        super().__init__(detail)
        self.errors = errors or [detail]


def rejected(label: str, errors: list[str]) -> FileRejected:
    """The error of a file with `errors`, sorted by row, summed up with the rows they are on."""
    errors = sorted(errors, key=_row_of)
    rows = sorted({r for r in map(_row_of, errors) if r})
    where = "、".join(map(str, rows[:20])) + ("……" if len(rows) > 20 else "")
    detail = (
        f"{label} 有 {len(errors)} 处错误"
        + (f"（第 {where} 行）" if rows else "")
        + "，整个文件未导入；请按 errors 逐条修改后重新上传整个文件"
    )
    return FileRejected(detail, errors, MAX_LISTED_ERRORS)


# -- reading an uploaded table --------------------------------------------------------------------
def _norm_header(h: object) -> str:
    s = re.sub(r"\s+", "", str(h or "")).replace("(", "（").replace(")", "）")
    return s.lower()


HEADER_LOOKUP = {_norm_header(alias): col for col, aliases in HEADERS.items() for alias in aliases}
ACCEPTED = "、".join(f"{a[0]}（{a[1]}）" for a in HEADERS.values())


def read_table(data: bytes | BinaryIO, filename: str) -> tuple[pd.DataFrame, dict[str, str]]:
    """The data rows under canonical column names (all text), and each column's header as written.

    Row i of the frame is row i + 2 of the file, as `validate_enterprises` numbers them; blank
    rows at the end are dropped, blank rows in between are kept so that numbers stay true.
    Parsing and all its bounds live in `features.tables`.
    """
    label = filename
    try:
        header, row_iter = open_table(data, filename, UPLOAD_LIMITS)
        body = list(row_iter)
    except TableError as exc:
        raise InvalidFile(exc.args[0]) from None
    if not any(header) and not body:
        raise InvalidFile(f"{label} 是空文件：第 1 行应为表头，其下每行一家企业")
    if not body:
        raise InvalidFile(f"{label} 只有表头、没有企业数据：请从第 2 行起每行填写一家企业")

    errors: list[str] = []
    columns: dict[str, int] = {}
    written: dict[str, str] = {}
    # Columns that hold data somewhere, found in one pass (rows are at most UPLOAD_LIMITS.max_cols
    # wide): checking each blank header against every row made work grow with columns x rows.
    filled = {j for r in body for j, v in enumerate(r) if v}
    for j, h in enumerate(header):
        col_no = j + 1
        if not h:
            if j in filled:
                errors.append(
                    f"{label} 第 1 行 第 {col_no} 列有数据但没有表头，请补上表头或删除该列"
                )
            continue
        col = HEADER_LOOKUP.get(_norm_header(h))
        if col is None:
            errors.append(
                f"{label} 第 1 行 表头“{h}”无法识别，请改为以下之一或删除该列：{ACCEPTED}"
            )
        elif col in columns:
            errors.append(f"{label} 第 1 行 表头“{h}”与“{written[col]}”是同一列，请只保留一列")
        else:
            columns[col], written[col] = j, h
    for col in REQUIRED:
        if col not in columns:
            zh, en = HEADERS[col][:2]
            errors.append(f"{label} 第 1 行 缺少必需的列“{zh}”（或 {en}）")
    if errors:
        raise InvalidFile(f"{label} 的表头有误，未导入任何企业", errors)

    # `features.history.validate_enterprises` reads the bureau's id under the history file's name.
    columns = {("enterprise_id" if c == "external_id" else c): j for c, j in columns.items()}
    written = {("enterprise_id" if c == "external_id" else c): h for c, h in written.items()}
    frame = pd.DataFrame(
        {col: [r[j] if j < len(r) else "" for r in body] for col, j in columns.items()}, dtype=str
    )
    if "rd_intensity" in frame:
        frame["rd_intensity"] = frame["rd_intensity"].map(_percent)
    return frame, written


MULTI_LINE_COLUMNS = ("description",)


def cell_errors(frame: pd.DataFrame, written: dict[str, str], label: str) -> list[str]:
    """Control characters and invented-looking ids, which `validate_enterprises` does not check."""
    errors: list[str] = []
    for col in frame.columns:
        multiline = col in MULTI_LINE_COLUMNS
        for i, value in enumerate(frame[col], start=2):
            where = f"{label} 第 {i} 行 {written.get(col, col)}"
            message = control_message(where, value, multiline=multiline) if value else None
            if message:
                errors.append(message)
            elif col == "enterprise_id" and INVENTED_ID.match(value):
                errors.append(INVENTED_ID_MESSAGE.format(label=where, value=value))
            if len(errors) >= MAX_COLLECTED_ERRORS:
                return errors
    return errors


def _percent(v: str) -> str:
    """`5%` typed in a cell means 0.05; anything else is left for validation to judge."""
    if v.endswith(("%", "％")):
        try:
            return repr(float(v[:-1]) / 100)
        except ValueError:
            return v
    return v


ROW = re.compile(r" 第 (\d+) 行 ")


def _row_of(message: str) -> int:
    m = ROW.search(message)
    return int(m.group(1)) if m else 0


def _relabel(errors: list[str], written: dict[str, str]) -> list[str]:
    """Name columns as the file's header does (`validate_enterprises` uses the English names)."""
    out = []
    for msg in errors:
        for col, header in written.items():
            if header != col and f" 行 {col} " in msg:
                msg = msg.replace(f" 行 {col} ", f" 行 {header} ", 1)
                break
        out.append(msg)
    return out


def safe_label(filename: str | None) -> str:
    name = PurePath(filename or "").name.strip()
    return name[:80] if name else "上传的文件"


def import_file(file: BinaryIO, filename: str | None, state: AppState, bureau: str) -> int:
    """Import an uploaded file for `bureau`; the number of enterprises imported. `FileRejected`
    lists every error (nothing written), 413 for a file too large, 503 while another imports."""
    label = safe_label(filename)
    if not _import_slot.acquire(timeout=IMPORT_WAIT_SECONDS):
        raise ServiceUnavailable("另一个文件正在导入，请稍后重新上传", code="import_busy")
    try:
        return _import_locked(file, label, state, bureau)
    finally:
        _import_slot.release()


def _import_locked(file: BinaryIO, label: str, state: AppState, bureau: str) -> int:
    data = file.read(MAX_UPLOAD_BYTES + 1)
    if len(data) > MAX_UPLOAD_BYTES:
        raise TooLarge(
            f"{label} 超过 {MAX_UPLOAD_BYTES // 1024 // 1024} MB，请拆分为多个文件分批导入"
        )
    try:
        frame, written = read_table(data, label)
    except InvalidFile as exc:
        raise rejected(label, exc.errors) from None
    clean, errors = validate_enterprises(frame, state.kb.industries, label=label)
    errors = _relabel(errors, written) + cell_errors(frame, written, label)
    row_of: dict[str, int] = {}
    for i, eid in enumerate(frame["enterprise_id"]):
        if eid:
            row_of.setdefault(eid, i + 2)  # row 1 is the header
    id_header = written["enterprise_id"]

    def taken_messages(taken: dict[str, int]) -> list[str]:
        # The holder's record id is not named: it may be another bureau's record.
        return [
            f"{label} 第 {row_of.get(ext, 0)} 行 {id_header} “{ext}” 已在企业库中被使用，"
            "请换一个编号或删除该行"
            for ext in taken
        ]

    with database():
        if errors:
            # Report collisions with the pool too, so that one round of fixes is enough.
            with state.sessions() as session:
                errors += taken_messages(store.taken_external_ids(session, row_of))
            raise rejected(label, errors)
        try:
            return store.import_enterprises(
                state.sessions, clean, record_source="import", bureau=bureau
            )
        except store.DuplicateExternalIds as exc:
            raise rejected(label, taken_messages(exc.existing)) from None
