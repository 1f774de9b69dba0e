"""The admin's KB preview page: what the edited files under data/kb would change compared with the
KB being served, or every problem that stops them from loading. Applying stays a shell step
(`python -m api.cli load-kb`, then a restart), so the page changes nothing."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from api.auth import BureauPageDep
from api.deps import StateDep
from api.routes.bureau_pages import error_page, page
from features.kb import KBError
from features.kb_check import check_kb, load_kb_for
from features.kb_diff import diff_kb, summary

router = APIRouter(include_in_schema=False)
ACTIONS = {"added": "新增", "changed": "修改", "removed": "删除"}


@router.get("/bureau/kb", response_class=HTMLResponse)
def kb_preview(request: Request, state: StateDep, who: BureauPageDep) -> HTMLResponse:
    if who.role != "admin":
        return error_page(
            request, "需要管理员权限", "知识库变更预览只对管理员开放，请用管理员令牌登录。", 403
        )
    kb_dir = state.settings.data_dir / "kb"
    ref_dir = state.settings.data_dir / "reference"
    problems = check_kb(kb_dir, ref_dir)
    changes = []
    if not problems:
        try:
            changes = diff_kb(state.kb, load_kb_for(kb_dir, ref_dir))
        except KBError as exc:  # the files changed between the check and the load
            return error_page(request, "无法读取知识库", str(exc), 409)
    context = {
        "title": "知识库变更预览",
        "kb_dir": kb_dir,
        "serving": state.kb.digest,
        "problems": problems,
        "changes": changes,
        "counts": summary(changes),
        "actions": ACTIONS,
    }
    return page(request, "bureau_kb.html", context)
