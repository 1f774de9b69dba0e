"""Control characters in user text: found at validation, stripped again where tables are written.

C0 control characters (and DEL) have no place in a name or a description; XML 1.0 forbids most of
them, so a single one stored made every Excel export that included the record fail.
"""

from __future__ import annotations

import re

# Tab, line feed and carriage return are text in a multi-line field (a textarea sends CR LF).
_MULTI_LINE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_SINGLE_LINE = re.compile(r"[\x00-\x1f\x7f]")


def first_control(text: str, *, multiline: bool) -> str | None:
    """The first forbidden control character of `text` as `U+XXXX`, or None when there is none."""
    m = (_MULTI_LINE if multiline else _SINGLE_LINE).search(text)
    return f"U+{ord(m.group()):04X}" if m else None


def control_message(label: str, text: str, *, multiline: bool) -> str | None:
    """A Chinese message naming `label` and the character, or None when `text` is clean."""
    found = first_control(text, multiline=multiline)
    if found is None:
        return None
    allowed = "（换行和制表符除外）" if multiline else ""
    return (
        f"{label} 含有不可见的控制字符 {found}：请删除控制字符{allowed}后重新提交，"
        "常见于从其他系统复制粘贴的文字"
    )


def strip_controls(text: str) -> str:
    """`text` without the characters a spreadsheet cannot hold (tab and line breaks are kept)."""
    return _MULTI_LINE.sub("", text)
