"""The FastAPI application: built by `create_app`, with the KB, database and model set up in the lifespan."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from sqlalchemy import text
from starlette.types import ASGIApp

from api import leads_service
from api.auth import admin_token_hash
from api.deps import AppState, StateDep
from api.docs import install_docs
from api.errors import install_error_handlers
from api.kb_service import KbWatcher
from api.middleware import BodySizeLimit, OneReading, redact_access_log
from api.models_service import MatcherHolder, load_serving_matcher
from api.routes import bureau_pages, kb_admin, pages, policy_pages
from api.routes import enterprises as enterprise_routes
from api.routes import interactions as interaction_routes
from api.routes import kb as kb_routes
from api.routes import leads as leads_routes
from api.routes import match as match_routes
from api.routes import models as model_routes
from api.routes import policies as policy_routes
from api.routes import registry as registry_routes
from api.routes import reports as report_routes
from api.schemas import Health
from api.security import SecurityHeaders, install_security
from api.services import enterprise_import
from api.settings import Settings, get_settings
from api.web import static_files
from features.kb import load_kb
from store.db import get_sessionmaker

log = logging.getLogger("investmatch")

DESCRIPTION = """
招商匹配（InvestMatch）：依据《河北省人民政府关于加快推进工业转型升级建设现代化工业体系的指导意见》，
为来冀投资企业匹配园区、产业链和区域定位，并逐条给出政策原文依据。
"""


class InvestMatchApp(FastAPI):
    """FastAPI with the security headers outside everything, Starlette's 500 handler included."""

    security_extra: dict[str, str] | None = None  # demo mode marks every response

    def build_middleware_stack(self) -> ASGIApp:
        return SecurityHeaders(super().build_middleware_stack(), extra=self.security_extra)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        redact_access_log()  # here, not at import: uvicorn has configured logging by now
        kb = load_kb(settings.data_dir)
        sessions = get_sessionmaker(settings.database_url)
        matcher = load_serving_matcher(kb, sessions, settings.reference_cache)
        app.state.app = AppState(
            settings=settings,
            kb=kb,
            sessions=sessions,
            holder=MatcherHolder(matcher),
            admin_hash=admin_token_hash(settings),
        )
        log.info("knowledge base %s: %d parks; model %s", kb.digest, len(kb.parks), matcher.version)
        if settings.leads_warm:
            leads_service.warm(app.state.app, leads_service.lead_pool(app.state.app))
        watcher = KbWatcher(app.state.app)
        watcher.start()
        try:
            yield
        finally:
            watcher.stop()
            app.state.app.audit.close()  # every answered match is in the audit before we stop

    app = InvestMatchApp(
        title="招商匹配 InvestMatch",
        version="0.1.0",
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,  # served offline by install_docs
        redoc_url=None,
    )
    if settings.demo:
        # Demo mode marks every response, so that no client takes its synthetic firms for real.
        app.security_extra = {"x-demo-data": "1"}
    install_error_handlers(app)
    app.add_middleware(OneReading)
    app.add_middleware(
        BodySizeLimit,
        max_bytes=settings.max_body_bytes,
        overrides={
            "/v1/enterprises/import": enterprise_import.MAX_UPLOAD_BYTES,
            # a policy's full text: up to MAX_CHARS characters, bounded again before drafting
            "/v1/policies/drafts": policy_pages.MAX_UPLOAD_BYTES,
            policy_pages.BASE: policy_pages.MAX_UPLOAD_BYTES + 64 * 1024,
            **registry_routes.UPLOAD_LIMITS,
        },
    )
    install_security(app, settings)
    app.include_router(kb_routes.router)
    app.include_router(match_routes.router)
    app.include_router(model_routes.router)
    app.include_router(enterprise_routes.router)
    app.include_router(interaction_routes.router)
    app.include_router(leads_routes.router)
    app.include_router(report_routes.router)
    app.include_router(policy_routes.router)
    app.include_router(registry_routes.router)
    app.include_router(pages.router)
    app.include_router(bureau_pages.router)
    app.include_router(kb_admin.router)
    install_docs(app)  # before /static: it mounts /static/docs
    app.include_router(policy_pages.router)
    app.mount("/static", static_files(), name="static")

    @app.get("/healthz", response_model=Health, tags=["运维"], summary="健康检查")
    def healthz(state: StateDep) -> Health:
        database = "ok"
        try:
            with state.sessions() as s:
                s.execute(text("SELECT 1"))
        except Exception:  # any driver error means the database cannot be used right now
            database = "unavailable"
        return Health(
            status="ok" if database == "ok" else "degraded",
            model_version=state.holder.matcher.version,
            database=database,
            kb_digest=state.kb.digest,
            learned=state.holder.matcher.learned,
            demo=state.settings.demo,
            **leads_service.pool_status(state),
        )

    return app
