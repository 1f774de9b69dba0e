"""Bureau pages over real HTTP: the cookie login, redirects without it, the chain-gap diagram,
the leads table, cookie exports and the printable match report."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator

import httpx
import pytest

from api.auth import PAGE_COOKIE
from features.kb import KnowledgeBase
from tests.conftest import CSRF_INPUT, LiveServer, post_form

PARK = "cangzhou_canal_laser"


@pytest.fixture
def browser(live_server: LiveServer) -> Iterator[httpx.Client]:
    """A client with no Authorization header, keeping cookies as a browser does."""
    with httpx.Client(base_url=live_server.url, timeout=60, follow_redirects=False) as client:
        yield client


@pytest.fixture
def logged_in(browser: httpx.Client, bureau_token: str) -> httpx.Client:
    r = post_form(browser, "/bureau/login", {"token": bureau_token, "next": "/bureau"})
    assert r.status_code == 303
    return browser


def test_login_sets_a_strict_http_only_cookie(browser: httpx.Client, bureau_token: str) -> None:
    form = browser.get("/bureau/login?next=/bureau/parks/x/leads")
    assert form.status_code == 200 and "招商部门登录" in form.text
    assert 'value="/bureau/parks/x/leads"' in form.text
    token = CSRF_INPUT.search(form.text)
    assert token
    r = browser.post(
        "/bureau/login",
        data={
            "token": bureau_token,
            "next": f"/bureau/parks/{PARK}/leads",
            "csrf_token": token.group(1),
        },
    )
    assert r.status_code == 303
    assert r.headers["location"] == f"/bureau/parks/{PARK}/leads"
    cookie = r.headers["set-cookie"]
    assert cookie.startswith(f"{PAGE_COOKIE}=")
    lowered = cookie.lower()
    assert "httponly" in lowered and "samesite=strict" in lowered and "path=/bureau" in lowered
    assert bureau_token not in r.text


def test_login_refuses_a_bad_token_without_echoing_it(browser: httpx.Client) -> None:
    r = post_form(browser, "/bureau/login", {"token": "wrong-secret-123", "next": "/bureau"})
    assert r.status_code == 401
    assert "令牌无效" in r.text and "wrong-secret-123" not in r.text
    assert "set-cookie" not in r.headers


def test_login_never_redirects_off_the_bureau(browser: httpx.Client, bureau_token: str) -> None:
    r = post_form(
        browser, "/bureau/login", {"token": bureau_token, "next": "https://evil.example/"}
    )
    assert r.headers["location"] == "/bureau"


@pytest.mark.parametrize(
    "path",
    [
        "/bureau",
        f"/bureau/parks/{PARK}/chain-gaps",
        f"/bureau/parks/{PARK}/leads",
        "/bureau/report",
    ],
)
def test_pages_without_the_cookie_redirect_to_login(browser: httpx.Client, path: str) -> None:
    r = browser.get(path)
    assert r.status_code == 303
    assert r.headers["location"].startswith("/bureau/login?next=")
    bad = browser.get(path, headers={"Cookie": f"{PAGE_COOKIE}=not-a-token"})
    assert bad.status_code == 303


def test_bearer_header_alone_does_not_open_pages(bureau: httpx.Client) -> None:
    r = bureau.get("/bureau", follow_redirects=False)
    assert r.status_code == 303


def test_index_lists_parks_and_searches(logged_in: httpx.Client) -> None:
    r = logged_in.get("/bureau")
    assert r.status_code == 200 and r.headers["cache-control"] == "no-store"
    assert f"/bureau/parks/{PARK}/chain-gaps" in r.text
    found = logged_in.get("/bureau", params={"q": "激光"})
    assert "沧州运河激光产业基地" in found.text and "唐山机器人基地" not in found.text


def test_chain_gap_page_draws_the_chain(
    logged_in: httpx.Client, bureau: httpx.Client, kb: KnowledgeBase
) -> None:
    r = logged_in.get(f"/bureau/parks/{PARK}/chain-gaps")
    assert r.status_code == 200
    html = r.text
    assert "<svg" in html and 'class="chain-diagram"' in html
    assert "高端装备产业" in html
    for seg in kb.chain_by_id["high_end_equipment"].segments:
        assert seg.name[:8] in html
    assert "补链分析：沧州运河激光产业基地" in html
    assert any(colour in html for colour in ("#fed7d7", "#fefcbf", "#c6f6d5"))
    # The page shows what GET /v1/parks/{id}/chain-gaps answers. On the 3,000-enterprise history
    # the laser park has thin or empty segments with candidates: each one links to its report.
    gaps = bureau.get(f"/v1/parks/{PARK}/chain-gaps", timeout=300).json()
    segments = [s for c in gaps["chains"] for s in c["segments"]]
    to_fill = [s for s in segments if s["status"] != "ok" and s["candidates"]]
    assert to_fill
    for s in to_fill:
        for c in s["candidates"]:
            assert f"/bureau/report?enterprise_id={c['enterprise_id']}" in html
    assert html.count("暂无明确属于该环节") == sum(not s["candidates"] for s in segments)


def test_chain_gap_page_for_an_unknown_park_is_404(logged_in: httpx.Client) -> None:
    r = logged_in.get("/bureau/parks/nowhere/chain-gaps")
    assert r.status_code == 404 and "不存在" in r.text


def test_leads_page_shows_a_table_with_reasons_and_filters(logged_in: httpx.Client) -> None:
    r = logged_in.get(f"/bureau/parks/{PARK}/leads", params={"origin": "北京"})
    assert r.status_code == 200
    assert '<table class="leads">' in r.text and "推荐理由" in r.text
    assert "<option selected>北京</option>" in r.text
    assert f"/bureau/parks/{PARK}/leads.csv?origin=" in r.text
    bad = logged_in.get(f"/bureau/parks/{PARK}/leads", params={"scale": "huge"})
    assert bad.status_code == 422 and "scale（企业规模）" in bad.text


def test_cookie_export_downloads_csv(logged_in: httpx.Client) -> None:
    r = logged_in.get(f"/bureau/parks/{PARK}/leads.csv", params={"origin": "天津"})
    assert r.status_code == 200 and r.content.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))
    assert rows[0][:2] == ["企业编号", "企业名称"] and len(rows) > 1
    assert all(row[2] == "天津" for row in rows[1:])


def test_report_is_a_printable_page(logged_in: httpx.Client) -> None:
    r = logged_in.get(
        "/bureau/report",
        params={"description": "研发制造工业机器人和高档数控机床", "name": "某智能装备公司"},
    )
    assert r.status_code == 200
    assert "园区匹配报告：某智能装备公司" in r.text
    css = logged_in.get("/static/bureau-report.css").text
    assert 'href="/static/bureau-report.css"' in r.text
    assert "@media print" in css and "size: A4" in css
    leads = logged_in.get(f"/bureau/parks/{PARK}/leads").text
    start = leads.index("/bureau/report?enterprise_id=") + len("/bureau/report?enterprise_id=")
    eid = leads[start : leads.index('"', start)]
    by_id = logged_in.get("/bureau/report", params={"enterprise_id": eid})
    assert by_id.status_code == 200 and f"<dd>{eid}</dd>" in by_id.text
    # The leads' enterprise_id is the record id: the report names it, and the imported id beside it.
    assert "企业记录编号" in by_id.text
    missing = logged_in.get("/bureau/report", params={"enterprise_id": "NOPE"})
    assert missing.status_code == 404
    short = logged_in.get("/bureau/report", params={"description": "ab"})
    assert short.status_code == 422 and "至少需要 4 个字" in short.text


def test_logout_clears_the_cookie(logged_in: httpx.Client) -> None:
    r = post_form(logged_in, "/bureau/logout", {}, page="/bureau")
    assert r.status_code == 303 and r.headers["location"] == "/bureau/login"
    assert logged_in.get("/bureau").status_code == 303
