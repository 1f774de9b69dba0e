"""Match reports of a pool enterprise export as CSV and Excel with Chinese headers."""

from __future__ import annotations

import csv
import io
import uuid

import httpx
from openpyxl import load_workbook

FIRM = {
    "description": "生产高效光伏电池组件和光伏逆变器，配套储能系统",
    "name": "报告测试光伏有限公司",
    "employees": 400,
    "origin": "天津",
}


def _create(bureau: httpx.Client) -> int:
    r = bureau.post("/v1/enterprises", json={**FIRM, "external_id": f"RPT-{uuid.uuid4().hex[:8]}"})
    assert r.status_code == 201, r.text
    return int(r.json()["id"])


def test_match_report_csv_has_chinese_headers_and_the_match_ranking(
    bureau: httpx.Client, http: httpx.Client
) -> None:
    eid = _create(bureau)
    r = bureau.get(f"/v1/enterprises/{eid}/match-report.csv", params={"top_k": 10})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert "attachment" in r.headers["content-disposition"]
    assert r.content.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))
    assert (
        rows[0][:3] == ["排名", "园区编号", "园区名称"]
        and "推荐理由" in rows[0]
        and "政策依据" in rows[0]
    )
    assert len(rows) == 11 and [row[0] for row in rows[1:]] == [str(i) for i in range(1, 11)]
    same = http.post("/v1/match", json={**FIRM, "top_k": 10}).json()
    assert [row[1] for row in rows[1:]] == [p["park_id"] for p in same["parks"]]
    assert all(row[10] and "【" in row[10] for row in rows[1:])


def test_match_report_xlsx_opens_with_the_same_columns(bureau: httpx.Client) -> None:
    eid = _create(bureau)
    r = bureau.get(f"/v1/enterprises/{eid}/match-report.xlsx")
    assert r.status_code == 200
    ws = load_workbook(io.BytesIO(r.content)).active
    assert ws.title == "匹配报告"
    assert "园区匹配报告" in ws["A1"].value and "导出日期" in ws["A1"].value
    assert [c.value for c in ws[2]][:4] == ["排名", "园区编号", "园区名称", "城市"]
    assert ws.max_row == 22  # title + header + the default 20 parks


def test_match_report_unknown_enterprise_or_format(bureau: httpx.Client) -> None:
    missing = bureau.get("/v1/enterprises/2000000000/match-report.csv")
    assert missing.status_code == 404 and "不存在" in missing.json()["detail"]
    assert bureau.get("/v1/enterprises/1/match-report.pdf").status_code == 422
