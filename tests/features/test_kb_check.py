"""The KB checker an officer runs: every problem at once, in Chinese, with file, record and field,
including a `source` that is not verbatim policy; the real KB passes."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from features.kb import DATA_DIR
from features.kb_check import check_kb
from tests.conftest import ROOT


@pytest.fixture
def kb_dir(tmp_path: Path) -> Path:
    shutil.copytree(DATA_DIR / "kb", tmp_path / "kb")
    return tmp_path / "kb"


def edit_yaml(path: Path, fn: Any) -> None:
    """Load a KB file, let `fn` change the data, write it back."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    fn(data)
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")


def _break_several(kb_dir: Path) -> None:
    def parks(ps: list[dict[str, Any]]) -> None:
        ps[0]["chains"][0]["segment_id"] = "high_end_equipment.no_such_segment"
        ps[1]["city"] = "张家口"
        ps[2]["source"] = ps[2]["source"].replace("加快推进", "大力推进")  # no longer verbatim
        ps[3]["citty"] = "保定"

    def rules(rs: list[dict[str, Any]]) -> None:
        del rs[0]["source"]
        rs[1]["weight"] = 3

    edit_yaml(kb_dir / "parks.yaml", parks)
    edit_yaml(kb_dir / "rules.yaml", rules)


def test_check_kb_passes_the_real_kb() -> None:
    assert check_kb(DATA_DIR / "kb") == []


def test_check_kb_lists_every_problem_with_file_record_and_field(kb_dir: Path) -> None:
    _break_several(kb_dir)
    problems = check_kb(kb_dir)
    where = [(p.file, p.record, p.field) for p in problems]
    assert where == [
        ("parks.yaml", "第 1 条（park_id=langfang_cnc_machine_tools）", "chains[0].segment_id"),
        ("parks.yaml", "第 2 条（park_id=baoding_cnc_machine_tools）", "zone_id"),
        ("parks.yaml", "第 3 条（park_id=tangshan_robotics）", "source"),
        ("parks.yaml", "第 4 条（park_id=xianghe_robotics）", "citty"),
        ("rules.yaml", "第 1 条（rule_id=xiongan_no_general_manufacturing）", "source"),
        ("rules.yaml", "第 2 条（rule_id=xiongan_high_end_priority）", "weight"),
    ]
    messages = [p.message for p in problems]
    assert "no_such_segment" in messages[0] and "不存在" in messages[0]
    assert "不是政策原文" in messages[2] and "大力推进廊保数控机床" in messages[2]
    assert "未知字段" in messages[3] and "缺少此字段" in messages[4] and "权重" in messages[5]
    for m in messages:  # Chinese throughout: no English left from the validator
        assert not re.search(r"\b(Field|required|Input|should|valid)\b", m), m


def test_check_kb_reports_a_yaml_syntax_error_by_line_and_checks_the_rest(kb_dir: Path) -> None:
    text = (kb_dir / "zones.yaml").read_text(encoding="utf-8").splitlines()
    line = next(i for i, t in enumerate(text) if t.startswith("- zone_id:"))
    text[line] = "- zone_id: [xiongan"
    (kb_dir / "zones.yaml").write_text("\n".join(text), encoding="utf-8")
    edit_yaml(kb_dir / "rules.yaml", lambda rs: rs[3].update(weight=-2))
    problems = check_kb(kb_dir)
    assert problems[0].file == "zones.yaml" and "YAML 格式错误" in problems[0].message
    assert re.search(r"第 \d+ 行", problems[0].message)
    assert any(p.file == "rules.yaml" and p.field == "weight" for p in problems)


def test_check_kb_refuses_also_source_that_is_not_verbatim(kb_dir: Path) -> None:
    edit_yaml(
        kb_dir / "rules.yaml", lambda rs: rs[2]["also_source"].append("鼓励企业多多投资河北。")
    )
    [problem] = check_kb(kb_dir)
    assert (problem.file, problem.field) == ("rules.yaml", "also_source[1]")


def test_kb_check_command_prints_chinese_and_exits_non_zero(kb_dir: Path) -> None:
    _break_several(kb_dir)
    bad = subprocess.run(
        [sys.executable, "-m", "features.kb", "check", str(kb_dir)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert bad.returncode == 1
    assert "知识库校验未通过" in bad.stderr and "共有 6 个问题" in bad.stderr
    assert "  6. rules.yaml 记录 第 2 条" in bad.stderr
    good = subprocess.run(
        [sys.executable, "-m", "features.kb", "check"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert good.returncode == 0 and "知识库校验通过" in good.stdout
