"""Enterprise records over real HTTP: create, get, list, import .xlsx/.csv whole or not at all, and the
self-check form's consent box. Every record stays behind the bureau token."""

from __future__ import annotations

import csv
import io
import re
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from openpyxl import Workbook
from sqlalchemy import select

from api.settings import Settings
from store import orm
from store.audit import flush_all
from store.db import get_sessionmaker
from tests.conftest import post_form

ROOT = Path(__file__).resolve().parents[2]
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
HEADERS_ZH = [
    "企业编号",
    "企业名称",
    "主营业务描述",
    "行业代码",
    "主要产品",
    "员工人数",
    "年营业收入（万元）",
    "计划投资额（万元）",
    "研发投入强度",
    "年综合能耗（吨标准煤）",
    "用地需求（亩）",
    "来源地",
]
# (industry, GB/T code, main business, products, R&D intensity)
PROFILES = {
    "电气设备": ("C3824", "研发生产电力电子元器件、变频器和智能配电设备", "IGBT模块、变频器", 0.05),
    "化工原料": (
        "C2614",
        "生产有机化学原料和精细化工中间体，配套园区危化品管理",
        "醋酸、中间体",
        0.02,
    ),
    "专用机械": (
        "C3491",
        "研发制造工业机器人、减速器和自动化焊接生产线",
        "焊接机器人、RV减速器",
        0.06,
    ),
    "汽车配件": (
        "C3670",
        "生产汽车零部件及配件，为整车厂配套制动系统和底盘件",
        "制动盘、转向节",
        0.03,
    ),
    "软件服务": (
        "I6513",
        "开发工业软件和政务信息系统，提供云计算与大数据服务",
        "工业软件、数据平台",
        0.12,
    ),
    "医疗保健": ("C3581", "研发生产医疗诊断设备和一次性医用耗材", "监护仪、输液器", 0.07),
    "半导体": ("C3562", "制造半导体器件专用设备和碳化硅衬底材料", "碳化硅衬底、外延设备", 0.10),
    "普钢": ("C3130", "钢压延加工，生产高强汽车板和家电板", "冷轧板、镀锌板", 0.015),
    "食品": ("C1491", "生产速冻食品和方便食品，建设冷链仓储配送中心", "速冻水饺、方便面", 0.01),
}
FALLBACK = (
    "C3990",
    "生产电子设备和智能终端产品，提供整机组装和检测服务",
    "智能终端、检测服务",
    0.04,
)
CITIES = ["石家庄", "唐山", "保定", "廊坊", "沧州", "邯郸", "邢台", "衡水", "张家口", "承德"]
ORIGINS = ["北京", "天津", "河北", "其他省份", "境外"]


def enterprise_rows(tag: str, n: int) -> list[list[Any]]:
    """`n` realistic rows of generated test enterprises (never real firms), one industry each."""
    industries = [*PROFILES, "其他"]
    rows: list[list[Any]] = []
    for i in range(n):
        industry = industries[i % len(industries)]
        code, business, products, rd = PROFILES.get(industry, FALLBACK)
        city = CITIES[i % len(CITIES)]
        name = f"测试样本{industry}企业{i + 1:04d}"
        rows.append(
            [
                f"{tag}-{i + 1:04d}",
                f"{name}（{city}）",
                f"{name}在{city}的投资项目：{business}",
                code,
                products,
                50 + (i * 37) % 2000,
                round(1000 + (i * 7919) % 90000, 1),
                round(500 + (i * 613) % 50000, 1),
                rd,
                round(100 + (i * 271) % 20000, 1),
                10 + i % 150,
                ORIGINS[i % len(ORIGINS)],
            ]
        )
    return rows


def xlsx_bytes(header: list[str], rows: list[list[Any]]) -> bytes:
    wb = Workbook()
    ws = wb.active
    ws.title = "企业名录"
    ws.append(header)
    for r in rows:
        ws.append(r)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def upload(client: httpx.Client, name: str, data: bytes, mime: str = XLSX) -> httpx.Response:
    return client.post("/v1/enterprises/import", files={"file": (name, data, mime)})


def tagged(client: httpx.Client, tag: str, **params: Any) -> dict[str, Any]:
    r = client.get("/v1/enterprises", params={"q": tag, **params})
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def new_enterprise(**extra: Any) -> dict[str, Any]:
    return {
        "external_id": f"T-{uuid.uuid4().hex[:12]}",
        "name": "石家庄测试智能装备有限公司",
        "description": "主要从事工业机器人减速器、伺服电机的研发与生产，产品用于汽车焊接生产线",
        "industry_code": "c3491",
        "products": ["RV减速器", "伺服电机"],
        "employees": 320,
        "annual_revenue_wan": 45000,
        "investment_wan": 30000,
        "rd_intensity": 0.06,
        "energy_tce": 1800,
        "land_mu": 80,
        "origin": "北京",
        **extra,
    }


# -- create, get, list ----------------------------------------------------------------------------
def test_create_enterprise_returns_the_record_and_get_finds_it(bureau: httpx.Client) -> None:
    payload = new_enterprise()
    r = bureau.post("/v1/enterprises", json=payload)
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["external_id"] == payload["external_id"]
    assert body["industry_code"] == "C3491"
    assert body["products"] == ["RV减速器", "伺服电机"]
    assert body["record_source"] == "bureau" and body["consent"] is True
    assert body["created_at"].endswith(("Z", "+00:00"))
    assert "top_k" not in body

    got = bureau.get(f"/v1/enterprises/{body['id']}")
    assert got.status_code == 200 and got.json() == body
    listed = tagged(bureau, payload["external_id"])
    assert listed["count"] == 1 and listed["data"][0]["id"] == body["id"]


def test_create_enterprise_duplicate_external_id_is_409(bureau: httpx.Client) -> None:
    payload = new_enterprise()
    first = bureau.post("/v1/enterprises", json=payload)
    assert first.status_code == 201
    again = bureau.post("/v1/enterprises", json=payload)
    assert again.status_code == 409
    err = again.json()
    assert err["code"] == "duplicate_external_id"
    assert payload["external_id"] in err["detail"] and "已存在" in err["detail"]
    assert str(first.json()["id"]) in err["detail"]
    assert tagged(bureau, payload["external_id"])["count"] == 1


def test_create_enterprise_without_external_id_is_allowed(bureau: httpx.Client) -> None:
    marker = uuid.uuid4().hex[:10]
    for external_id in (None, " "):
        r = bureau.post(
            "/v1/enterprises",
            json={"description": f"生产羊绒纱线和羊绒衫，编号{marker}", "external_id": external_id},
        )
        assert r.status_code == 201 and r.json()["external_id"] is None
    assert tagged(bureau, marker)["count"] == 2


@pytest.mark.parametrize(
    ("change", "field_text"),
    [
        ({"industry_code": "C9999"}, "industry_code（国民经济行业代码）"),
        ({"description": "短"}, "description（企业主营业务描述） 至少需要 4 个字"),
        ({"rd_intensity": 5}, "rd_intensity（研发投入强度） 不能大于 1"),
        ({"origin": "火星"}, "origin（企业来源地）"),
        ({"external_id": "x" * 81}, "external_id 最多 80 个字"),
    ],
)
def test_create_enterprise_bad_field_is_422_naming_it(
    bureau: httpx.Client, change: dict[str, Any], field_text: str
) -> None:
    payload = new_enterprise(**change)
    r = bureau.post("/v1/enterprises", json=payload)
    assert r.status_code == 422, r.text
    assert field_text in r.json()["detail"]
    assert tagged(bureau, str(payload["external_id"])[:80])["count"] == 0


def test_get_enterprise_unknown_is_404_in_chinese(bureau: httpx.Client) -> None:
    r = bureau.get("/v1/enterprises/987654321")
    assert r.status_code == 404
    assert r.json() == {
        "detail": "企业记录 id 987654321 不存在，请用 GET /v1/enterprises 查询企业的 id",
        "code": "enterprise_not_found",
    }


def test_list_enterprises_filters_paginates_and_counts_all(bureau: httpx.Client) -> None:
    tag = f"L{uuid.uuid4().hex[:8]}"
    for i, origin in enumerate(["北京", "北京", "天津"]):
        r = bureau.post(
            "/v1/enterprises",
            json=new_enterprise(external_id=f"{tag}-{i}", origin=origin),
        )
        assert r.status_code == 201
    assert tagged(bureau, tag)["count"] == 3
    beijing = tagged(bureau, tag, origin="北京")
    assert beijing["count"] == 2 and {e["origin"] for e in beijing["data"]} == {"北京"}
    page = tagged(bureau, tag, limit=1, offset=1)
    assert page["count"] == 3 and len(page["data"]) == 1
    assert page["data"][0]["external_id"] == f"{tag}-1"  # newest first
    assert tagged(bureau, tag, record_source="import")["count"] == 0

    synthetic = bureau.get("/v1/enterprises", params={"record_source": "synthetic", "limit": 2})
    assert synthetic.status_code == 200 and synthetic.json()["count"] >= 1000

    too_many = bureau.get("/v1/enterprises", params={"limit": 501})
    assert too_many.status_code == 422 and "limit（每页条数） 不能大于 500" in too_many.text
    bad_source = bureau.get("/v1/enterprises", params={"record_source": "leaked"})
    assert bad_source.status_code == 422


def test_enterprise_routes_need_a_token(http: httpx.Client) -> None:
    for method, path in [
        ("GET", "/v1/enterprises"),
        ("GET", "/v1/enterprises/1"),
        ("POST", "/v1/enterprises"),
        ("POST", "/v1/enterprises/import"),
    ]:
        r = http.request(method, path)
        assert r.status_code == 401, (method, path)
        assert "令牌" in r.json()["detail"]


# -- import ---------------------------------------------------------------------------------------
def test_import_xlsx_500_enterprises_then_list_shows_them(bureau: httpx.Client) -> None:
    tag = f"IMP{uuid.uuid4().hex[:8]}"
    rows = enterprise_rows(tag, 500)
    r = upload(bureau, "河北企业名录.xlsx", xlsx_bytes(HEADERS_ZH, rows))
    assert r.status_code == 201, r.text[:2000]
    assert r.json() == {"imported": 500}

    listed = tagged(bureau, tag, limit=500)
    assert listed["count"] == 500 and len(listed["data"]) == 500
    assert {e["record_source"] for e in listed["data"]} == {"import"}
    first = next(e for e in listed["data"] if e["external_id"] == f"{tag}-0001")
    assert first["name"] == rows[0][1] and first["description"] == rows[0][2]
    assert first["origin"] == rows[0][11] and first["employees"] == rows[0][5]
    assert first["rd_intensity"] == pytest.approx(rows[0][8])
    assert first["products"] == rows[0][4].split("、")
    assert first["industry_code"] == rows[0][3]
    assert tagged(bureau, tag, origin="天津")["count"] == 100

    # The same file again collides with the pool: rejected whole, with row numbers.
    again = upload(bureau, "河北企业名录.xlsx", xlsx_bytes(HEADERS_ZH, rows[:3]))
    assert again.status_code == 422
    assert again.json()["error_count"] == 3
    assert "第 2 行 企业编号" in again.json()["errors"][0] and "已在企业库中" in again.text
    assert tagged(bureau, tag)["count"] == 500


def test_import_bad_rows_rejects_the_whole_file_with_row_numbers(bureau: httpx.Client) -> None:
    tag = f"BAD{uuid.uuid4().hex[:8]}"
    rows = enterprise_rows(tag, 12)
    rows[1][2] = "短"  # file row 3
    rows[5][3] = "C9999"  # file row 7
    rows[8][8] = 5  # file row 10: R&D intensity is a fraction
    r = upload(bureau, "名录.xlsx", xlsx_bytes(HEADERS_ZH, rows))
    assert r.status_code == 422, r.text
    body = r.json()
    assert body["code"] == "invalid_file" and body["error_count"] == 3
    assert "第 3、7、10 行" in body["detail"] and "整个文件未导入" in body["detail"]
    assert body["errors"] == [
        "名录.xlsx 第 3 行 主营业务描述 至少需要 4 个字",
        "名录.xlsx 第 7 行 行业代码 “C9999” 不是 GB/T 4754-2017 行业代码",
        "名录.xlsx 第 10 行 研发投入强度 = 5 超出范围 0–1",
    ]
    assert tagged(bureau, tag)["count"] == 0


def test_import_csv_with_bom_and_english_headers(bureau: httpx.Client) -> None:
    tag = f"CSV{uuid.uuid4().hex[:8]}"
    out = io.StringIO()
    w = csv.writer(out)
    w.writerow(
        [
            "enterprise_id",
            "name",
            "description",
            "industry_code",
            "products",
            "employees",
            "rd_intensity",
            "origin",
        ]
    )
    w.writerow(
        [
            f"{tag}-1",
            "甲纺织有限公司",
            "生产羊绒纱线和羊绒衫",
            "C1721",
            "羊绒衫；羊绒纱线",
            "200",
            "2%",
            "河北",
        ]
    )
    w.writerow([f"{tag}-2", "", "研发生产工业机器人和伺服电机", "", "", "", "0.06", ""])
    r = upload(bureau, "firms.csv", ("\ufeff" + out.getvalue()).encode("utf-8"), "text/csv")
    assert r.status_code == 201, r.text
    assert r.json() == {"imported": 2}
    data = {e["external_id"]: e for e in tagged(bureau, tag)["data"]}
    assert data[f"{tag}-1"]["products"] == ["羊绒衫", "羊绒纱线"]
    assert data[f"{tag}-1"]["rd_intensity"] == pytest.approx(0.02)
    assert data[f"{tag}-2"]["name"] is None and data[f"{tag}-2"]["origin"] is None


def test_import_duplicate_ids_in_the_file_are_rejected(bureau: httpx.Client) -> None:
    tag = f"DUP{uuid.uuid4().hex[:8]}"
    rows = enterprise_rows(tag, 4)
    rows[3][0] = rows[1][0]
    r = upload(bureau, "dup.xlsx", xlsx_bytes(HEADERS_ZH, rows))
    assert r.status_code == 422
    assert r.json()["errors"] == [f"dup.xlsx 第 5 行 企业编号 “{rows[1][0]}” 重复"]
    assert tagged(bureau, tag)["count"] == 0


@pytest.mark.parametrize(
    ("name", "data", "expected"),
    [
        ("a.xlsx", b"not a zip file at all", "不是可读取的 Excel .xlsx 文件"),
        ("a.csv", b"\xff\xfe\xfa,\x81\n", "既不是 UTF-8 也不是 GB18030 编码的 CSV"),
        ("a.xls", b"\xd0\xcf\x11\xe0", "只支持 .xlsx 或 .csv"),
        ("a.csv", b"", "是空文件"),
        ("a.csv", "企业编号,主营业务描述\n".encode(), "只有表头"),
        ("a.csv", "企业编号,员工数\n1,3\n".encode(), "表头“员工数”无法识别"),
        ("a.csv", "企业名称,主营业务描述\n甲,生产羊绒衫\n".encode(), "缺少必需的列“企业编号”"),
    ],
)
def test_import_unreadable_file_is_422_saying_what_to_do(
    bureau: httpx.Client, name: str, data: bytes, expected: str
) -> None:
    r = upload(bureau, name, data, "application/octet-stream")
    assert r.status_code == 422, r.text
    body = r.json()
    assert body["code"] == "invalid_file"
    assert expected in " ".join(body["errors"])


def test_import_too_large_is_413(bureau: httpx.Client) -> None:
    r = upload(bureau, "big.csv", b"x" * (6 * 1024 * 1024), "text/csv")
    assert r.status_code == 413
    assert "过大" in r.json()["detail"] or "超过" in r.json()["detail"]


def test_import_larger_than_the_json_body_limit_is_accepted(bureau: httpx.Client) -> None:
    """A 4,000-row file (~400 KB) passes: the import has its own 5 MB allowance."""
    tag = uuid.uuid4().hex[:8]
    lines = ["enterprise_id,name,description,origin"] + [
        f"{tag}-{i},批量企业{i},主要从事精密铸件、紧固件和汽车冲压件的生产与销售，产品配套汽车整车厂,河北"
        for i in range(4000)
    ]
    data = ("\n".join(lines) + "\n").encode("utf-8")
    assert len(data) > 300 * 1024
    r = upload(bureau, "big-but-fine.csv", data, "text/csv")
    assert r.status_code == 201, r.text[:300]
    assert r.json()["imported"] == 4000


def test_import_without_a_file_is_422(bureau: httpx.Client) -> None:
    r = bureau.post("/v1/enterprises/import", data={"x": "1"})
    assert r.status_code == 422 and "file" in r.json()["detail"]


# -- the self-check form's consent ----------------------------------------------------------------
def selfcheck(http: httpx.Client, marker: str, consent: bool) -> httpx.Response:
    form = {
        "description": "主要从事工业机器人减速器、伺服电机的研发与生产，产品用于汽车焊接生产线",
        "name": f"自检测试{marker}有限公司",
        "industry_code": "C3491",
        "origin": "北京",
        "top_k": "3",
    }
    if consent:
        form["consent"] = "yes"
    return post_form(http, "/", form)


def audited(settings: Settings, html: str) -> bool:
    m = re.search(r"请求编号 ([0-9a-f]+)", html)
    assert m, "the result page shows its request id"
    assert flush_all()  # the audit is written by its own thread, after the answer
    with get_sessionmaker(settings.database_url)() as s:
        return s.get(orm.MatchRequest, m.group(1)) is not None


def test_selfcheck_form_has_an_unchecked_consent_box(http: httpx.Client) -> None:
    html = http.get("/").text
    box = re.search(r'<input id="f-consent"[^>]*>', html)
    assert box and 'type="checkbox"' in box.group(0) and "checked" not in box.group(0)
    assert "同意招商部门保存本次填写的企业信息，用于后续对接（不勾选则不保存）" in html


def test_selfcheck_with_consent_stores_the_enterprise(
    http: httpx.Client, bureau: httpx.Client, trained_settings: Settings
) -> None:
    marker = uuid.uuid4().hex[:10]
    r = selfcheck(http, marker, consent=True)
    assert r.status_code == 200
    assert "已按您的同意保存企业信息" in r.text
    assert audited(trained_settings, r.text)
    stored = tagged(bureau, marker)
    assert stored["count"] == 1
    e = stored["data"][0]
    assert e["record_source"] == "self_check" and e["consent"] is True
    assert e["industry_code"] == "C3491" and e["origin"] == "北京"
    # The re-rendered form remembers the choice.
    assert re.search(r'<input id="f-consent"[^>]*checked', r.text)


def test_selfcheck_without_consent_stores_only_the_audit_row(
    http: httpx.Client, bureau: httpx.Client, trained_settings: Settings
) -> None:
    marker = uuid.uuid4().hex[:10]
    with get_sessionmaker(trained_settings.database_url)() as s:
        before = len(s.scalars(select(orm.Enterprise.id)).all())
    r = selfcheck(http, marker, consent=False)
    assert r.status_code == 200
    assert "已按您的同意保存" not in r.text
    assert audited(trained_settings, r.text)
    assert tagged(bureau, marker)["count"] == 0
    with get_sessionmaker(trained_settings.database_url)() as s:
        assert len(s.scalars(select(orm.Enterprise.id)).all()) == before


def test_public_endpoints_never_return_stored_enterprises(
    http: httpx.Client, bureau: httpx.Client
) -> None:
    marker = uuid.uuid4().hex[:10]
    assert selfcheck(http, marker, consent=True).status_code == 200
    created = bureau.post(
        "/v1/enterprises", json=new_enterprise(external_id=f"PUB{marker}", name=f"公开{marker}")
    )
    assert created.status_code == 201
    assert tagged(bureau, marker)["count"] == 2

    for path in ["/", "/browse", "/v1/zones", "/v1/chains", f"/v1/parks?q={marker}", "/healthz"]:
        r = http.get(path)
        assert r.status_code == 200, path
        assert marker not in r.text, path
    match = http.post("/v1/match", json={"description": f"工业机器人减速器 {marker}"})
    assert match.status_code == 200
    assert marker not in match.text.replace(f"工业机器人减速器 {marker}", "")
    for path in ["/v1/enterprises", f"/v1/enterprises/{created.json()['id']}"]:
        assert http.get(path).status_code == 401
