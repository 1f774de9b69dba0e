"""Control characters (issue 10 finding 2): refused at every entry point with a Chinese message
naming the field, and stripped again by the table writer, so no record can break an export."""

from __future__ import annotations

import io
import uuid

import httpx
import pytest
from openpyxl import load_workbook

from api.exports import table_response
from tests.conftest import post_form

DESCRIPTION = "主要从事工业机器人减速器、伺服电机的研发与生产"


def test_public_selfcheck_with_a_control_character_is_refused_and_not_stored(
    http: httpx.Client, bureau: httpx.Client
) -> None:
    marker = uuid.uuid4().hex[:10]
    form = {"description": DESCRIPTION, "name": f"PUBLIC\x01CTRL{marker}", "consent": "yes"}
    r = post_form(http, "/", form)
    assert r.status_code == 422
    assert "企业名称 含有不可见的控制字符 U+0001" in r.text
    assert bureau.get("/v1/enterprises", params={"q": marker}).json()["count"] == 0


@pytest.mark.parametrize(
    ("body", "label"),
    [
        ({"description": DESCRIPTION, "name": "甲\x01乙"}, "name（企业名称）"),
        ({"description": DESCRIPTION + "\x00"}, "description（企业主营业务描述）"),
        (
            {"description": DESCRIPTION, "products": ["减速器", "电机\x1b"]},
            "products（主要产品）[1]",
        ),
    ],
)
def test_match_refuses_control_characters_naming_the_field(
    http: httpx.Client, body: dict[str, object], label: str
) -> None:
    r = http.post("/v1/match", json=body)
    assert r.status_code == 422
    assert f"{label} 含有不可见的控制字符" in r.json()["detail"]


def test_match_accepts_line_breaks_and_tabs_in_the_description(http: httpx.Client) -> None:
    r = http.post("/v1/match", json={"description": "研发工业机器人\r\n生产\t伺服电机"})
    assert r.status_code == 200


def test_bureau_entry_points_refuse_control_characters(bureau: httpx.Client) -> None:
    r = bureau.post(
        "/v1/enterprises",
        json={"external_id": "ID\x07" + uuid.uuid4().hex[:6], "description": DESCRIPTION},
    )
    assert (
        r.status_code == 422
        and "external_id（企业编号） 含有不可见的控制字符" in r.json()["detail"]
    )
    note = bureau.post(
        "/v1/interactions",
        json={"enterprise_id": 1, "park_id": "x", "kind": "viewed", "note": "备\x0c注"},
        headers={"Idempotency-Key": f"ctrl-{uuid.uuid4()}"},
    )
    assert note.status_code == 422 and "note（备注） 含有不可见的控制字符" in note.json()["detail"]


def test_import_refuses_a_nul_in_a_cell_naming_row_and_column(bureau: httpx.Client) -> None:
    ext = f"NUL-{uuid.uuid4().hex[:8]}"
    data = f"企业编号,企业名称,主营业务描述\n{ext},甲\x00公司,{DESCRIPTION}\n".encode()
    r = bureau.post("/v1/enterprises/import", files={"file": ("nul.csv", data, "text/csv")})
    assert r.status_code == 422
    assert any("第 2 行 企业名称 含有不可见的控制字符 U+0000" in e for e in r.json()["errors"])


def test_table_writer_strips_control_characters_from_stored_text() -> None:
    """The second guard: text stored before validation existed still exports."""
    rows = [["PUBLIC\x01CTRL", "描述\x00含\x1f控制符\n第二行", 3]]
    r = table_response(
        "xlsx", ["企业名称", "描述", "数"], rows, ascii_name="t", chinese_name="t", sheet="线索"
    )
    assert r.status_code == 200
    ws = load_workbook(io.BytesIO(r.body)).active
    assert [c.value for c in ws[2]] == ["PUBLICCTRL", "描述含控制符\n第二行", 3]
    csv_r = table_response(
        "csv", ["企业名称"], [["甲\x01乙"]], ascii_name="t", chinese_name="t", sheet="线索"
    )
    assert "\x01" not in csv_r.body.decode("utf-8-sig")
