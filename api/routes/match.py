"""`POST /v1/match`: rank parks, chains and zones for an enterprise, with reasons; every answer audited."""

from __future__ import annotations

import copy
import logging
import time
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query

from api.deps import AppState, StateDep
from api.errors import AppError
from api.schemas import MatchRequest, MatchResponse, error_responses
from features.enterprise import EnterpriseProfile, profile_from
from recommender.advice import advise
from store.audit import AuditRow

log = logging.getLogger("investmatch")
router = APIRouter(prefix="/v1", tags=["匹配"])


# Channels only a bureau token reaches: their registry reasons may name the bureau's own registered
# firms; the public self-check (api, web) gets counts only.
BUREAU_CHANNELS = frozenset({"bureau_report", "export"})


class InvalidField(AppError):
    status_code = 422
    code = "invalid_input"


def to_profile(req: MatchRequest, state: AppState) -> EnterpriseProfile:
    """Check what the schema cannot (the code exists in GB/T 4754) and build the profile."""
    if req.industry_code and state.kb.industry(req.industry_code) is None:
        raise InvalidField(
            f"industry_code（国民经济行业代码）“{req.industry_code}” 不是 GB/T 4754-2017 中的行业代码，"
            "请填写如 C3612 的小类代码，或留空"
        )
    return profile_from(req.model_dump())


# What an audit keeps of a request nobody consented to keep: nothing that names or describes the
# enterprise (name, description, products, figures), only what the ranking was asked for.
ANONYMOUS_REQUEST_FIELDS = ("industry_code", "origin", "top_k")


def anonymous_audit(
    req: MatchRequest, result: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The (request, response) an audit stores without consent: what was ranked, not who asked.
    `matched_terms` and reasons quote the description, so only ids and scores are kept."""
    request = {k: getattr(req, k) for k in ANONYMOUS_REQUEST_FIELDS}
    response = {
        "request_id": result["request_id"],
        "parks": [{"park_id": p["park_id"], "score": p["score"]} for p in result["parks"]],
        "chains": [c["chain_id"] for c in result["chains"]],
    }
    return {**request, "anonymous": True}, response


def run_match(
    req: MatchRequest,
    state: AppState,
    channel: str,
    *,
    consent: bool = False,
    advice: bool = False,
) -> dict[str, Any]:
    """Score, answer and audit one request (the audit is best effort: matching needs no database;
    its row is written by `state.audit`'s thread, see store/audit.py).

    Without `consent` (the public API, a self-check whose box is unchecked) the audit is anonymous.
    With `advice`, the answer also carries up to three changes, each re-scored (a few ms more).
    """
    profile = to_profile(req, state)
    t0 = time.perf_counter()
    matcher = state.holder.matcher
    result = matcher.match(
        profile,
        top_k=req.top_k,
        request_id=uuid.uuid4().hex,
        reveal_names=channel in BUREAU_CHANNELS,
    )
    result["demo"] = state.settings.demo
    if advice:
        result["advice"] = advise(matcher, profile, top_k=req.top_k)
    elapsed = (time.perf_counter() - t0) * 1000
    if consent:
        # a copy: the caller goes on using the answer while the audit's thread writes it
        audit_request, audit_response = req.model_dump(mode="json"), copy.deepcopy(result)
    else:
        audit_request, audit_response = anonymous_audit(req, result)
    # Written by the audit's own thread, in order, after the answer has gone out.
    state.audit.submit(
        AuditRow(
            request_id=result["request_id"],
            model_version=matcher.version,
            request=audit_request,
            response=audit_response,
            duration_ms=elapsed,
            channel=channel,
        )
    )
    return result


@router.post(
    "/match",
    response_model=MatchResponse,
    summary="为企业匹配园区、产业链和区域",
    responses=error_responses(413, 422, 429),
)
def match(
    req: MatchRequest,
    state: StateDep,
    advice: Annotated[
        bool,
        Query(description="为 true 时附上改进建议 advice（每条由改变后的企业信息重新打分得出）"),
    ] = False,
) -> dict[str, Any]:
    return run_match(req, state, channel="api", advice=advice)
