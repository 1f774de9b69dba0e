"""Bureau-only enterprise records: create one, import a CSV or Excel file whole or not at all, list, get.

The candidate pool these build is private to the bureau: no public route returns a stored enterprise.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from starlette.datastructures import UploadFile as StarletteUpload
from starlette.formparsers import MultiPartException

from api import leads_service
from api.auth import BureauDep
from api.deps import SessionDep, StateDep
from api.errors import Conflict, NotFound, database, error_body
from api.routes.match import to_profile
from api.schemas import MAX_ID, MAX_OFFSET, ErrorPublic, Origin, error_responses
from api.schemas_bureau import (
    ENTERPRISE_ID_DOC,
    EnterpriseCreate,
    EnterprisePublic,
    EnterprisesPublic,
    ImportRejected,
    ImportResult,
    RecordSource,
)
from api.services import enterprise_import as importing
from store import enterprises as store

router = APIRouter(
    prefix="/v1/enterprises",
    tags=["企业库（招商部门）"],
    responses=error_responses(401, 403, 422, 503),
)


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
    leads_service.pool_changed(state)
    return EnterprisePublic.model_validate(row)


@router.post(
    "/import",
    status_code=201,
    response_model=ImportResult,
    summary="从 CSV（UTF-8）或 Excel .xlsx 文件批量导入企业：有错则整个文件不导入",
    description=(
        "第 1 行为表头，中文或英文均可："
        + importing.ACCEPTED
        + "。企业编号和主营业务描述必填；研发投入强度为 0–1 的比例（也可写 5%）。"
        f"文件最大 {importing.MAX_UPLOAD_BYTES // 1024 // 1024} MB、{importing.MAX_ROWS} 行。"
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
        raise importing.InvalidFile(
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
        n = await run_in_threadpool(
            importing.import_file, upload.file, upload.filename, state, principal.bureau
        )
        leads_service.pool_changed(state)  # indexed in the background
        return JSONResponse(ImportResult(imported=n).model_dump(), status_code=201)
    finally:
        await form.close()


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
    enterprise_id: Annotated[int, Path(ge=1, le=MAX_ID, description=ENTERPRISE_ID_DOC)],
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
    enterprise_id: Annotated[int, Path(ge=1, le=MAX_ID, description=ENTERPRISE_ID_DOC)],
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
    leads_service.pool_changed(state, [enterprise_id])
    return Response(status_code=204)
