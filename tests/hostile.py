"""Hostile and malformed spreadsheet files, built in memory for the upload tests."""

from __future__ import annotations

import io
import zipfile
from xml.sax.saxutils import escape

CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
    '<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
    "</Types>"
)
ROOT_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/>'
    "</Relationships>"
)
WORKBOOK = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
    'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
    '<sheets><sheet name="Sheet1" sheetId="1" r:id="rId1"/></sheets></workbook>'
)
WORKBOOK_NO_SHEETS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheets/></workbook>'
)
WORKBOOK_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/>'
    "</Relationships>"
)
SHEET_HEAD = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
)


def col_letter(n: int) -> str:
    s = ""
    while n:
        n, r = divmod(n - 1, 26)
        s = chr(65 + r) + s
    return s


def sheet_xml(rows: list[list[str]], dimension: str | None = None, tail: str = "") -> str:
    dim = f'<dimension ref="{dimension}"/>' if dimension else ""
    body = []
    for i, row in enumerate(rows, start=1):
        cells = "".join(
            f'<c r="{col_letter(j)}{i}" t="inlineStr"><is><t>{escape(v)}</t></is></c>'
            for j, v in enumerate(row, start=1)
            if v != ""
        )
        body.append(f'<row r="{i}">{cells}</row>')
    return SHEET_HEAD + dim + "<sheetData>" + "".join(body) + tail + "</sheetData></worksheet>"


def xlsx(
    sheet: str | bytes,
    *,
    workbook: str = WORKBOOK,
    extra: dict[str, bytes] | None = None,
    compression: int = zipfile.ZIP_DEFLATED,
) -> bytes:
    """A minimal workbook around one sheet part, written as given (no validation)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression, compresslevel=9) as zf:
        zf.writestr("[Content_Types].xml", CONTENT_TYPES)
        zf.writestr("_rels/.rels", ROOT_RELS)
        zf.writestr("xl/workbook.xml", workbook)
        zf.writestr("xl/_rels/workbook.xml.rels", WORKBOOK_RELS)
        zf.writestr("xl/worksheets/sheet1.xml", sheet)
        for name, data in (extra or {}).items():
            zf.writestr(name, data)
    return buf.getvalue()


def dimension_bomb(rows: list[list[str]]) -> bytes:
    """The issue's 1.7 KB file: it declares A1:XFD1048576 and has one empty cell in the last row."""
    return xlsx(
        sheet_xml(
            rows,
            dimension="A1:XFD1048576",
            tail='<row r="1048576"><c r="XFD1048576"/></row>',
        )
    )


def zip_bomb(n_bytes: int) -> bytes:
    """A workbook whose one cell is `n_bytes` of 'a': tiny compressed, huge once inflated."""
    head = (SHEET_HEAD + '<sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>').encode()
    tail = b"</t></is></c></row></sheetData></worksheet>"
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        zf.writestr("[Content_Types].xml", CONTENT_TYPES)
        zf.writestr("_rels/.rels", ROOT_RELS)
        zf.writestr("xl/workbook.xml", WORKBOOK)
        zf.writestr("xl/_rels/workbook.xml.rels", WORKBOOK_RELS)
        with zf.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as fh:
            fh.write(head)
            block = b"a" * (1 << 20)
            left = n_bytes
            while left > 0:
                fh.write(block[: min(left, len(block))])
                left -= len(block)
            fh.write(tail)
    return buf.getvalue()


def corrupt_deflate(good: bytes) -> bytes:
    """Flip bytes inside the sheet's compressed data, keeping the zip directory intact."""
    zf = zipfile.ZipFile(io.BytesIO(good))
    info = zf.getinfo("xl/worksheets/sheet1.xml")
    data = bytearray(good)
    # local header: 30 bytes + name + extra, then the compressed stream
    start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
    for k in range(start + 2, start + min(info.compress_size, 40)):
        data[k] ^= 0x5A
    return bytes(data)


ENTITY_EXPANSION = (
    '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    '<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">'
    '<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>'
    '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
    '<sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>&lol3;</t></is></c></row></sheetData></worksheet>'
)
XXE = (
    '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
    '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
    '<sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>&xxe;</t></is></c></row></sheetData></worksheet>'
)


def malformed_workbooks() -> dict[str, bytes]:
    """The six kinds of broken .xlsx the issue tried, plus a non-zip, each built here."""
    good = xlsx(sheet_xml([["企业编号", "主营业务描述"], ["a1", "生产汽车零部件"]]))
    return {
        "broken_xml": xlsx(SHEET_HEAD + "<sheetData><row r='1'><c"),
        "entity_expansion": xlsx(ENTITY_EXPANSION),
        "xxe": xlsx(XXE),
        "no_sheets": xlsx(sheet_xml([["a"]]), workbook=WORKBOOK_NO_SHEETS),
        "corrupt_deflate": corrupt_deflate(good),
        "utf16_sheet": xlsx(sheet_xml([["a"]]).encode("utf-16")),
        "truncated_zip": good[: len(good) // 2],
        "not_a_zip": b"PK\x03\x04" + b"\x00" * 200,
    }
