"""Hostile and careless uploads over real HTTP (issue 10 findings 1, 3 and 6): bombs are refused
or bounded, every malformed workbook is the Chinese 422 of a bad file, the token is checked before
the body is parsed, and a body too large is 413 however it is sent. Files are built here."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import httpx
import pytest

from tests.conftest import LiveServer
from tests.hostile import dimension_bomb, malformed_workbooks, zip_bomb

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def upload(client: httpx.Client, name: str, data: bytes, mime: str = XLSX) -> httpx.Response:
    return client.post("/v1/enterprises/import", files={"file": (name, data, mime)})


def test_import_dimension_bomb_reads_only_the_real_rows(bureau: httpx.Client) -> None:
    """The issue's 1.7 KB workbook (A1:XFD1048576, one empty cell in the last row) imports its
    one real enterprise instead of padding a million rows to 16,384 columns."""
    ext = f"BOMB-{uuid.uuid4().hex[:10]}"
    data = dimension_bomb([["企业编号", "主营业务描述"], [ext, "生产汽车零部件和精密铸件"]])
    assert len(data) < 2000
    r = upload(bureau, "bomb.xlsx", data)
    assert r.status_code == 201, r.text[:500]
    assert r.json() == {"imported": 1}


def test_import_zip_bomb_is_refused_from_the_zip_directory(bureau: httpx.Client) -> None:
    data = zip_bomb(80 * 1024 * 1024)  # one 80 MB cell
    assert len(data) < 200 * 1024
    r = upload(bureau, "zip-bomb.xlsx", data)
    assert r.status_code == 422, r.text[:300]
    assert "解压后" in " ".join(r.json()["errors"]) and r.json()["code"] == "invalid_file"


@pytest.mark.parametrize("kind", sorted(malformed_workbooks()))
def test_import_malformed_xlsx_is_a_chinese_422(bureau: httpx.Client, kind: str) -> None:
    r = upload(bureau, f"{kind}.xlsx", malformed_workbooks()[kind])
    assert r.status_code == 422, r.text[:300]
    assert r.headers["content-type"].startswith("application/json")
    body = r.json()
    assert body["code"] == "invalid_file"
    assert "不是可读取的 Excel .xlsx 文件" in " ".join(body["errors"])


def test_import_header_of_many_unknown_names_is_one_error(bureau: httpx.Client) -> None:
    """A 5 MB header of unknown names built millions of error strings; now one message."""
    header = ",".join(f"列{i}" for i in range(400_000))
    data = (header + "\n" + "a,b\n").encode()
    assert len(data) < 5 * 1024 * 1024
    r = upload(bureau, "wide.csv", data, "text/csv")
    assert r.status_code == 422
    assert r.json()["error_count"] == 1 and "过长" in r.json()["errors"][0]


def test_import_many_blank_header_cells_keeps_only_real_columns(bureau: httpx.Client) -> None:
    """10,000 empty header cells: trailing blanks are dropped while reading, so the work no
    longer grows with columns x rows; the rows import."""
    tag = uuid.uuid4().hex[:8]
    lines = ["企业编号,主营业务描述" + "," * 10_000] + [
        f"{tag}-{i},生产汽车零部件和精密铸件" for i in range(2_000)
    ]
    r = upload(bureau, "blank-header.csv", "\n".join(lines).encode(), "text/csv")
    assert r.status_code == 201, r.text[:300]
    assert r.json() == {"imported": 2_000}


def test_import_data_beyond_64_columns_is_refused(bureau: httpx.Client) -> None:
    row = ["x"] * 65
    data = ("企业编号,主营业务描述\n" + ",".join(row) + "\n").encode()
    r = upload(bureau, "cols.csv", data, "text/csv")
    assert r.status_code == 422 and "超过 64 列" in " ".join(r.json()["errors"])


def test_import_gb18030_csv_is_read(bureau: httpx.Client) -> None:
    ext = f"GB-{uuid.uuid4().hex[:10]}"
    data = f"企业编号,主营业务描述\n{ext},生产羊绒纱线和羊绒服装\n".encode("gb18030")
    r = upload(bureau, "gb.csv", data, "text/csv")
    assert r.status_code == 201, r.text[:300]


def test_import_checks_the_token_before_parsing_the_body(http: httpx.Client) -> None:
    big = b"x" * (4 * 1024 * 1024)
    r = http.post("/v1/enterprises/import", files={"file": ("big.csv", big, "text/csv")})
    assert r.status_code == 401 and "令牌" in r.json()["detail"]
    broken = http.post(
        "/v1/enterprises/import",
        content=b"--x\r\nnot really multipart",
        headers={"Content-Type": "multipart/form-data; boundary=x"},
    )
    assert broken.status_code == 401


@pytest.fixture
def raw(live_server: LiveServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=live_server.url, timeout=60) as client:
        yield client


def test_oversized_chunked_body_is_413(raw: httpx.Client) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"description": "'
        for _ in range(40):
            yield b"a" * 10_000
        yield b'"}'

    r = raw.post("/v1/match", content=chunks(), headers={"Content-Type": "application/json"})
    assert r.status_code == 413, r.text[:200]
    assert "请求体过大" in r.json()["detail"]


def test_a_second_import_waits_then_is_told_to_retry(
    bureau: httpx.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One import at a time: while one holds the slot, another waits briefly, then gets 503."""
    from api.services import enterprise_import as enterprises

    monkeypatch.setattr(enterprises, "IMPORT_WAIT_SECONDS", 0.2)
    assert enterprises._import_slot.acquire(timeout=60)
    try:
        data = f"企业编号,主营业务描述\nQ-{uuid.uuid4().hex[:8]},生产汽车零部件\n".encode()
        r = upload(bureau, "second.csv", data, "text/csv")
    finally:
        enterprises._import_slot.release()
    assert r.status_code == 503 and "另一个文件正在导入" in r.json()["detail"]
    assert upload(bureau, "second.csv", data, "text/csv").status_code == 201
