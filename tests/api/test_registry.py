"""Registry import and summary over real HTTP: bureau-only, Chinese row-numbered 422s for rejected
files, bounded hostile uploads, and an import that a second upload leaves unchanged."""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import httpx
import pytest

from api.routes import registry as registry_routes
from api.settings import Settings
from features.kb import KnowledgeBase
from store import firms
from store.db import get_sessionmaker
from tests.conftest import ADMIN_TOKEN, LiveServer, provision
from tests.fixtures.registry_fixture import HEADER, generate, write_xlsx

CSV = "text/csv"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def csv_bytes(header: list[str], rows: list[list[str]]) -> bytes:
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(header)
    w.writerows(rows)
    return buf.getvalue().encode("utf-8-sig")


def upload(
    client: httpx.Client, name: str, data: bytes, mime: str = CSV, **form: str
) -> httpx.Response:
    return client.post(
        "/v1/registry/import", files={"file": (name, data, mime)}, data={"retrain": "false", **form}
    )


@pytest.fixture
def own_server(
    db_url: str, trained_settings: Settings, kb: KnowledgeBase, tmp_path: Path
) -> Iterator[tuple[httpx.Client, str]]:
    """A server on an empty database of its own (SQLite, and PostgreSQL when configured), so
    that counts are exact; the client holds the admin token."""
    provision(db_url, trained_settings, kb)
    settings = trained_settings.model_copy(update={"database_url": db_url, "var_dir": tmp_path})
    with LiveServer(settings) as server:
        headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
        with httpx.Client(base_url=server.url, timeout=120, headers=headers) as client:
            yield client, db_url


def test_registry_routes_need_a_token(http: httpx.Client) -> None:
    r = upload(http, "r.csv", csv_bytes(HEADER, [list(x) for x in generate(3)]))
    assert r.status_code == 401
    assert "令牌" in r.json()["detail"]
    r = http.get("/v1/registry/summary")
    assert r.status_code == 401
    r = http.get("/v1/registry/summary", headers={"Authorization": "Bearer not-a-token"})
    assert r.status_code == 401


def test_import_then_summary_then_the_same_file_again_changes_nothing(
    own_server: tuple[httpx.Client, str],
) -> None:
    client, url = own_server
    data = csv_bytes(HEADER, [list(x) for x in generate(400, seed=21)])
    r = upload(client, "登记名录.csv", data, bureau="测试市商务局")
    assert r.status_code == 201, r.text[:500]
    first = r.json()
    assert first["rows_read"] == 400
    assert first["imported"] + first["duplicates"] == 400
    assert first["dropped_personal_columns"] == ["法定代表人"]
    assert first["ignored_columns"] == ["联系电话"]  # 登记状态 is read
    assert first["training_job_id"] is None
    assert sum(first["by_city"].values()) == first["imported"]
    assert any("未通过 GB 32100-2015 校验" in w and " 行 " in w for w in first["warnings"])
    assert firms.count_firms(get_sessionmaker(url)) == first["imported"]

    summary = client.get("/v1/registry/summary").json()
    assert summary["total"] == first["imported"]
    assert summary["source"] == firms.SOURCE
    assert summary["sources"][0]["bureau"] == "测试市商务局"
    by_city = {c["city"]: c for c in summary["by_city"]}
    assert {k: v["count"] for k, v in by_city.items()} == first["by_city"]
    baoding = by_city["保定"]
    assert sum(c["count"] for c in baoding["counties"]) <= baoding["count"]
    assert summary["with_county"] == first["imported"] - first["unlocated"]

    again = upload(client, "登记名录.csv", data, bureau="测试市商务局").json()
    assert (again["imported"], again["updated"], again["unchanged"]) == (0, 0, first["imported"])
    assert client.get("/v1/registry/summary").json() == summary


def test_import_xlsx_export(own_server: tuple[httpx.Client, str], tmp_path: Path) -> None:
    client, url = own_server
    path = write_xlsx(tmp_path / "登记名录.xlsx", 150, seed=4)
    r = upload(client, "登记名录.xlsx", path.read_bytes(), XLSX)
    assert r.status_code == 201, r.text[:500]
    body = r.json()
    assert body["rows_read"] == 150 and body["imported"] > 100
    placed = firms.load_placements(get_sessionmaker(url))
    assert 0 < len(placed) <= body["imported"]
    assert placed["county_code"].str.startswith("13").all()


@pytest.mark.parametrize(
    ("name", "data", "expected"),
    [
        (
            "缺列.csv",
            "企业名称,注册地址\n测试样本甲,石家庄市长安区\n".encode(),
            ["第 1 行 缺少必需的列“统一社会信用代码”", "第 1 行 缺少必需的列“经营范围”"],
        ),
        (
            "重复列.csv",
            "企业名称,经营范围,统一社会信用代码,经营范围\n甲,x,N/A,x\n".encode(),
            ["第 1 行 第 4 列 表头“经营范围”与第 2 列相同"],
        ),
        ("空.csv", b"", ["空文件"]),
        ("坏.xlsx", b"PK\x03\x04 not really a workbook", ["不是可读取的 Excel .xlsx 文件"]),
        ("表.pdf", b"%PDF-1.4", ["只支持 .xlsx 或 .csv"]),
    ],
)
def test_rejected_file_is_422_in_chinese_and_writes_nothing(
    bureau: httpx.Client, trained_settings: Settings, name: str, data: bytes, expected: list[str]
) -> None:
    before = firms.count_firms(get_sessionmaker(trained_settings.database_url))
    r = upload(bureau, name, data)
    assert r.status_code == 422, r.text
    body = r.json()
    assert body["code"] == "invalid_file"
    for e in expected:
        assert any(e in x for x in body["errors"]), body["errors"]
    assert "未导入" in body["detail"]
    assert firms.count_firms(get_sessionmaker(trained_settings.database_url)) == before


def test_hostile_uploads_are_bounded_and_write_nothing(
    bureau: httpx.Client, trained_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    small = replace(registry_routes.HTTP_LIMITS, max_rows=50, max_uncompressed_bytes=1024 * 1024)
    monkeypatch.setattr(registry_routes, "HTTP_LIMITS", small)
    monkeypatch.setattr(firms, "CHUNK", 10)  # rows reach the database before the limit is hit
    sessions = get_sessionmaker(trained_settings.database_url)
    before = firms.count_firms(sessions)

    r = upload(bureau, "多.csv", csv_bytes(HEADER, [list(x) for x in generate(80, seed=2)]))
    assert r.status_code == 422, r.text
    assert "超过 50 行数据" in r.json()["detail"]

    # A zip that declares 8 MB of XML in 8 KB: refused from its directory, before any parsing.
    bomb = io.BytesIO()
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("xl/worksheets/sheet1.xml", b"<" + b" " * (8 * 1024 * 1024))
    assert len(bomb.getvalue()) < 64 * 1024
    r = upload(bureau, "炸弹.xlsx", bomb.getvalue(), XLSX)
    assert r.status_code == 422, r.text
    assert "解压后" in r.json()["detail"]
    assert firms.count_firms(sessions) == before
