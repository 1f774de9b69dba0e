"""What every web page shares: templates and rendering with the CSRF token, error pages, and the
self-check form's fields read into a `/v1/match` payload with errors named as the form labels them."""

from __future__ import annotations

import math
from functools import cache
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from pydantic import BaseModel, ValidationError, create_model

from api.errors import FIELD_NAMES, AppError, describe_validation_error
from api.security import CsrfTokens, csrf_cookie, csrf_tokens, set_csrf_cookie
from features.enterprise import ENTERPRISE_FIELDS, split_products
from features.kb import CATALOGUE, CHAIN_GROUPS, DIVISIONS, PARK_KINDS
from recommender.hybrid import LEARNED_OFF_NOTICE

API_DIR = Path(__file__).resolve().parent
TEMPLATES_DIR = API_DIR / "templates"
STATIC_DIR = API_DIR / "static"

FORM_LABELS = {**{f.name: f.short for f in ENTERPRISE_FIELDS}, "top_k": "返回园区数量"}
REASON_KINDS = {
    "chain": "产业链",
    "cluster": "集群基地",
    "zone": "区域定位",
    "policy": "政策规则",
    "similar": "相似企业",
}
ZONE_KINDS = {"core": "一核", "demonstration": "四区"}
# Sent to the browser: the self-check answer describes one enterprise and must not be cached.
NO_STORE = {"Cache-Control": "no-store"}


@cache
def templates() -> Jinja2Templates:
    t = Jinja2Templates(directory=TEMPLATES_DIR)
    t.env.filters["score"] = lambda v: f"{v:.2f}"
    t.env.filters["signed"] = lambda v: f"{v:+.2f}"
    t.env.globals.update(
        quote_label=quote_label,
        park_kinds=PARK_KINDS,
        chain_groups=CHAIN_GROUPS,
        reason_kinds=REASON_KINDS,
        zone_kinds=ZONE_KINDS,
    )
    return t


def static_files() -> StaticFiles:
    """The stylesheet, mounted at /static by `create_app`."""
    return StaticFiles(directory=STATIC_DIR)


def quote_label(source: str) -> str:
    """Whose words a quotation is: the 2018 catalogue, the divisions table, the bureau's registry
    or the provincial policy."""
    if source.startswith(CATALOGUE):
        return "开发区目录"
    if source.startswith(DIVISIONS):
        return "行政区划"
    if source.startswith("企业登记名录"):
        return "登记名录"
    return "政策原文"


def render(
    request: Request,
    name: str,
    context: dict[str, Any],
    status_code: int = 200,
    headers: dict[str, str] | None = None,
) -> HTMLResponse:
    """A page; its forms carry the CSRF token signed for this browser's cookie (set if missing)."""
    nonce = request.cookies.get(csrf_cookie(request))
    fresh = None if CsrfTokens.valid_nonce(nonce) else CsrfTokens.new_nonce()
    token = csrf_tokens(request).sign(fresh or nonce or "")
    state = getattr(request.app.state, "app", None)
    marks = {
        # Every page says when its data is the demo's, and when the learned part is off.
        "demo": bool(state and state.settings.demo),
        "learned": bool(state and state.holder.matcher.learned),
        "learned_off_notice": LEARNED_OFF_NOTICE,
    }
    response = templates().TemplateResponse(
        request,
        name,
        {**marks, **context, "csrf_token": token},
        status_code=status_code,
        headers=headers,
    )
    if fresh:
        set_csrf_cookie(request, response, fresh)
    return response


def csrf_rejected(request: Request) -> HTMLResponse:
    """403 for a form post without the token of this browser (forged, or the page is stale)."""
    context = {
        "title": "无法提交表单",
        "message": "表单的安全校验未通过：页面可能已过期，或表单来自其他网站。"
        "请回到原页面，刷新后重新填写提交。",
    }
    return render(request, "error.html", context, 403, NO_STORE)


def not_found(request: Request, message: str) -> HTMLResponse:
    return render(request, "error.html", {"title": "未找到", "message": message}, 404)


# The enterprise's fields as the form's text inputs, in the schema's order.
_EnterpriseInputs: type[BaseModel] = create_model(
    "_EnterpriseInputs",
    **{f.name: (str, "") for f in ENTERPRISE_FIELDS},  # type: ignore[call-overload]
)


class SelfCheckForm(_EnterpriseInputs):  # type: ignore[valid-type,misc]
    """The form exactly as typed: every field is text, blank means "not given"."""

    top_k: str = ""
    # The enterprise's consent to keep its record for follow-up; an unchecked box sends nothing.
    consent: str = ""


class SelfCheckPost(SelfCheckForm):
    """The form as posted: the fields and the CSRF token."""

    csrf_token: str = ""


FormErrors = dict[str, list[str]]


def _add(errors: FormErrors, fld: str, message: str) -> None:
    errors.setdefault(fld, []).append(message)


def to_payload(form: SelfCheckForm) -> tuple[dict[str, Any], FormErrors]:
    """The MatchRequest payload: blanks dropped, products split, the R&D percent made a fraction."""
    payload: dict[str, Any] = {}
    errors: FormErrors = {}
    for fld in SelfCheckForm.model_fields:
        value = str(getattr(form, fld)).strip()
        if not value or fld == "consent":
            continue  # not given (a blank description is reported by MatchRequest as missing)
        if fld == "products":
            payload[fld] = split_products(value)
        elif fld == "rd_intensity":
            try:
                percent = float(value)
            except ValueError:
                percent = math.nan
            if not (math.isfinite(percent) and 0 <= percent <= 100):
                _add(errors, fld, "研发投入强度 应为 0–100 之间的百分数，如 5 表示 5%")
            else:
                payload[fld] = percent / 100
        else:
            payload[fld] = value
    return payload, errors


def relabel(fld: str, message: str, loc: tuple[Any, ...] = ()) -> str:
    """Name the field as the form labels it rather than by its API name."""
    label = FORM_LABELS.get(fld, fld)
    api_label = FIELD_NAMES.get(fld, fld)
    if len(loc) > 1 and isinstance(loc[1], int):
        api_label = f"{api_label}[{loc[1]}]"
        label = f"{label}第 {loc[1] + 1} 项"
    if message.startswith(api_label):
        return label + message.removeprefix(api_label)
    return f"{label}：{message}"


def validation_errors(exc: ValidationError) -> FormErrors:
    errors: FormErrors = {}
    for err in exc.errors():
        loc = tuple(err.get("loc", ()))
        fld = str(loc[0]) if loc else "form"
        _add(errors, fld, relabel(fld, describe_validation_error(dict(err)), loc))
    return errors


def app_error_field(exc: AppError) -> str:
    """The field an AppError's detail names first (e.g. InvalidField for industry_code)."""
    for fld, api_label in FIELD_NAMES.items():
        if exc.detail.startswith(api_label):
            return fld
    return "form"
