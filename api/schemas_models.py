"""Request and response schemas of the model registry and training jobs (`/v1/models`)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from api.schemas_bureau import UtcDatetime
from store.orm import ModelVersion


class ModelVersionPublic(BaseModel):
    version: str = Field(description="版本号")
    created_at: UtcDatetime = Field(description="训练时间（UTC）")
    status: str = Field(description="active 使用中 / candidate 候选 / retired 已退役")
    pinned: bool = Field(description="是否被管理员固定")
    serving: bool = Field(description="服务当前是否由此版本作答")
    metrics: dict[str, Any] = Field(
        description="在留出企业上的评估指标（ndcg@10 等）及当时在用版本的指标"
    )

    @classmethod
    def of(cls, mv: ModelVersion, *, serving: bool) -> ModelVersionPublic:
        return cls(
            version=mv.version,
            created_at=mv.created_at,
            status=mv.status,
            pinned=mv.pinned,
            serving=serving,
            metrics=mv.metrics or {},
        )


class ModelVersionsPublic(BaseModel):
    data: list[ModelVersionPublic]
    count: int


class TrainRequest(BaseModel):
    force: bool = Field(default=False, description="为 true 时无论评估结果如何都启用新版本")


class TrainingJobPublic(BaseModel):
    job_id: str = Field(description="训练任务编号")
    status: str = Field(
        description="running 进行中 / succeeded 已启用 / rejected 未优于当前版本 / failed 失败"
    )
    stage: str = Field(description="当前阶段")
    progress: float = Field(description="进度 0–1")
    started_at: str
    finished_at: str | None
    version: str | None = Field(description="新版本号")
    metrics: dict[str, Any] | None = Field(description="新版本在留出企业上的指标")
    baseline_metrics: dict[str, Any] | None = Field(description="当前版本在同一批企业上的指标")
    switched: bool = Field(description="服务是否已切换到新版本")
    message: str | None = Field(description="中文说明")
