"""Bureau-only registry import: a market-regulation registry export (.csv/.xlsx) becomes real
placements, all or nothing, and a summary of what the database holds and where it came from."""

from __future__ import annotations

from dataclasses import replace
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, UploadFile
from fastapi.responses import JSONResponse

from api.auth import BureauDep
from api.deps import SessionDep, StateDep
from api.errors import Conflict, FileRejected, database
from api.schemas import ErrorPublic, error_responses
from api.schemas_registry import RegistryImportPublic, RegistrySummaryPublic
from features.registry import COLUMNS, REGISTRY_LIMITS
from features.tables import TableError, open_table
from store import firms

router = APIRouter(
    prefix="/v1/registry",
    tags=["企业登记名录（招商部门）"],
    responses=error_responses(401, 403, 422, 503),
)

MAX_UPLOAD_BYTES = 100 * 1024 * 1024
HTTP_LIMITS = replace(REGISTRY_LIMITS, max_bytes=MAX_UPLOAD_BYTES, max_rows=200_000)
# Body allowance of the import route, for api.app's size limit (the default is far smaller).
UPLOAD_LIMITS = {"/v1/registry/import": MAX_UPLOAD_BYTES}
MAX_LISTED_ERRORS = 200
ACCEPTED = "、".join(f"{a[0]}（{a[1]}）" for a in COLUMNS.values())


@router.post(
    "/import",
    status_code=201,
    response_model=RegistryImportPublic,
    summary="导入企业登记名录（市场监管登记导出的 CSV 或 Excel .xlsx），导入后重新训练模型",
    description=(
        "第 1 行为表头，中文或英文均可："
        + ACCEPTED
        + "。企业名称、统一社会信用代码和经营范围三列必须有；"
        "其他列可缺，多余的列不读取，法定代表人等个人姓名列不读取也不保存。"
        "统一社会信用代码按 GB 32100-2015 校验，无效或 N/A 的行仍导入并标记；同一代码只保留第一行。"
        "所在县取自代码第 3–8 位（登记机关行政区划），否则取自注册地址、地区。"
        "整个文件在一个事务中导入：出错则什么也不写入；重复导入同一文件不改变任何数据。"
        f"文件最大 {MAX_UPLOAD_BYTES // 1024 // 1024} MB、{HTTP_LIMITS.max_rows} 行。"
    ),
    responses={
        409: {"model": ErrorPublic, "description": "另一次导入同时写入了相同的企业，本次未导入"},
        413: {"model": ErrorPublic, "description": "文件过大"},
        422: {
            "model": ErrorPublic,
            "description": "文件有错（errors 逐条列出行号），整个文件未导入",
        },
    },
)
def import_registry(
    file: Annotated[UploadFile, File(description="企业登记名录：.xlsx 或 .csv（UTF-8 / GB18030）")],
    state: StateDep,
    who: BureauDep,
    bureau: Annotated[
        str | None,
        Form(max_length=100, description="导入的招商部门名称，记入数据来源（默认为令牌所属部门）"),
    ] = None,
    retrain: Annotated[bool, Form(description="导入后在后台重新训练并登记模型")] = True,
) -> Any:
    label = (file.filename or "上传的文件").replace("/", "_")[-80:]
    try:
        header, rows = open_table(file.file, file.filename or "", HTTP_LIMITS)
        with database():
            report = firms.import_registry(
                state.sessions,
                header,
                rows,
                bureau=(bureau or "").strip() or who.bureau or None,
                label=label,
            )
    except TableError as exc:
        raise FileRejected(
            f"{exc.args[0]}；整个文件未导入", [exc.args[0]], MAX_LISTED_ERRORS
        ) from None
    except firms.RegistryFileError as exc:
        raise FileRejected(exc.detail, exc.errors, MAX_LISTED_ERRORS) from None
    except firms.ConcurrentImport:
        raise Conflict(
            f"{label}：另一次导入同时写入了相同的企业，本次未导入任何数据；请稍后重新上传同一文件",
            code="concurrent_import",
        ) from None
    job = None
    if retrain and (report.imported or report.updated):
        job = state.trainer.start()
    body = {**report.as_dict(), "training_job_id": job.job_id if job else None}
    return JSONResponse(RegistryImportPublic(**body).model_dump(), status_code=201)


@router.get(
    "/summary",
    response_model=RegistrySummaryPublic,
    summary="已导入的登记企业：按市、县计数，定位依据和数据来源",
)
def registry_summary(session: SessionDep, _: BureauDep) -> RegistrySummaryPublic:
    return RegistrySummaryPublic(**firms.registry_summary(session))
