"""`python -m features.draft POLICY.txt OUT_DIR`: draft a knowledge base from a policy document."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from features.draft.build import draft_kb, write_draft
from features.kb import DATA_DIR, KBError, load_kb


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m features.draft", description="从政策文件生成知识库草稿"
    )
    ap.add_argument("policy", type=Path, help="政策文本（UTF-8 或 GB18030 的 .txt）")
    ap.add_argument("out", type=Path, help="草稿输出目录")
    ap.add_argument("--data-dir", type=Path, default=DATA_DIR, help="当前知识库的数据目录")
    args = ap.parse_args(argv)
    if not args.policy.is_file():
        print(f"找不到政策文件：{args.policy}", file=sys.stderr)
        return 2
    try:
        kb = load_kb(args.data_dir)
    except KBError as exc:
        print(f"当前知识库无法读取（{exc}），草稿不复用其词表和编号", file=sys.stderr)
        kb = None
    draft = draft_kb(args.policy.read_bytes(), kb, data_dir=args.data_dir)
    files = write_draft(draft, args.out)
    print(
        f"草稿已写入 {args.out}：{len(draft.zones)} 个区域，{len(draft.chains)} 条产业链"
        f"（{sum(len(c['segments']) for c in draft.chains)} 个环节），{len(draft.parks)} 个园区/集群，"
        f"{len(draft.rules)} 条规则，全部标记为“待审核”。"
    )
    for p in draft.problems:
        print(f"注意：{p}")
    if draft.unfit:
        print(f"其中 {len(draft.unfit)} 条记录缺少城市、产业链等，不能直接应用（见 REVIEW.md）。")
    print("文件：" + "、".join(f.name for f in files))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
