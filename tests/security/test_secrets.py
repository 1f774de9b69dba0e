"""No secret in the repository or in the service's logs: tracked files hold no key or token, var/
and .env are ignored by git, and a real service process never writes a bearer token to its log."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import httpx
import pytest

from api.auth import create_token
from api.settings import Settings
from features.kb import KnowledgeBase
from store.db import get_sessionmaker
from tests.conftest import CSRF_INPUT, ROOT, provision
from tests.process import ServiceProcess

SECRET_PATTERNS = {
    "private key": re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"),
    "AWS access key": re.compile(r"\bAKIA[0-9A-Z]{16}\b"),
    "GitHub token": re.compile(r"\bgh[pousr]_[A-Za-z0-9]{36,}\b"),
    "Slack token": re.compile(r"\bxox[abprs]-[A-Za-z0-9-]{10,}"),
    "API key": re.compile(r"\bsk-[A-Za-z0-9_-]{20,}"),
    "JWT": re.compile(r"\beyJ[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{10,}\."),
    # token = "…", ADMIN_TOKEN: …, password='…' with a long literal value
    "assigned secret": re.compile(
        r"(?i)(secret|token|passw(or)?d|api[_-]?key)\w*['\"]?\s*[:=]\s*['\"]([A-Za-z0-9_+/=.-]{20,})['\"]"
    ),
    # user:password@ in a database URL
    "URL with a password": re.compile(r"\b[a-z+]+://[^/\s:@]+:([^@\s/]+)@"),
}
# Placeholders that documentation and tests spell out on purpose.
PLACEHOLDERS = re.compile(r"^(\$\{\w+\}|pw|password|test-.*|.*example.*|x+)$", re.I)


def tracked_files() -> list[Path]:
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    out = subprocess.run(
        ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True
    ).stdout.decode()
    return [ROOT / name for name in out.split("\0") if name]


def test_no_secret_in_tracked_files() -> None:
    found = []
    for path in tracked_files():
        if not path.is_file() or path.stat().st_size > 5_000_000:
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue  # binary (xlsx fixtures, images)
        for what, pattern in SECRET_PATTERNS.items():
            for m in pattern.finditer(text):
                value = m.group(m.lastindex or 0)
                if not PLACEHOLDERS.match(value):
                    found.append(f"{path.relative_to(ROOT)}: {what}: {m.group(0)[:60]}")
    assert not found, "secrets in tracked files:\n" + "\n".join(found)


def test_no_key_or_database_file_is_tracked() -> None:
    names = [p.relative_to(ROOT).as_posix() for p in tracked_files()]
    risky = re.compile(r"(^|/)(var/|\.env$|admin\.token$)|\.(pem|key|p12|db|sqlite3?)$")
    assert not [n for n in names if risky.search(n)]


@pytest.mark.parametrize("path", ["var/admin.token", "var/investmatch.db", ".env"])
def test_var_and_env_are_git_ignored(path: str) -> None:
    tracked_files()  # skips outside a checkout
    r = subprocess.run(["git", "check-ignore", "-q", path], cwd=ROOT, check=False)
    assert r.returncode == 0, f"{path} is not ignored by git"


def test_service_log_never_shows_a_token(
    trained_settings: Settings, kb: KnowledgeBase, tmp_path: Path
) -> None:
    """`python -m api.cli serve` with no ADMIN_TOKEN (it writes var/admin.token), INFO logging and
    access logs; bearer calls, cookie logins and refused tokens must leave no token in the log."""
    url = f"sqlite:///{tmp_path / 'app.db'}"
    provision(url, trained_settings, kb, enterprises=5)
    bureau = create_token(get_sessionmaker(url), "日志测试", "bureau")
    wrong = "wrong-" + bureau[::-1]
    log = tmp_path / "service.log"
    with ServiceProcess(url, tmp_path, log) as service:
        admin = (tmp_path / "admin.token").read_text(encoding="utf-8").strip()
        with httpx.Client(base_url=service.url, timeout=60) as c:
            for token in (admin, bureau):
                auth = {"Authorization": f"Bearer {token}"}
                assert c.get("/v1/enterprises", headers=auth).status_code == 200
                assert c.get("/v1/models", headers=auth).status_code == 200
                leads = c.get("/v1/parks/cangzhou_canal_laser/leads", headers=auth)
                assert leads.status_code == 200
            assert (
                c.get("/v1/models", headers={"Authorization": f"Bearer {wrong}"}).status_code == 401
            )
            for token, status in ((bureau, 303), (wrong, 401)):
                page = c.get("/bureau/login")
                m = CSRF_INPUT.search(page.text)
                assert m
                r = c.post("/bureau/login", data={"token": token, "csrf_token": m.group(1)})
                assert r.status_code == status
            assert c.get("/bureau").status_code == 200  # the cookie works
    output = service.output()
    assert "GET /v1/enterprises" in output  # the access log was captured
    assert str(tmp_path / "admin.token") in output  # the path is logged …
    for secret in (admin, bureau, wrong):
        assert secret not in output  # … the tokens never are


# Assembled at run time from pieces, so that this file itself holds no secret for the scan above.
PLANTED = [
    "".join(['ADMIN_TOKEN = "', "Zx8kQ2mV9pL4", "tR7wY1bN5cJ3", '"']),
    "".join(["password: '", "hunter2hunter2", "hunter2hunter2", "'"]),
    "".join(["DATABASE_URL=postgresql+psycopg://app:", "S3cr3tPassw0rd", "@db:5432/app"]),
    "".join(["-----BEGIN RSA ", "PRIVATE KEY-----"]),
]


@pytest.mark.parametrize("planted", PLANTED)
def test_scanner_finds_a_planted_secret(planted: str) -> None:
    hits = [
        m.group(m.lastindex or 0) for p in SECRET_PATTERNS.values() for m in p.finditer(planted)
    ]
    assert any(not PLACEHOLDERS.match(h) for h in hits)
