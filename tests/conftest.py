"""Shared fixtures: the real KB, databases (SQLite always, PostgreSQL when TEST_DATABASE_URL is set),
a small trained model, and the service on real HTTP over loopback."""

from __future__ import annotations

import os
import re
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from api.app import create_app
from api.auth import create_token
from api.cli import train_and_register, write_demo_history
from api.settings import Settings
from features.kb import KnowledgeBase, load_kb
from store.db import get_sessionmaker, migrate
from store.enterprises import create_enterprise
from store.kb_sync import sync_kb
from store.registry import active_version, register

ROOT = Path(__file__).resolve().parents[1]
ADMIN_TOKEN = "test-admin-token"
# Every test process and every service it starts shares one fitted industry classifier.
os.environ.setdefault("CACHE_DIR", str(ROOT / "var" / "cache"))


@pytest.fixture(scope="session")
def kb() -> KnowledgeBase:
    return load_kb()


def _postgres_schema_url(base: str) -> Iterator[str]:
    """A throw-away schema in the test database, so runs never see each other's tables."""
    schema = f"t_{uuid.uuid4().hex[:10]}"
    admin = create_engine(base, poolclass=NullPool)  # fresh connections: tests may cut the network
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = make_url(base).update_query_dict({"options": f"-csearch_path={schema}"})
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


DB_PARAMS = ["sqlite"] + (["postgresql"] if os.environ.get("TEST_DATABASE_URL") else [])


def _postgres_note() -> str:
    base = os.environ.get("TEST_DATABASE_URL")
    if base:
        return f"PostgreSQL: db_url tests also run on {make_url(base).render_as_string()}"
    return (
        "PostgreSQL: NOT tested — TEST_DATABASE_URL is not set, so every db_url test ran on SQLite "
        "only (set e.g. TEST_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/test)"
    )


def pytest_report_header(config: pytest.Config) -> str:
    return _postgres_note()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    # Repeated at the end, where a reader of a long run looks: the missing variants leave no trace
    # in the pass/skip counts.
    if not os.environ.get("TEST_DATABASE_URL"):
        terminalreporter.write_line(_postgres_note(), yellow=True)


@pytest.fixture(params=DB_PARAMS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty, migrated database: SQLite, and PostgreSQL too when TEST_DATABASE_URL is set."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'test.db'}"
        migrate(url)
        yield url
    else:
        gen = _postgres_schema_url(os.environ["TEST_DATABASE_URL"])
        url = next(gen)
        migrate(url)
        yield url
        next(gen, None)


@pytest.fixture(scope="session")
def trained_settings(tmp_path_factory: pytest.TempPathFactory, kb: KnowledgeBase) -> Settings:
    """A SQLite database with the KB, a 3,000-enterprise synthetic history and a trained model."""
    var = tmp_path_factory.mktemp("var")
    settings = Settings(
        database_url=f"sqlite:///{var / 'app.db'}",
        var_dir=var,
        history_enterprises=3000,
        train_epochs=15,
        train_threads=1,
        admin_token=ADMIN_TOKEN,
        # Tests ask for leads right after start: they wait for the 3,000-enterprise index however
        # slow the machine (production answers 503 after 8 s; tests/api/test_leads checks that).
        leads_wait_seconds=600,
        # The shared server answers many self-checks from one address; tests/security checks the
        # limit on a server of its own.
        rate_limit_per_minute=100_000,
    )
    migrate(settings.database_url)
    sync_kb(get_sessionmaker(settings.database_url), kb)
    write_demo_history(settings, kb)
    train_and_register(settings, kb)
    return settings


SAMPLE_ENTERPRISES = (
    ("生产工业机器人减速器和伺服电机", "北京", 320),
    ("生物疫苗和化学药制剂的研发生产", "天津", 150),
    ("高效光伏电池组件和逆变器制造", "河北", 800),
    ("羊绒纱线与羊绒服装的设计加工", "河北", 60),
    ("冷链物流仓储与城市配送", "其他省份", 40),
)


def provision(url: str, trained: Settings, kb: KnowledgeBase, enterprises: int = 0) -> None:
    """Make the migrated database at `url` ready to serve without training: the KB, the model that
    `trained` registered (its bundle is reused, not copied), and `enterprises` plain pool records."""
    migrate(url)
    sessions = get_sessionmaker(url)
    sync_kb(sessions, kb)
    with get_sessionmaker(trained.database_url)() as s:
        model = active_version(s)
    assert model is not None
    with sessions.begin() as s:
        register(
            s,
            model.version,
            model.path,
            metrics=model.metrics,
            data_hash="provisioned",
            kb_digest=kb.digest,
            activate=True,
        )
    for i in range(enterprises):
        description, origin, employees = SAMPLE_ENTERPRISES[i % len(SAMPLE_ENTERPRISES)]
        fields = {"description": description, "origin": origin, "employees": employees + i}
        create_enterprise(sessions, fields, record_source="bureau", consent=True)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class LiveServer:
    def __init__(self, settings: Settings) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(
            create_app(settings), host="127.0.0.1", port=self.port, log_level="warning"
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 60
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("service did not start")
            time.sleep(0.05)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


@pytest.fixture(scope="session")
def live_server(trained_settings: Settings) -> Iterator[LiveServer]:
    with LiveServer(trained_settings) as server:
        yield server


@pytest.fixture
def http(live_server: LiveServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=live_server.url, timeout=30) as client:
        yield client


CSRF_INPUT = re.compile(r'<input type="hidden" name="csrf_token" value="([^"]+)">')


def form_token(client: httpx.Client, page: str = "/") -> str:
    """What a browser does before posting a form: load the page (the client keeps its CSRF cookie)
    and read the form's hidden token."""
    r = client.get(page)
    m = CSRF_INPUT.search(r.text)
    assert m, f"no CSRF token in the form of {page} ({r.status_code})"
    return m.group(1)


def post_form(
    client: httpx.Client, path: str, data: dict[str, str], page: str | None = None
) -> httpx.Response:
    """Post `data` to `path` as the form on `page` (default: `path`) would, token included."""
    return client.post(path, data={**data, "csrf_token": form_token(client, page or path)})


@pytest.fixture(scope="session")
def bureau_token(trained_settings: Settings) -> str:
    return create_token(get_sessionmaker(trained_settings.database_url), "测试招商局", "bureau")


@pytest.fixture
def bureau(live_server: LiveServer, bureau_token: str) -> Iterator[httpx.Client]:
    """A client holding a bureau token."""
    headers = {"Authorization": f"Bearer {bureau_token}"}
    with httpx.Client(base_url=live_server.url, timeout=60, headers=headers) as client:
        yield client


@pytest.fixture
def admin(live_server: LiveServer) -> Iterator[httpx.Client]:
    """A client holding the admin token."""
    headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    with httpx.Client(base_url=live_server.url, timeout=60, headers=headers) as client:
        yield client
