"""Bureau-only lead progress: record an interaction once per idempotency key, and list them.

Recorded interactions are read by `store.history.read_history`, so the next training run weighs them
by stage (features.history.KIND_WEIGHTS).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone
from typing import Annotated

from fastapi import APIRouter, Header, Query, Response

from api.auth import BureauDep
from api.deps import AppState, SessionDep, StateDep
from api.errors import AppError, Conflict, database
from api.routes.match import InvalidField
from api.schemas import MAX_ID, MAX_OFFSET, ErrorPublic, error_responses
from api.schemas_bureau import (
    ENTERPRISE_ID_DOC,
    InteractionCreate,
    InteractionPublic,
    InteractionsPublic,
    Kind,
)
from features.history import KIND_NAMES
from store import enterprises as store
from store import orm

router = APIRouter(
    prefix="/v1/interactions",
    tags=["对接进展（招商部门）"],
    responses=error_responses(401, 403, 422, 503),
)

# Bureau staff type local times; China has one time zone and no daylight saving.
BEIJING = timezone(timedelta(hours=8), "北京时间")
# A clock a little ahead on the caller's side is not an error; a date next week is.
FUTURE_SLACK = timedelta(hours=1)
KEY_PATTERN = re.compile(r"^[\x21-\x7e]{8,120}$")
KEY_HELP = (
    "请为每条进展生成一个唯一的键（8–120 个可见 ASCII 字符，如 UUID），"
    "网络重试时沿用同一个键，就不会重复记录"
)


class MissingKey(AppError):
    status_code = 422
    code = "idempotency_key_invalid"


def public(row: orm.Interaction, state: AppState) -> InteractionPublic:
    out = InteractionPublic.model_validate(row)
    park = state.kb.park_by_id.get(row.park_id)
    out.park_name = park.name if park else None
    out.kind_name = KIND_NAMES.get(row.kind, row.kind)
    return out


def check_key(key: str | None) -> str:
    if key is None or not key.strip():
        raise MissingKey(f"请求头 Idempotency-Key 为必填项：{KEY_HELP}")
    key = key.strip()
    if not KEY_PATTERN.match(key):
        raise MissingKey(
            f"请求头 Idempotency-Key 长度或字符不符合要求（现为 {len(key)} 个字符）：{KEY_HELP}"
        )
    return key


def occurred(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    aware = value.replace(tzinfo=BEIJING) if value.tzinfo is None else value
    if aware > datetime.now(UTC) + FUTURE_SLACK:
        raise InvalidField(
            f"occurred_at（发生时间）{value.isoformat()} 晚于当前时间：只能记录已经发生的进展"
        )
    return aware.astimezone(UTC)


@router.post(
    "",
    status_code=201,
    response_model=InteractionPublic,
    summary="记录一条对接进展（幂等：同一 Idempotency-Key 重试只记一次）",
    description=(
        "首次请求返回 201；同一个 Idempotency-Key、相同内容的重试返回 200 和同一条记录"
        "（响应头 Idempotent-Replayed: true）；同一个键、不同内容返回 409。"
        "重试时不填 occurred_at 视为与首次相同。"
    ),
    responses={
        200: {"model": InteractionPublic, "description": "重试：返回首次记录的同一条"},
        **error_responses(413),
        409: {"model": ErrorPublic, "description": "Idempotency-Key 已用于另一条记录"},
    },
)
def record_interaction(
    req: InteractionCreate,
    response: Response,
    state: StateDep,
    principal: BureauDep,
    idempotency_key: Annotated[
        str | None,
        Header(
            alias="Idempotency-Key",
            description="幂等键，8–120 个可见 ASCII 字符；重试时沿用同一个键",
        ),
    ] = None,
) -> InteractionPublic:
    key = check_key(idempotency_key)
    new = store.NewInteraction(
        enterprise_id=req.enterprise_id,
        park_id=req.park_id,
        kind=req.kind,
        note=req.note,
        occurred_at=occurred(req.occurred_at),
    )
    try:
        with database():
            row, created = store.record_interaction(
                state.sessions, key, new, bureau=principal.bureau
            )
    except store.IdempotencyConflict as exc:
        # Keys are per bureau, so the record named here is the caller's own.
        fields = "、".join(exc.differences)
        raise Conflict(
            f"Idempotency-Key “{key}” 已用于本部门的另一条进展（记录 id {exc.existing.id}），"
            f"本次的 {fields} 与之不同：重试请发送与首次完全相同的内容；记录新的进展请换一个新键",
            code="idempotency_key_reused",
        ) from None
    except store.UnknownReference as exc:
        if exc.field == "enterprise_id":
            raise InvalidField(
                f"enterprise_id（企业记录编号）{exc.value} 不存在：请先用 POST /v1/enterprises 建档，"
                "或用 GET /v1/enterprises 查到企业的 id"
            ) from None
        raise InvalidField(
            f"park_id（园区编号）“{exc.value}” 不是知识库中的园区，请用 GET /v1/parks 查询园区编号"
        ) from None
    if not created:
        response.status_code = 200
        response.headers["Idempotent-Replayed"] = "true"
    return public(row, state)


@router.get(
    "",
    response_model=InteractionsPublic,
    summary="对接进展记录：分页列出，最新在前（招商部门只看到本部门的记录，管理员看到全部）",
)
def list_interactions(
    session: SessionDep,
    state: StateDep,
    principal: BureauDep,
    enterprise_id: Annotated[
        int | None, Query(ge=1, le=MAX_ID, description=ENTERPRISE_ID_DOC)
    ] = None,
    park_id: Annotated[str | None, Query(max_length=80, description="园区编号")] = None,
    kind: Annotated[Kind | None, Query(description="进展类别")] = None,
    limit: Annotated[int, Query(ge=1, le=500, description="每页条数，最多 500")] = 50,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET, description="偏移量")] = 0,
) -> InteractionsPublic:
    rows, count = store.list_interactions(
        session,
        enterprise_id=enterprise_id,
        park_id=park_id,
        kind=kind,
        limit=limit,
        offset=offset,
        bureau=None if principal.is_admin else principal.bureau,
    )
    return InteractionsPublic(data=[public(r, state) for r in rows], count=count)
