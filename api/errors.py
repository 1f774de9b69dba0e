"""Domain errors and their mapping to the one JSON error shape: {"detail": "中文说明", "code": "…"}."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError, DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException

from features.enterprise import ENTERPRISE_FIELDS


class AppError(Exception):
    """An error the user can act on; `detail` is Chinese and says what to do next."""

    status_code = 400
    code = "bad_request"
    extra: dict[str, Any] = {}  # more fields of the error body (e.g. a file's row errors)

    def __init__(
        self,
        detail: str,
        *,
        code: str | None = None,
        status_code: int | None = None,
        retry_after: int | None = None,
    ):
        super().__init__(detail)
        self.detail = detail
        self.retry_after = retry_after  # seconds, sent as Retry-After
        if code:
            self.code = code
        if status_code:
            self.status_code = status_code


class NotFound(AppError):
    status_code = 404
    code = "not_found"


class ServiceUnavailable(AppError):
    status_code = 503
    code = "unavailable"


DB_DOWN = "数据库暂时不可用，请稍后重试"


@contextmanager
def database() -> Iterator[None]:
    """Work on a session factory outside a request session: a database that is down answers 503
    with a Chinese message, as for request sessions (bad input, a DataError, stays a 422)."""
    try:
        yield
    except (OperationalError, InterfaceError) as exc:
        raise ServiceUnavailable(DB_DOWN, code="database_unavailable") from exc


class Conflict(AppError):
    status_code = 409
    code = "conflict"


class TooLarge(AppError):
    status_code = 413
    code = "too_large"


class FileRejected(AppError):
    """An uploaded file with errors, nothing imported: `detail` sums them up, the body's `errors`
    lists the first `max_listed` (each naming its row) and `error_count` counts them all."""

    status_code = 422
    code = "invalid_file"

    def __init__(self, detail: str, errors: list[str], max_listed: int) -> None:
        super().__init__(detail)
        shown = errors[:max_listed]
        if len(errors) > max_listed:
            shown.append(f"……另有 {len(errors) - max_listed} 处错误未列出")
        self.extra = {"errors": shown, "error_count": len(errors)}


FIELD_NAMES = {
    **{f.name: f.api_label for f in ENTERPRISE_FIELDS},
    "top_k": "top_k（返回园区数量）",
    "limit": "limit（每页条数）",
    "offset": "offset（偏移量）",
}


def describe_validation_error(err: dict[str, Any]) -> str:
    """One pydantic error as a Chinese sentence that names the field and says what to fix."""
    loc = [str(p) for p in err.get("loc", ()) if p not in ("body", "query", "path", "header")]
    field = ".".join(loc) or "请求体"
    label = FIELD_NAMES.get(loc[0], field) if loc else "请求体"
    if len(loc) > 1:
        label = f"{label}[{'.'.join(loc[1:])}]"
    etype = err.get("type", "")
    ctx = err.get("ctx") or {}
    if etype == "missing":
        return f"{label} 为必填项，请填写"
    if etype == "string_too_short":
        return f"{label} 至少需要 {ctx.get('min_length')} 个字"
    if etype == "string_too_long":
        return f"{label} 最多 {ctx.get('max_length')} 个字，请删减"
    if etype in ("too_short", "too_long"):
        bound = ctx.get("min_length") if etype == "too_short" else ctx.get("max_length")
        word = "至少" if etype == "too_short" else "最多"
        return f"{label} {word} {bound} 项"
    if etype in ("greater_than_equal", "greater_than"):
        return f"{label} 不能小于{'等于' if etype == 'greater_than' else ''} {ctx.get('ge', ctx.get('gt'))}"
    if etype in ("less_than_equal", "less_than"):
        return f"{label} 不能大于{'等于' if etype == 'less_than' else ''} {ctx.get('le', ctx.get('lt'))}"
    if etype.startswith("int_") or etype.startswith("float_"):
        return f"{label} 应为数字"
    if etype.startswith("string_") and etype != "string_pattern_mismatch":
        return f"{label} 应为文本"
    if etype == "string_pattern_mismatch":
        return f"{label} 格式不正确"
    if etype in ("literal_error", "enum"):
        return f"{label} 只能取以下值之一：{ctx.get('expected', '')}"
    if etype == "list_type":
        return f"{label} 应为列表"
    if etype == "json_invalid":
        return "请求体不是合法的 JSON，请检查引号、逗号和括号"
    if etype in ("model_type", "model_attributes_type", "dict_type"):
        return "请求体应为 JSON 对象"
    if etype == "extra_forbidden":
        return f"{label} 不是可识别的字段，请删除"
    if etype == "value_error":
        msg = str(ctx.get("error", err.get("msg", "")))
        return msg if msg else f"{label} 取值无效"
    if etype in ("bool_type", "bool_parsing"):
        return f"{label} 应为是/否（true/false）"
    return f"{label} 取值无效：{err.get('msg', '')}"


def error_body(detail: str, code: str, **extra: Any) -> dict[str, Any]:
    return {"detail": detail, "code": code, **extra}


DB_BUSY = "数据库连接繁忙（连接池已满），本次请求未处理；请稍后重试"
INTERNAL_ERROR = "服务器内部错误，本次操作未完成；请稍后重试，如仍出错请联系管理员"


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(Exception)
    async def _internal(_: Request, exc: Exception) -> JSONResponse:
        # Starlette's outermost middleware calls this and then re-raises, so the trace is still
        # logged; the caller gets the one JSON shape in Chinese instead of a plain-text page.
        return JSONResponse(error_body(INTERNAL_ERROR, "internal_error"), status_code=500)

    @app.exception_handler(AppError)
    async def _app_error(_: Request, exc: AppError) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if exc.status_code == 401 else {}
        if exc.retry_after is not None:
            headers["Retry-After"] = str(exc.retry_after)
        return JSONResponse(
            error_body(exc.detail, exc.code, **exc.extra),
            status_code=exc.status_code,
            headers=headers,
        )

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        messages = [describe_validation_error(dict(e)) for e in errors]
        fields = [".".join(str(p) for p in e.get("loc", ())[1:]) for e in errors]
        return JSONResponse(
            error_body("；".join(dict.fromkeys(messages)), "invalid_input", fields=fields),
            status_code=422,
        )

    @app.exception_handler(DBAPIError)
    async def _database(_: Request, exc: DBAPIError) -> JSONResponse:
        # A dropped connection or an unreachable server: say so, never a 500 with a trace.
        if exc.connection_invalidated or isinstance(exc, OperationalError | InterfaceError):
            return JSONResponse(
                error_body("数据库暂时不可用，请稍后重试", "database_unavailable"), status_code=503
            )
        if isinstance(exc, DataError):
            # A value the database refuses to store or compare, e.g. a NUL character (U+0000)
            # in a PostgreSQL text parameter: bad input, not a server fault.
            return JSONResponse(
                error_body(
                    "输入含有数据库无法保存的字符或数值（如空字符 \\u0000），请删除后重试",
                    "invalid_input",
                ),
                status_code=422,
            )
        raise exc

    @app.exception_handler(PoolTimeout)
    async def _pool_full(_: Request, exc: PoolTimeout) -> JSONResponse:
        # Every pooled connection busy past the pool's timeout: a load peak, not a fault.
        return JSONResponse(
            error_body(DB_BUSY, "database_busy"), status_code=503, headers={"Retry-After": "1"}
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        detail = exc.detail if isinstance(exc.detail, str) else "请求无法处理"
        if exc.status_code == 400:
            # Only the framework raises a bare 400: a body it cannot decode (not UTF-8 JSON, a
            # broken multipart). That is bad input like malformed JSON: the same 422, in Chinese.
            return JSONResponse(
                error_body(
                    "请求体无法解析：JSON 请求体应为 UTF-8 编码，文件上传应为完整的 multipart/form-data",
                    "invalid_input",
                ),
                status_code=422,
            )
        texts = {404: "请求的地址不存在，请检查路径", 405: "不支持此请求方法", 413: "请求体过大"}
        if exc.status_code in texts and detail in ("Not Found", "Method Not Allowed"):
            detail = texts[exc.status_code]
        return JSONResponse(
            error_body(detail, f"http_{exc.status_code}"),
            status_code=exc.status_code,
            headers=getattr(exc, "headers", None),
        )
