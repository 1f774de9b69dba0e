"""The Chinese web pages over real HTTP: the self-check form, its result and validation, browsing."""

from __future__ import annotations

import re
from collections import Counter

import httpx
import pytest

from features.kb import KnowledgeBase
from tests.conftest import post_form

ROBOT = {
    "description": "主要从事工业机器人减速器、伺服电机的研发与生产，产品用于汽车焊接生产线",
    "name": "测试智能装备有限公司",
    "industry_code": "C3491",
    "products": "RV减速器\n伺服电机",
    "employees": "320",
    "annual_revenue_wan": "45000",
    "investment_wan": "30000",
    "rd_intensity": "6",
    "energy_tce": "1800",
    "land_mu": "80",
    "origin": "北京",
    "top_k": "5",
}


def field_error(html: str, name: str) -> str:
    m = re.search(rf'<p class="field-error" id="err-{name}">(.*?)</p>', html, re.S)
    return m.group(1) if m else ""


def test_get_selfcheck_has_fields_and_chinese_labels(http: httpx.Client) -> None:
    r = http.get("/")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/html")
    html = r.text
    assert '<html lang="zh-CN">' in html
    for name in ROBOT:
        assert f'name="{name}"' in html
    for label in ("基本信息", "规模与投入", "来源", "主营业务描述", "企业名称", "行业代码"):
        assert label in html
    for unit in ("（人）", "（万元）", "（%）", "（吨标准煤）", "（亩）"):
        assert unit in html
    assert re.search(
        r'<textarea id="f-description"[^>]*required minlength="4" maxlength="4000"', html
    )
    assert 'name="rd_intensity" type="number" inputmode="decimal" min="0" max="100"' in html
    for origin in ("北京", "天津", "河北", "其他省份", "境外", "不填"):
        assert f">{origin}</option>" in html
    assert 'href="/browse"' in html
    # Nothing is fetched from outside the machine.
    assert not re.search(r'(src|href)="(https?:)?//', html)


def test_get_static_stylesheet_has_cjk_font(http: httpx.Client) -> None:
    r = http.get("/static/style.css")
    assert r.status_code == 200
    assert "WenQuanYi Micro Hei" in r.text


def test_post_selfcheck_returns_ranking(http: httpx.Client) -> None:
    r = post_form(http, "/", ROBOT)
    assert r.status_code == 200, r.text[:2000]
    assert r.headers["cache-control"] == "no-store"
    html = r.text
    assert "匹配结果：测试智能装备有限公司" in html
    parks = re.findall(r'<h3 class="park-name"><a href="/browse/parks/([^"]+)">', html)
    assert len(parks) == 5
    assert 'class="tag tag-chain">产业链</span>' in html
    assert '<blockquote class="policy">' in html
    assert "高端装备产业" in html
    assert "<svg" in html and "内容契合" in html and "政策加分" in html
    assert html.count("<rect") >= 5  # legend swatches and bars
    assert "区域排序" in html
    # The answer is the one /v1/match gives for the same enterprise.
    api = http.post(
        "/v1/match",
        json={
            **{k: v for k, v in ROBOT.items() if k not in ("products", "rd_intensity")},
            "products": ["RV减速器", "伺服电机"],
            "rd_intensity": 0.06,
            "employees": 320,
            "top_k": 5,
        },
    ).json()
    assert parks == [p["park_id"] for p in api["parks"]]


def test_post_selfcheck_high_energy_shows_warning_box(http: httpx.Client) -> None:
    data = {"description": "钢结构件和冲压件的加工制造", "energy_tce": "50000", "top_k": "3"}
    r = post_form(http, "/", data)
    assert r.status_code == 200
    assert '<section class="warnings"' in r.text
    assert r.text.index('class="warnings"') < r.text.index('id="h-parks"')


def test_post_selfcheck_empty_description_is_422_and_keeps_values(http: httpx.Client) -> None:
    data = {**ROBOT, "description": "   "}
    r = post_form(http, "/", data)
    assert r.status_code == 422
    html = r.text
    assert "主营业务描述" in field_error(html, "description")
    assert 'aria-invalid="true" aria-describedby="err-description"' in html
    assert 'value="测试智能装备有限公司"' in html
    assert 'value="C3491"' in html
    assert 'value="45000"' in html
    assert 'value="6"' in html
    assert '<option value="北京" selected>' in html
    assert "RV减速器\n伺服电机</textarea>" in html


def test_post_selfcheck_unknown_industry_code_is_422(http: httpx.Client) -> None:
    r = post_form(http, "/", {**ROBOT, "industry_code": "C9999"})
    assert r.status_code == 422
    message = field_error(r.text, "industry_code")
    assert "行业代码" in message and "C9999" in message
    assert "主要从事工业机器人减速器" in r.text


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("description", "abc", "主营业务描述 至少需要 4 个字"),
        ("employees", "-1", "员工人数 不能小于 0"),
        ("employees", "很多", "员工人数 应为数字"),
        ("rd_intensity", "150", "研发投入强度 应为 0–100 之间的百分数"),
        ("top_k", "99", "返回园区数量 不能大于 50"),
        ("industry_code", "X", "行业代码 格式不正确"),
        ("origin", "火星", "来源地 只能取以下值之一"),
    ],
)
def test_post_selfcheck_bad_field_names_it(
    http: httpx.Client, field: str, value: str, expected: str
) -> None:
    r = post_form(http, "/", {**ROBOT, field: value})
    assert r.status_code == 422
    assert expected in field_error(r.text, field)
    assert "请修改以下 1 处后再提交" in r.text


def test_post_selfcheck_blank_numbers_mean_not_given(http: httpx.Client) -> None:
    blank = {k: "" for k in ROBOT}
    r = post_form(http, "/", {**blank, "description": "生物疫苗和化学药制剂的研发生产"})
    assert r.status_code == 200
    assert "生物医药产业" in r.text


def test_browse_lists_zones_cities_and_parks(http: httpx.Client, kb: KnowledgeBase) -> None:
    r = http.get("/browse")
    assert r.status_code == 200
    html = r.text
    for z in kb.zones:
        assert z.name in html
    assert "石家庄" in html and f"{len(kb.parks)} 个园区" in html
    assert html.count('href="/browse/parks/') == len(kb.parks)
    assert html.count('href="/browse/chains/') == len(kb.chains)


def test_browse_park_shows_profile_and_catalogue(http: httpx.Client, kb: KnowledgeBase) -> None:
    park = next(p for p in kb.parks if p.kind == "devzone_national")
    r = http.get(f"/browse/parks/{park.park_id}")
    assert r.status_code == 200
    html = r.text
    assert park.name in html and park.city in html
    assert park.level and park.approved
    assert "开发区目录信息" in html and park.level in html and park.approved in html
    assert '<blockquote class="policy">' in html
    for ref in park.chains:
        assert f'href="/browse/chains/{ref.chain_id}"' in html


def test_browse_chain_shows_segments_and_parks(http: httpx.Client, kb: KnowledgeBase) -> None:
    chain = kb.chain_by_id["biomedicine"]
    r = http.get("/browse/chains/biomedicine")
    assert r.status_code == 200
    html = r.text
    assert chain.name in html and chain.group_name in html
    for s in chain.segments:
        assert s.name in html
    serving = [p for p in kb.parks if any(r.chain_id == "biomedicine" for r in p.chains)]
    assert html.count('href="/browse/parks/') == len(serving)


@pytest.mark.parametrize("path", ["/browse/parks/no_such_park", "/browse/chains/no_such_chain"])
def test_browse_unknown_id_is_chinese_404(http: httpx.Client, path: str) -> None:
    r = http.get(path)
    assert r.status_code == 404
    assert r.headers["content-type"].startswith("text/html")
    assert "不存在" in r.text and "<h1>未找到</h1>" in r.text


def test_a_selfcheck_reads_its_text_once(
    http: httpx.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The answer, its map and its advice score the same text: the classifier reads it once per
    # request (recommender.content.READINGS), and again in the next request.
    from recommender.industry import IndustryClassifier

    calls: list[str] = []
    real = IndustryClassifier.rank

    def counting(self: IndustryClassifier, text: str, *args: object, **kw: object) -> object:
        calls.append(text)
        return real(self, text, *args, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(IndustryClassifier, "rank", counting)
    description = "生产工业机器人减速器和精密谐波齿轮，年产三万台"
    for _ in range(2):
        r = post_form(http, "/", {**ROBOT, "description": description})
        assert r.status_code == 200
    # Each distinct text (the advice tries variants of it) once per request: twice in all.
    assert calls and all(n == 2 for n in Counter(calls).values())
    assert any(text.startswith(description) for text in calls)
