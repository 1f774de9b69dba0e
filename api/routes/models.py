"""The model registry over HTTP: list versions (bureau), train, activate, pin and unpin (admin)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, status

from api.auth import AdminDep, BureauDep
from api.deps import StateDep
from api.errors import Conflict, NotFound
from api.models_service import model_versions, switch_version, unpin
from api.schemas import error_responses
from api.schemas_models import (
    ModelVersionPublic,
    ModelVersionsPublic,
    TrainingJobPublic,
    TrainRequest,
)

router = APIRouter(prefix="/v1/models", tags=["模型"], responses=error_responses(401, 403, 503))


@router.get("", response_model=ModelVersionsPublic, summary="模型版本及其评估指标")
def get_models(state: StateDep, _: BureauDep) -> ModelVersionsPublic:
    serving = state.holder.matcher.version
    rows = model_versions(state.sessions)
    data = [ModelVersionPublic.of(m, serving=m.version == serving) for m in rows]
    return ModelVersionsPublic(data=data, count=len(data))


@router.post(
    "/train",
    response_model=TrainingJobPublic,
    status_code=status.HTTP_202_ACCEPTED,
    summary="在后台训练新版本（仅管理员）",
    responses=error_responses(409, 413, 422),
)
def post_train(state: StateDep, _: AdminDep, req: TrainRequest | None = None) -> dict[str, Any]:
    job = state.trainer.start(force=bool(req and req.force))
    if job is None:
        running = state.trainer.running()
        raise Conflict(f"已有训练任务 {running.job_id if running else ''} 正在进行，请等待其完成")
    return job.public()


@router.get(
    "/train/{job_id}",
    response_model=TrainingJobPublic,
    summary="训练任务进度（仅管理员）",
    responses=error_responses(404),
)
def get_train(job_id: str, state: StateDep, _: AdminDep) -> dict[str, Any]:
    job = state.trainer.jobs.get(job_id)
    if job is None:
        raise NotFound(f"训练任务 '{job_id}' 不存在")
    return job.public()


def _switch(state: StateDep, version: str, pin: bool | None) -> ModelVersionPublic:
    mv = switch_version(state.sessions, state.kb, state.holder, version, pin=pin)
    return ModelVersionPublic.of(mv, serving=True)


@router.post(
    "/{version}/activate",
    response_model=ModelVersionPublic,
    summary="启用（回滚到）某一版本（仅管理员）",
    responses=error_responses(404, 422),
)
def post_activate(version: str, state: StateDep, _: AdminDep) -> ModelVersionPublic:
    return _switch(state, version, pin=None)


@router.post(
    "/{version}/pin",
    response_model=ModelVersionPublic,
    summary="固定某一版本（仅管理员）",
    responses=error_responses(404, 422),
)
def post_pin(version: str, state: StateDep, _: AdminDep) -> ModelVersionPublic:
    return _switch(state, version, pin=True)


@router.post("/unpin", response_model=ModelVersionsPublic, summary="取消固定（仅管理员）")
def post_unpin(state: StateDep, who: AdminDep) -> ModelVersionsPublic:
    unpin(state.sessions, state.kb, state.holder, state.settings.reference_cache)
    return get_models(state, who)
