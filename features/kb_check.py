"""The knowledge-base checker an officer runs after editing the YAML: every problem at once, in
Chinese, each with its file, record and field, including a `source` that is not verbatim policy.

`python -m features.kb check [目录]` and `make check-kb [KB=目录]` run `main`. `check_kb` returns the
problems; it never stops at the first one. When it finds none, it also loads the KB as the service
does (`load_kb`), so nothing the service would refuse passes the check.
"""

from __future__ import annotations

import csv
import re
import sys
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from features.kb import (
    CATALOGUE,
    DATA_DIR,
    KB_FILES,
    ORIGINS,
    PARK_KINDS,
    Chain,
    ChainRef,
    DevzoneLocation,
    GbtMapping,
    KBError,
    Park,
    Rule,
    RuleWhen,
    Zone,
    _Record,
    _split_terms,
    load_kb,
)

POLICY_FILE = "hebei-industrial-upgrading-guidance.txt"
ELLIPSIS = "……"
LIST_FILES: dict[str, tuple[type[_Record], str]] = {
    "zones.yaml": (Zone, "zone_id"),
    "chains.yaml": (Chain, "chain_id"),
    "parks.yaml": (Park, "park_id"),
    "rules.yaml": (Rule, "rule_id"),
    "devzones.yaml": (DevzoneLocation, "code"),
    "gbt_chain_map.yaml": (GbtMapping, "code"),
}
TYPE_NAMES = {
    "string_type": "文本",
    "int_type": "整数",
    "int_parsing": "整数",
    "float_type": "数字",
    "float_parsing": "数字",
    "bool_type": "true 或 false",
    "bool_parsing": "true 或 false",
    "list_type": "列表（[...]）",
    "tuple_type": "列表（[...]）",
    "dict_type": "键值映射",
    "model_type": "键值映射",
    "model_attributes_type": "键值映射",
}


@dataclass(frozen=True)
class Problem:
    file: str
    record: str | None
    field: str | None
    message: str

    def __str__(self) -> str:
        where = self.file
        if self.record:
            where += f" 记录 {self.record}"
        if self.field:
            where += f" 字段 {self.field}"
        return f"{where}：{self.message}"


def squash(text: str) -> str:
    """Whitespace removed: the policy text wraps lines where a quotation does not."""
    return re.sub(r"\s+", "", text)


def describe(err: dict[str, Any]) -> str:
    """A pydantic error in Chinese, saying what to write instead."""
    kind = err["type"]
    given = err.get("input")
    if kind == "missing":
        return "缺少此字段，请补上"
    if kind == "extra_forbidden":
        return "未知字段（拼写错误？请对照 SCHEMA.md 中的字段名）"
    if kind in ("literal_error", "enum"):
        expected = str(err.get("ctx", {}).get("expected", "")).replace("'", "")
        return f"取值 “{given}” 不允许，应为其中之一：{expected.replace(' or ', ', ')}"
    if kind in TYPE_NAMES:
        return f"应为{TYPE_NAMES[kind]}，现为 “{given}”"
    if kind == "value_error":
        return f"取值 “{given}” 不合法：{err.get('ctx', {}).get('error', '')}"
    return f"取值 “{given}” 不合法（{kind}）"


class Checker:
    """Collects problems while walking a KB directory; see `check_kb`."""

    def __init__(self, kb_dir: Path, ref_dir: Path) -> None:
        self.kb_dir, self.ref_dir = kb_dir, ref_dir
        self.problems: list[Problem] = []

    def add(self, file: str, record: str | None, fld: str | None, message: str) -> None:
        self.problems.append(Problem(file, record, fld, message))

    # -- reading ---------------------------------------------------------------------------------
    def read_yaml(self, name: str) -> Any:
        path = self.kb_dir / name
        try:
            return yaml.safe_load(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            self.add(name, None, None, "文件不存在")
        except UnicodeDecodeError:
            self.add(name, None, None, "不是 UTF-8 编码的文本，请用 UTF-8 保存")
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            at = f"第 {mark.line + 1} 行第 {mark.column + 1} 列" if mark else ""
            what = getattr(exc, "problem", None) or "无法解析"
            self.add(name, None, None, f"YAML 格式错误（{at}）：{what}；请检查缩进、冒号和引号")
        return None

    def records(self, name: str) -> list[tuple[str, Any]]:
        """(label, record) for every record of a list file that validates; the rest reported."""
        model, key = LIST_FILES[name]
        raw = self.read_yaml(name)
        if raw is None:
            return []
        if not isinstance(raw, list):
            self.add(name, None, None, "应为记录列表（每条记录以 “- ” 开头）")
            return []
        out = []
        for i, item in enumerate(raw, start=1):
            label = f"第 {i} 条"
            if isinstance(item, dict) and item.get(key):
                label += f"（{key}={item[key]}）"
            if not isinstance(item, dict):
                self.add(name, label, None, "应为键值映射（字段: 取值）")
                continue
            try:
                out.append((label, model.model_validate(item)))
            except ValidationError as exc:
                for err in exc.errors():
                    loc = ".".join(str(p) for p in err["loc"]) or None
                    self.add(name, label, loc, describe(dict(err)))
        return out

    # -- checks ----------------------------------------------------------------------------------
    def unique(self, name: str, labelled: Iterable[tuple[str, str]], what: str) -> None:
        """Each repeat of a value, named against its first occurrence."""
        first: dict[str, str] = {}
        for label, v in labelled:
            if v in first:
                self.add(name, label, what, f"{what} “{v}” 与{first[v]}重复，每个取值只能出现一次")
            else:
                first[v] = label

    def sources(self, name: str, label: str, record: Any, policy: str | None) -> None:
        if not (record.source or "").strip():
            self.add(name, label, "source", "缺少政策原文依据：请从政策原文逐字复制一句")
            return
        if policy is None:
            return
        for fld, sentences in (("source", [record.source]), ("also_source", record.also_source)):
            for i, sentence in enumerate(sentences):
                if sentence.startswith(CATALOGUE):
                    continue
                missing = [p for p in sentence.split(ELLIPSIS) if squash(p) not in policy]
                if missing:
                    where = fld if fld == "source" else f"also_source[{i}]"
                    self.add(
                        name,
                        label,
                        where,
                        f"不是政策原文：“{missing[0][:30]}…”在政策文本中找不到；"
                        "请从政策原文逐字复制（可用“……”省略中间部分）",
                    )

    def refs(
        self,
        name: str,
        label: str,
        fld: str,
        refs: Iterable[ChainRef],
        chain_ids: set[str],
        seg_chain: dict[str, str],
    ) -> None:
        for i, ref in enumerate(refs):
            if ref.chain_id not in chain_ids:
                self.add(name, label, f"{fld}[{i}].chain_id", f"产业链 “{ref.chain_id}” 不存在")
            elif ref.segment_id is not None and ref.segment_id not in seg_chain:
                self.add(
                    name, label, f"{fld}[{i}].segment_id", f"产业环节 “{ref.segment_id}” 不存在"
                )
            elif ref.segment_id is not None and seg_chain[ref.segment_id] != ref.chain_id:
                self.add(
                    name,
                    label,
                    f"{fld}[{i}].segment_id",
                    f"产业环节 “{ref.segment_id}” 属于 “{seg_chain[ref.segment_id]}”，"
                    f"不属于产业链 “{ref.chain_id}”",
                )

    def run(self) -> list[Problem]:
        policy_path = self.ref_dir / POLICY_FILE
        policy = squash(policy_path.read_text("utf-8")) if policy_path.exists() else None
        if policy is None:
            self.add(POLICY_FILE, None, None, f"政策原文不存在（{self.ref_dir}），无法核对 source")
        zones = self.records("zones.yaml")
        chains = self.records("chains.yaml")
        parks = self.records("parks.yaml")
        rules = self.records("rules.yaml")
        locations = self.records("devzones.yaml")
        gbt = self.records("gbt_chain_map.yaml")
        terms = self.read_yaml("industry_terms.yaml")
        if terms is not None and not isinstance(terms, dict):
            self.add("industry_terms.yaml", None, None, "应为“主导产业词: [产业链, …]”的映射")
            terms = None

        segments = [(f"{label} 环节 {s.segment_id}", s) for label, c in chains for s in c.segments]
        self.unique("zones.yaml", ((lb, z.zone_id) for lb, z in zones), "zone_id")
        self.unique("zones.yaml", ((lb, c) for lb, z in zones for c in z.cities), "cities")
        self.unique("chains.yaml", ((lb, c.chain_id) for lb, c in chains), "chain_id")
        self.unique("chains.yaml", ((lb, s.segment_id) for lb, s in segments), "segment_id")
        self.unique("parks.yaml", ((lb, p.park_id) for lb, p in parks), "park_id")
        self.unique(
            "parks.yaml",
            ((lb, p.devzone_code) for lb, p in parks if p.devzone_code),
            "devzone_code",
        )
        self.unique("rules.yaml", ((lb, r.rule_id) for lb, r in rules), "rule_id")
        self.unique("devzones.yaml", ((lb, d.code) for lb, d in locations), "code")
        for name, recs in (
            ("zones.yaml", zones),
            ("chains.yaml", chains),
            ("chains.yaml", segments),
            ("parks.yaml", parks),
            ("rules.yaml", rules),
        ):
            for label, r in recs:
                self.sources(name, label, r, policy)

        chain_ids = {c.chain_id for _, c in chains}
        seg_chain = {s.segment_id: c.chain_id for _, c in chains for s in c.segments}
        zone_of_city = {city: z.zone_id for _, z in zones for city in z.cities}
        zone_ids = {z.zone_id for _, z in zones}
        counties = self.counties()
        for label, c in chains:
            for s in c.segments:
                if not s.segment_id.startswith(c.chain_id + "."):
                    self.add(
                        "chains.yaml",
                        label,
                        "segment_id",
                        f"“{s.segment_id}” 应以 “{c.chain_id}.” 开头",
                    )
        for label, z in zones:
            self.refs("zones.yaml", label, "focus_chains", z.focus_chains, chain_ids, seg_chain)
        for name, recs in (("parks.yaml", parks), ("devzones.yaml", locations)):
            for label, p in recs:
                self.place(
                    name, label, p.city, p.county, p.zone_id, zone_of_city, zone_ids, counties
                )
        for label, p in parks:
            self.refs("parks.yaml", label, "chains", p.chains, chain_ids, seg_chain)
            if not p.chains:
                self.add("parks.yaml", label, "chains", "至少需要一条产业链")
        for label, d in locations:
            self.refs("devzones.yaml", label, "extra_chains", d.extra_chains, chain_ids, seg_chain)
        for term, refs in (terms or {}).items():
            try:
                parsed = [ChainRef.model_validate(r) for r in (refs or [])]
            except (ValidationError, TypeError):
                self.add(
                    "industry_terms.yaml",
                    f"（{term}）",
                    None,
                    "应为产业链列表，如 [{chain_id: steel}]",
                )
                continue
            self.refs("industry_terms.yaml", f"（{term}）", "chains", parsed, chain_ids, seg_chain)
        for label, m in gbt:
            self.refs("gbt_chain_map.yaml", label, "chains", m.chains, chain_ids, seg_chain)
        self.rules(rules, zone_ids, chain_ids, {p.park_id for _, p in parks})
        self.references(parks, locations, gbt, terms)
        return self.problems

    def counties(self) -> set[str]:
        path = self.ref_dir / "hebei_city_county.csv"
        if not path.exists():
            return set()
        with path.open(encoding="utf-8", newline="") as fh:
            return {row["name"] for row in csv.DictReader(fh) if row["level"] == "县级"}

    def place(
        self,
        name: str,
        label: str,
        city: str,
        county: str | None,
        zone_id: str,
        zone_of_city: dict[str, str],
        zone_ids: set[str],
        counties: set[str],
    ) -> None:
        if zone_id not in zone_ids:
            self.add(name, label, "zone_id", f"区域 “{zone_id}” 不存在（见 zones.yaml）")
        if city not in zone_of_city:
            self.add(
                name, label, "city", f"城市 “{city}” 不在任何区域的 cities 中（见 zones.yaml）"
            )
        elif zone_id in zone_ids and zone_of_city[city] != zone_id:
            self.add(
                name,
                label,
                "zone_id",
                f"城市 “{city}” 属于区域 “{zone_of_city[city]}”，不是 “{zone_id}”",
            )
        if county and counties and county not in counties:
            self.add(
                name,
                label,
                "county",
                f"县级区划 “{county}” 不在 2023 年区划代码中，请写全称（如 藁城区）",
            )

    def rules(
        self,
        rules: list[tuple[str, Rule]],
        zone_ids: set[str],
        chain_ids: set[str],
        park_ids: set[str],
    ) -> None:
        # Which ids each list condition names; a condition added to RuleWhen later is checked too
        # if its name says what it lists (…_chains).
        known_by_field = {
            "zone_ids": zone_ids,
            "park_kinds": set(PARK_KINDS),
            "origins": set(ORIGINS),
            "park_ids": park_ids,
        }
        for label, r in rules:
            for fld in RuleWhen.model_fields:
                known = known_by_field.get(fld, chain_ids if fld.endswith("chains") else None)
                values = getattr(r.when, fld)
                if known is None or not isinstance(values, tuple):
                    continue
                for v in values:
                    if v not in known:
                        self.add("rules.yaml", label, f"when.{fld}", f"取值 “{v}” 不存在")
            if r.effect in ("bonus", "penalty") and not r.weight:
                self.add(
                    "rules.yaml",
                    label,
                    "weight",
                    f"{r.effect} 规则的 weight 不能为 0（见 SCHEMA.md 权重尺度）",
                )
            if r.effect == "bonus" and r.weight < 0 or r.effect == "penalty" and r.weight > 0:
                self.add("rules.yaml", label, "weight", "bonus 的权重应为正数，penalty 应为负数")
            if abs(r.weight) > 1:
                self.add(
                    "rules.yaml",
                    label,
                    "weight",
                    f"权重 {r.weight} 超出 −1 到 1：会盖过内容契合与协同得分，请见 SCHEMA.md 权重尺度",
                )

    def references(
        self,
        parks: list[tuple[str, Park]],
        locations: list[tuple[str, DevzoneLocation]],
        gbt: list[tuple[str, GbtMapping]],
        terms: dict[str, Any] | None,
    ) -> None:
        def rows(file: str) -> list[dict[str, str]]:
            path = self.ref_dir / file
            if not path.exists():
                self.add(file, None, None, f"参考数据文件不存在（{self.ref_dir}）")
                return []
            with path.open(encoding="utf-8", newline="") as fh:
                return list(csv.DictReader(fh))

        catalogue = rows("hebei_devzones_2018.csv")
        codes = {r["代码"] for r in catalogue}
        located = {d.code for _, d in locations}
        for label, d in locations:
            if codes and d.code not in codes:
                self.add("devzones.yaml", label, "code", f"开发区目录中没有代码 “{d.code}”")
        for r in catalogue:
            if locations and r["代码"] not in located:
                self.add(
                    "devzones.yaml",
                    f"（code={r['代码']}）",
                    "code",
                    f"目录中的开发区 {r['开发区名称']} 没有位置记录",
                )
            for item in _split_terms(r["主导产业"]):
                if terms is not None and item not in terms:
                    self.add(
                        "industry_terms.yaml",
                        f"（{item}）",
                        None,
                        f"开发区 {r['代码']} 的主导产业 “{item}” 未映射到产业链",
                    )
        for label, p in parks:
            if p.devzone_code and codes and p.devzone_code not in codes:
                self.add(
                    "parks.yaml", label, "devzone_code", f"开发区目录中没有代码 “{p.devzone_code}”"
                )
        industries = {r["code"] for r in rows("gbt4754_2017.csv")}
        for label, m in gbt:
            if industries and m.code not in industries:
                self.add(
                    "gbt_chain_map.yaml", label, "code", f"GB/T 4754-2017 中没有代码 “{m.code}”"
                )


def check_kb(kb_dir: Path | str, ref_dir: Path | str | None = None) -> list[Problem]:
    """Every problem of the KB in `kb_dir` (reference tables from `ref_dir`, default the
    project's), in file order; an empty list means the service will load it."""
    kb_dir = Path(kb_dir)
    ref_dir = Path(ref_dir) if ref_dir else DATA_DIR / "reference"
    problems = Checker(kb_dir, ref_dir).run()
    if problems:
        return _dedupe(problems)
    # The same files, loaded as the service loads them: catches any rule kept only in load_kb.
    try:
        load_kb_for(kb_dir, ref_dir)
    except KBError as exc:
        return [Problem(exc.file, exc.record, exc.field, str(exc).split(": ", 1)[-1])]
    return []


def _dedupe(problems: list[Problem]) -> list[Problem]:
    """Once each, in the order an officer reads the files: by file, then by record number."""
    files = ["hebei-industrial-upgrading-guidance.txt", *KB_FILES]

    def key(p: Problem) -> tuple[int, int]:
        n = re.match(r"第 (\d+) 条", p.record or "")
        return (files.index(p.file) if p.file in files else len(files), int(n[1]) if n else 0)

    return sorted(dict.fromkeys(problems), key=key)


def resolve(arg: str | None) -> tuple[Path, Path | None]:
    """The KB directory and reference directory an argument names: a KB directory (with
    zones.yaml), or a data directory holding kb/ and reference/."""
    if arg is None:
        return DATA_DIR / "kb", DATA_DIR / "reference"
    path = Path(arg)
    if (path / "kb").is_dir():
        return path / "kb", path / "reference" if (path / "reference").is_dir() else None
    return path, None


def main(argv: list[str] | None = None) -> int:
    """`check [目录]`: print every problem in Chinese and exit 1, or a summary and exit 0."""
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] != "check" or len(args) > 2:
        print("用法：python -m features.kb check [知识库目录，默认 data/kb]", file=sys.stderr)
        return 2
    kb_dir, ref_dir = resolve(args[1] if len(args) > 1 else None)
    if not kb_dir.is_dir():
        print(f"知识库目录不存在：{kb_dir}", file=sys.stderr)
        return 2
    problems = check_kb(kb_dir, ref_dir)
    if problems:
        print(f"知识库校验未通过：{kb_dir} 共有 {len(problems)} 个问题", file=sys.stderr)
        for i, p in enumerate(problems, start=1):
            print(f"{i:>3}. {p}", file=sys.stderr)
        print("请逐条修改后重新运行本命令；修改方法见 data/kb/SCHEMA.md。", file=sys.stderr)
        return 1
    kb = load_kb_for(kb_dir, ref_dir)
    named = sum(p.named_by_policy for p in kb.parks)
    catalogue = sum(p.from_catalogue for p in kb.parks)
    listed = sum(p.from_list for p in kb.parks)
    counties = sum(p.kind == "county" for p in kb.parks)
    print(
        f"知识库校验通过（{kb_dir}）：{len(kb.zones)} 个区域，{len(kb.chains)} 条产业链，"
        f"{sum(len(c.segments) for c in kb.chains)} 个环节，{len(kb.parks)} 个地点"
        f"（政策点名 {named}，目录开发区 {catalogue}，公开名单县域集群 {listed}，县域 {counties}），"
        f"{len(kb.rules)} 条规则；政策记录的 source 均为政策原文"
    )
    return 0


def load_kb_for(kb_dir: Path, ref_dir: Path | None = None) -> Any:
    """`load_kb` for a KB directory anywhere, with the project's (or given) reference tables."""
    ref_dir = ref_dir or DATA_DIR / "reference"
    with tempfile.TemporaryDirectory(prefix="kb-load-") as tmp:
        (Path(tmp) / "kb").symlink_to(kb_dir.resolve(), target_is_directory=True)
        (Path(tmp) / "reference").symlink_to(ref_dir.resolve(), target_is_directory=True)
        return load_kb(tmp)
