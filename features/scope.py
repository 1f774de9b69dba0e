"""Read a 经营范围 (or a free description) the way it is written: split it into items, drop the
registration boilerplate, and tell what each item does — make, trade or serve — so that what an
enterprise makes counts more than what it merely sells or advises on.

Imports nothing of ours, so any layer may use it.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

Activity = Literal["make", "trade", "service", "other"]

# How much an item counts when an enterprise's items are combined. Making is what places a firm in
# an industrial park; selling or advising on the same goods is secondary evidence.
ACTIVITY_WEIGHT: dict[str, float] = {"make": 1.0, "other": 0.6, "service": 0.45, "trade": 0.3}

# Verbs of producing physical goods. 制作 counts only when its object is not media (below).
_MAKE = (
    "制造",
    "生产",
    "加工",
    "冶炼",
    "铸造",
    "锻造",
    "轧制",
    "装配",
    "组装",
    "酿造",
    "纺织",
    "印染",
    "印刷",
    "制作",
    "精炼",
    "提炼",
    "提取",
    "压延",
    "焊接",
    "喷涂",
    "电镀",
    "屠宰",
    "复配",
    "年产",
    "产能",
    "生产线",
    "工厂",
    "主要产品",
    "主营产品",
    "产品包括",
)
_NOT_MAKING = re.compile(
    r"(?:不|未|无须|无需)(?:从事|含|涉及|包括|进行|开展)[^，,；;。]{0,12}?(?:生产|制造|加工)+"
    r"|生产性|安全生产|生产资料|生产要素|生产力|数据加工|信息加工"
)
_MEDIA = ("影视", "节目", "动漫", "动画", "广告", "网页", "软件", "视频", "音像", "演出", "课件")
_TRADE = (
    "销售",
    "批发",
    "零售",
    "进出口",
    "贸易",
    "经销",
    "代销",
    "购销",
    "采购",
    "代理",
    "分销",
    "经营",
    "供应链",
)
_SERVICE = (
    "咨询",
    "服务",
    "租赁",
    "维修",
    "修理",
    "安装",
    "设计",
    "研发",
    "研制",
    "研究",
    "开发",
    "检测",
    "检验",
    "认证",
    "培训",
    "运输",
    "仓储",
    "物流",
    "管理",
    "策划",
    "会展",
    "推广",
    "转让",
    "中介",
    "施工",
    "工程",
    "运营",
    "总部",
    "结算",
)

# Standard items found in nearly every registered scope (技术服务、技术开发…, 货物进出口): they say
# nothing about the industry, so they count for little.
GENERIC_WEIGHT = 0.2
_GENERIC_ITEMS = frozenset(
    [
        "技术服务",
        "技术开发",
        "技术咨询",
        "技术交流",
        "技术转让",
        "技术推广",
        "货物进出口",
        "技术进出口",
        "进出口代理",
        "信息咨询服务",
        "信息技术咨询服务",
        "社会经济咨询服务",
        "企业管理咨询",
        "企业管理",
        "会议及展览服务",
        "市场营销策划",
        "销售代理",
        "国内贸易代理",
        "贸易经纪",
        "非居住房地产租赁",
        "住房租赁",
        "普通货物仓储服务",
        "装卸搬运",
        "广告设计、代理",
        "广告制作",
        "广告发布",
    ]
)

# Registration boilerplate that says nothing about the business (市场监管 standard wording).
_BOILERPLATE = (
    re.compile(r"依法须经批准的项目[^;。]*?(?:方可开展经营活动|为准|经营)[)）]?"),
    re.compile(r"凭营业执照依法自主开展经营活动"),
    re.compile(r"具体经营项目以[^;。]*?为准"),
    re.compile(r"(?:法律|国家)[、法规]*(?:禁止|限制)[^;。]*?(?:除外|不得经营|不经营)"),
    re.compile(r"(?:一般|许可|经营)(?:经营)?项目\s*[:：]"),
    re.compile(r"\*+"),
)
# Parenthesised qualifiers: （除…）, （不含…）, （依法…）, （凭…）, （须…）, （限…）, （仅限…）.
_QUALIFIER = re.compile(
    r"[(（](?:除|不含|不得|依法|凭|须|需|限|仅限|未经|涉及|国家)[^()（）]*[)）]"
)
_MAJOR_SPLIT = re.compile(r"[;；。!！?？\n\r]+|[,，](?![^()（）]*[)）])")
_MINOR_SPLIT = re.compile(r"[、/]+(?![^()（）]*[)）])")
_ACTIVITY_TAIL = re.compile(
    r"(?:的)?(?:(?:设计|研发|研制|开发|生产|制造|加工|销售|批发|零售|进出口|安装|维修|技术服务)"
    r"(?:[与和及、]|以及)?)+$"
)
_NON_WORD = re.compile(r"[\W_]+")
_EDGE = re.compile(r"^[\s:：\-—·.。,，;；、]+|[\s:：\-—·.。,，;；、]+$")


@dataclass(frozen=True)
class ScopeItem:
    """One item of a business scope: its text, how much it counts, and what the firm does with it."""

    text: str
    weight: float
    activity: Activity  # 'make' | 'trade' | 'service' | 'other'


def _normalize(text: str) -> str:
    # NFKC folds full-width letters, digits and brackets; Chinese punctuation such as 、 stays.
    return unicodedata.normalize("NFKC", text or "").replace("\u3000", " ")


def activity_of(text: str) -> Activity:
    """What an item does: make beats trade beats service (a firm that 研发、生产 makes things)."""
    # 「不从事生产」 and 「生产性服务」 name production without doing it.
    text = _NOT_MAKING.sub("", text)
    if any(v in text for v in _MAKE if v != "制作") or (
        "制作" in text and not any(m in text for m in _MEDIA)
    ):
        return "make"
    if any(v in text for v in _TRADE):
        return "trade"
    if any(v in text for v in _SERVICE):
        return "service"
    return "other"


def strip_boilerplate(text: str) -> str:
    """The text without registration boilerplate and (除…)/(不含…) qualifiers."""
    text = _normalize(text)
    prev = None
    while prev != text:  # qualifiers can nest: (除依法须经批准的项目外(…))
        prev = text
        text = _QUALIFIER.sub("", text)
    for pattern in _BOILERPLATE:
        text = pattern.sub(";", text)
    return text


def parse_scope(text: str) -> list[ScopeItem]:
    """Split a 经营范围 or description into weighted items, boilerplate dropped.

    A run like 「五金、机械设备销售」 shares its trailing verb: both items are sales, and each item's
    text gets the verb (「五金销售」), so a classifier reads each item as written in context.
    """
    return list(_parse_scope(text))


@lru_cache(maxsize=1024)
def _parse_scope(text: str) -> tuple[ScopeItem, ...]:
    # Cached: one request reads its text here for the classifier and again for the rules.
    items: list[ScopeItem] = []
    seen: set[str] = set()
    for clause in _MAJOR_SPLIT.split(strip_boilerplate(text)):
        clause = _EDGE.sub("", clause)
        if len(clause) < 2:
            continue
        tail_match = _ACTIVITY_TAIL.search(clause)
        if tail_match and tail_match.start() > 0:
            # 「自行车及零部件的研发、生产和销售」: the verbs after the objects apply to each object.
            tail = tail_match.group(0).removeprefix("的")
            objects = _MINOR_SPLIT.split(clause[: tail_match.start()])
            pieces = [_EDGE.sub("", o) + tail for o in objects if len(_EDGE.sub("", o)) >= 1]
        else:
            tail = ""
            pieces = [_EDGE.sub("", p) for p in _MINOR_SPLIT.split(clause)]
        clause_activity = activity_of(clause)
        for piece in pieces:
            if len(_NON_WORD.sub("", piece)) < 2 or piece in seen:
                continue
            seen.add(piece)
            own = activity_of(piece)
            if own == "other" and clause_activity != "other":
                own = clause_activity  # 「螺栓」 in 「螺栓、螺母等紧固件生产」 is made, not merely named
            weight = ACTIVITY_WEIGHT[own] * (GENERIC_WEIGHT if piece in _GENERIC_ITEMS else 1.0)
            items.append(ScopeItem(text=piece, weight=weight, activity=own))
    return tuple(items)


def is_manufacturing(text: str) -> bool:
    """Whether the text describes producing or manufacturing physical goods.

    Design, R&D, headquarters, trade and services alone are not manufacturing, even when they
    concern manufactured goods (「家具设计」 is not, 「家具的设计与生产」 is).
    """
    return any(item.activity == "make" for item in _parse_scope(text))
