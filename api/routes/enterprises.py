"""Bureau-only enterprise records: create one, import a CSV or Excel file whole or not at all, list, get.

The candidate pool these build is private to the bureau: no public route returns a stored enterprise.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import PurePath
from typing import Annotated, Any, BinaryIO

import pandas as pd
from fastapi import APIRouter, Path, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from sqlalchemy.exc import OperationalError
from starlette.datastructures import UploadFile as StarletteUpload
from starlette.formparsers import MultiPartException

from api.auth import BureauDep, Principal
from api.deps import DB_DOWN, AppState, SessionDep, StateDep
from api.errors import AppError, NotFound, ServiceUnavailable, error_body
from api.routes.match import to_profile
from api.schemas import MAX_ID, MAX_OFFSET, ErrorPublic, Origin, error_responses
from api.schemas_bureau import (
    INVENTED_ID,
    INVENTED_ID_MESSAGE,
    EnterpriseCreate,
    EnterprisePublic,
    EnterprisesPublic,
    ImportRejected,
    ImportResult,
    RecordSource,
)
from features.controls import control_message
from features.enterprise import ENTERPRISE_FIELDS, EXTERNAL_ID_HEADERS
from features.history import validate_enterprises
from features.tables import TableError, TableLimits, open_table
from store import enterprises as store

router = APIRouter(
    prefix="/v1/enterprises",
    tags=["企业库（招商部门）"],
    responses=error_responses(401, 403, 422, 503),
)

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


class Conflict(AppError):
    status_code = 409
    code = "conflict"


class TooLarge(AppError):
    status_code = 413
    code = "too_large"


class InvalidFile(AppError):
    """A file that cannot be imported; `errors` are row-numbered Chinese messages."""

    status_code = 422
    code = "invalid_file"

    def __init__(self, detail: str, errors: list[str] | None = None) -> None:
        super().__init__(detail)
        self.errors = errors or [detail]


@contextmanager
def database() -> Iterator[None]:
    """A database that is down answers 503 with a Chinese message, as for request sessions."""
    try:
        yield
    except OperationalError as exc:
        raise ServiceUnavailable(DB_DOWN, code="database_unavailable") from exc


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


def _rejected(label: str, errors: list[str]) -> JSONResponse:
    errors = sorted(errors, key=_row_of)
    rows = sorted({r for r in map(_row_of, errors) if r})
    where = "、".join(map(str, rows[:20])) + ("……" if len(rows) > 20 else "")
    detail = (
        f"{label} 有 {len(errors)} 处错误"
        + (f"（第 {where} 行）" if rows else "")
        + "，整个文件未导入；请按 errors 逐条修改后重新上传整个文件"
    )
    shown = errors[:MAX_LISTED_ERRORS]
    if len(errors) > MAX_LISTED_ERRORS:
        shown.append(f"……另有 {len(errors) - MAX_LISTED_ERRORS} 处错误未列出")
    return JSONResponse(
        error_body(detail, "invalid_file", errors=shown, error_count=len(errors)), status_code=422
    )


def _safe_label(filename: str | None) -> str:
    name = PurePath(filename or "").name.strip()
    return name[:80] if name else "上传的文件"


# -- routes ---------------------------------------------------------------------------------------
@router.post(
    "",
    status_code=201,
    response_model=EnterprisePublic,
    summary="新建一条企业记录（进入候选企业库）",
    responses={
        **error_responses(413),
        409: {"model": ErrorPublic, "description": "external_id 已被使用"},
    },
)
def create_enterprise(
    req: EnterpriseCreate, state: StateDep, principal: BureauDep
) -> EnterprisePublic:
    to_profile(req, state)  # the GB/T code must exist, with the same message as /v1/match
    fields = req.model_dump()
    try:
        with database():
            row = store.create_enterprise(
                state.sessions,
                fields,
                record_source="bureau",
                consent=True,
                bureau=principal.bureau,
            )
    except store.DuplicateExternalIds as exc:
        ext, pk = next(iter(exc.existing.items()))
        with database(), state.sessions() as session:
            holder = store.get_enterprise(session, pk)
        if holder is not None and (principal.is_admin or holder.bureau == principal.bureau):
            where = (
                f"（企业记录 id {pk}），请换一个编号，或用 GET /v1/enterprises/{pk} 查看已有记录"
            )
        else:
            where = "，请换一个编号"  # another bureau's record: its id and content stay private
        raise Conflict(
            f"external_id（企业编号）“{ext}” 已存在{where}", code="duplicate_external_id"
        ) from None
    return EnterprisePublic.model_validate(row)


@router.post(
    "/import",
    status_code=201,
    response_model=ImportResult,
    summary="从 CSV（UTF-8）或 Excel .xlsx 文件批量导入企业：有错则整个文件不导入",
    description=(
        "第 1 行为表头，中文或英文均可："
        + ACCEPTED
        + "。企业编号和主营业务描述必填；研发投入强度为 0–1 的比例（也可写 5%）。"
        f"文件最大 {MAX_UPLOAD_BYTES // 1024 // 1024} MB、{MAX_ROWS} 行。"
    ),
    responses={
        413: {"model": ErrorPublic, "description": "文件过大"},
        422: {
            "model": ImportRejected | ErrorPublic,
            "description": "文件有错（errors 逐条列出行号），或没有上传文件",
        },
        503: {"model": ErrorPublic, "description": "另一个文件正在导入，或数据库暂时不可用"},
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "required": ["file"],
                        "properties": {
                            "file": {
                                "type": "string",
                                "format": "binary",
                                "description": "企业名录：.xlsx 或 .csv（UTF-8 或 GB18030）",
                            }
                        },
                    }
                }
            },
        }
    },
)
async def import_enterprises(request: Request, state: StateDep, principal: BureauDep) -> Any:
    # The multipart body is parsed here, after BureauDep has checked the token: a `File()`
    # parameter would make FastAPI parse up to 5 MB for anyone before authenticating.
    try:
        form = await request.form(max_files=1, max_fields=20, max_part_size=64 * 1024)
    except (MultiPartException, ValueError):
        raise InvalidFile(
            "请求体无法解析：请以 multipart/form-data 上传，文件放在 file 字段"
        ) from None
    try:
        upload = form.get("file")
        if not isinstance(upload, StarletteUpload):
            return JSONResponse(
                error_body(
                    "file（企业名录文件）为必填项：请以 multipart/form-data 的 file 字段上传 .xlsx 或 .csv 文件",
                    "invalid_input",
                    fields=["file"],
                ),
                status_code=422,
            )
        return await run_in_threadpool(_import_file, upload, state, principal)
    finally:
        await form.close()


def _import_file(upload: StarletteUpload, state: AppState, principal: Principal) -> Any:
    label = _safe_label(upload.filename)
    if not _import_slot.acquire(timeout=IMPORT_WAIT_SECONDS):
        raise ServiceUnavailable("另一个文件正在导入，请稍后重新上传", code="import_busy")
    try:
        return _import_locked(upload, label, state, principal)
    finally:
        _import_slot.release()


def _import_locked(
    upload: StarletteUpload, label: str, state: AppState, principal: Principal
) -> Any:
    data = upload.file.read(MAX_UPLOAD_BYTES + 1)
    if len(data) > MAX_UPLOAD_BYTES:
        raise TooLarge(
            f"{label} 超过 {MAX_UPLOAD_BYTES // 1024 // 1024} MB，请拆分为多个文件分批导入"
        )
    try:
        frame, written = read_table(data, label)
    except InvalidFile as exc:
        return _rejected(label, exc.errors)
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
            return _rejected(label, errors)
        try:
            n = store.import_enterprises(
                state.sessions, clean, record_source="import", bureau=principal.bureau
            )
        except store.DuplicateExternalIds as exc:
            return _rejected(label, taken_messages(exc.existing))
    return JSONResponse(ImportResult(imported=n).model_dump(), status_code=201)


@router.get(
    "",
    response_model=EnterprisesPublic,
    summary="候选企业库：分页列出企业记录",
)
def list_enterprises(
    session: SessionDep,
    _: BureauDep,
    origin: Annotated[Origin | None, Query(description="来源地")] = None,
    record_source: Annotated[
        RecordSource | None,
        Query(description="记录来源：bureau / import / self_check / synthetic / api"),
    ] = None,
    q: Annotated[
        str | None,
        Query(max_length=100, description="企业名称、主营业务描述或企业编号包含此文字"),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=500, description="每页条数，最多 500")] = 50,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET, description="偏移量")] = 0,
) -> EnterprisesPublic:
    where = store.EnterpriseFilter(origin=origin, record_source=record_source, q=(q or "").strip())
    rows, count = store.list_enterprises(session, where, limit, offset)
    return EnterprisesPublic(data=[EnterprisePublic.model_validate(r) for r in rows], count=count)


@router.get(
    "/{enterprise_id}",
    response_model=EnterprisePublic,
    summary="一条企业记录",
    responses={404: {"model": ErrorPublic, "description": "没有这条企业记录"}},
)
def get_enterprise(
    enterprise_id: Annotated[int, Path(ge=1, le=MAX_ID, description="企业记录编号")],
    session: SessionDep,
    _: BureauDep,
) -> EnterprisePublic:
    row = store.get_enterprise(session, enterprise_id)
    if row is None:
        raise NotFound(
            f"企业记录 id {enterprise_id} 不存在，请用 GET /v1/enterprises 查询企业的 id",
            code="enterprise_not_found",
        )
    return EnterprisePublic.model_validate(row)


@router.delete(
    "/{enterprise_id}",
    status_code=204,
    summary="删除一条企业记录及其对接进展（用于更正：删除后可重新录入）",
    responses={404: {"model": ErrorPublic, "description": "没有这条记录，或不属于本部门"}},
)
def delete_enterprise(
    enterprise_id: Annotated[int, Path(ge=1, le=MAX_ID, description="企业记录编号")],
    state: StateDep,
    principal: BureauDep,
) -> Response:
    """A bureau deletes its own records; an admin any record, self-check records included."""
    with database():
        deleted = store.delete_enterprise(
            state.sessions, enterprise_id, None if principal.is_admin else principal.bureau
        )
    if not deleted:
        raise NotFound(
            f"企业记录 id {enterprise_id} 不存在或不属于本部门，无法删除；"
            "请用 GET /v1/enterprises 查询本部门录入的记录",
            code="enterprise_not_found",
        )
    return Response(status_code=204)
