"""The report as a PDF: reportlab with an embedded CJK font, a first page a person reads at a
glance (summary counts, marks, validity, the check's address and QR code), then every section
line by line; signed by the platform with pyHanko. Pure CPU: the service runs it in a worker
thread, never on the event loop."""

from __future__ import annotations

import io
import os
from functools import cache
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from reportlab.graphics.barcode.qr import QrCodeWidget
from reportlab.graphics.shapes import Drawing
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.platypus import Paragraph, Spacer, Table, TableStyle

from .content import MARKS

SUBJECT_TYPES = {"natural_person": "自然人", "legal_person": "法人", "unincorporated_org": "非法人组织",
                 "individual_business": "个体工商户"}
SUBJECT_STATUS = {"active": "存续", "deregistered": "注销"}

# A TrueType CJK font, embedded (subset) in every report (reportlab embeds TrueType outlines,
# not CFF): CREDIT_REPORT_FONT, else Debian's WenQuanYi fonts where installed, else WenQuanYi
# Micro Hei (SIL OFL) as shipped on PyPI by the pinned `paperang-p2-fonts-cjk`, so a machine with
# only Python renders Chinese too. Adobe's STSong-Light by reference is the last resort.
FONT_CANDIDATES = (
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
)


def _packaged_font() -> str | None:
    try:
        from importlib.resources import files

        path = files("paperang_p2_fonts_cjk") / "fonts" / "wqy-microhei.ttc"
    except ModuleNotFoundError:
        return None
    return str(path) if path.is_file() else None


@cache
def font_name() -> str:
    configured = os.environ.get("CREDIT_REPORT_FONT")
    for path in ([configured] if configured else []) + list(FONT_CANDIDATES) + [_packaged_font()]:
        if path and Path(path).exists():
            pdfmetrics.registerFont(TTFont("ReportCJK", path, subfontIndex=0))
            return "ReportCJK"
    pdfmetrics.registerFont(UnicodeCIDFont("STSong-Light"))
    return "STSong-Light"


def font_embedded() -> bool:
    return font_name() == "ReportCJK"


@cache
def _styles() -> dict[str, ParagraphStyle]:
    f = font_name()
    return {
        "title": ParagraphStyle("title", fontName=f, fontSize=18, leading=24, alignment=1, spaceAfter=6),
        "h2": ParagraphStyle("h2", fontName=f, fontSize=12.5, leading=17, spaceBefore=8, spaceAfter=3,
                             textColor=colors.HexColor("#8b1a1a")),
        "body": ParagraphStyle("body", fontName=f, fontSize=9.5, leading=13.5, wordWrap="CJK"),
        "small": ParagraphStyle("small", fontName=f, fontSize=8, leading=11, wordWrap="CJK",
                                textColor=colors.HexColor("#444444")),
        "line": ParagraphStyle("line", fontName=f, fontSize=8.5, leading=12, wordWrap="CJK",
                               leftIndent=4 * mm, spaceAfter=3),
    }


def _p(text: str, style: str) -> Paragraph:
    return Paragraph(text, _styles()[style])


def _qr(url: str, size: float = 32 * mm) -> Drawing:
    widget = QrCodeWidget(url)
    x0, y0, x1, y1 = widget.getBounds()
    d = Drawing(size, size, transform=[size / (x1 - x0), 0, 0, size / (y1 - y0), 0, 0])
    d.add(widget)
    return d


def _grid(rows: list[list[Any]], widths: list[float]) -> Table:
    t = Table(rows, colWidths=widths)
    t.setStyle(TableStyle([
        ("FONTNAME", (0, 0), (-1, -1), font_name()), ("FONTSIZE", (0, 0), (-1, -1), 9),
        ("GRID", (0, 0), (-1, -1), 0.4, colors.HexColor("#999999")),
        ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#f1e6e6")),
        ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
    ]))
    return t


def _first_page(doc: dict[str, Any], digest: str, check_link: str) -> list[Any]:
    s, summary = doc["subject"], doc["summary"]
    out: list[Any] = [
        _p("公共信用信息报告", "title"),
        _p(f"报告编号：{escape(doc['number'])}　　出具时间：{escape(doc['issuedAt'])}　　"
           f"有效期至：{escape(doc['validUntil'])}", "small"),
        Spacer(1, 4 * mm),
        _grid([["信用主体", "统一社会信用代码 / 身份证号码", "主体类型", "状态"],
               [_p(escape(s["name"]), "body"), s["key"], SUBJECT_TYPES.get(s["type"], s["type"]),
                SUBJECT_STATUS.get(s["status"], s["status"])]],
              [60 * mm, 55 * mm, 30 * mm, 30 * mm]),
        Spacer(1, 3 * mm),
        _p(f"查询机构：{escape(doc['requester'].get('orgName') or doc['requester'].get('name') or '')}　　"
           f"用途：{escape(doc.get('purposeName') or '未说明')}　　依据：{escape(doc['basisText'])}", "body"),
        _p("一、报告概要", "h2"),
    ]
    rows = [["信息类别", "条数"]] + [[sec["title"], str(summary["sections"][sec["code"]])] for sec in doc["sections"]]
    rows.append(["合计", str(summary["records"])])
    out.append(_grid(rows, [120 * mm, 55 * mm]))
    marks = "；".join(f"{MARKS[m]} {n} 条" for m, n in summary["marks"].items()) or "无"
    out.append(_p(f"标注：{marks}", "body"))
    if doc["withheld"]:
        held = "；".join(f"{w['className']}信息 {w['count']} {'条' if w['scope'] == 'records' else '项字段'}"
                        for w in doc["withheld"])
        out.append(_p(f"依查询权限未列示：{held}（只列类别和数量，不列内容）", "body"))
    out += [
        Spacer(1, 4 * mm),
        Table([[_qr(check_link), [_p("报告核验", "h2"), _p(f"核验地址：{escape(check_link)}", "small"),
                                   _p(f"报告摘要（SHA-256）：{digest}", "small")]]],
              colWidths=[36 * mm, 139 * mm]),
        _p("声明", "h2"),
    ]
    out += [_p(f"{i}. {escape(text)}", "small") for i, text in enumerate(doc["statements"], 1)]
    return out


def _line_parts(line: dict[str, Any]) -> tuple[str, str]:
    marks = "".join(f"〔{MARKS[m]}〕" for m in line["marks"])
    head = (f"{line['itemName']}{marks}　决定日期 {line['decidedOn']}　"
            f"提供单位 {line['provider']}　第 {line['version']} 版")
    if line["changeReasons"]:
        head += f"（变更原因：{'；'.join(line['changeReasons'])}）"
    fields = "；".join(f"{f['label']}：{f['value']}" for f in line["fields"])
    if line["fieldsWithheld"]:
        fields += f"；另有 {line['fieldsWithheld']} 项字段依权限未列示"
    return head, fields


def _unbreakable(ch: str) -> bool:
    return ch.isascii() and (ch.isalnum() or ch in ".-_/")


class _Lines:
    """The sections' lines drawn straight on the canvas, wrapped by character width: linear in
    the report's size (reportlab's CJK paragraphs cost about a millisecond a line)."""

    LEFT, RIGHT, TOP, BOTTOM = 17 * mm, A4[0] - 17 * mm, A4[1] - 15 * mm, 15 * mm

    def __init__(self, canvas, footer):
        self.c, self.footer, self.y = canvas, footer, self.TOP
        self.font = font_name()
        self._widths: dict[tuple[str, float], float] = {}

    def _width(self, ch: str, size: float) -> float:
        w = self._widths.get((ch, size))
        if w is None:
            w = self._widths[(ch, size)] = pdfmetrics.stringWidth(ch, self.font, size)
        return w

    def _wrap(self, text: str, size: float, width: float) -> list[str]:
        out, start, used = [], 0, 0.0
        for i, ch in enumerate(text):
            w = self._width(ch, size)
            if used + w > width and i > start:
                cut = i
                while cut > start and _unbreakable(text[cut - 1]) and _unbreakable(text[cut]):
                    cut -= 1  # do not split a number or a code across lines
                cut = cut if cut > start else i
                out.append(text[start:cut])
                used = sum(self._width(c, size) for c in text[cut:i])
                start = cut
            used += w
        out.append(text[start:])
        return out

    def _room(self, leading: float) -> None:
        if self.y - leading < self.BOTTOM:
            self.footer(self.c, None)
            self.c.showPage()
            self.y = self.TOP

    def write(self, text: str, size: float, *, indent: float = 0, color=colors.black, after: float = 0) -> None:
        leading = size * 1.45
        for part in self._wrap(text, size, self.RIGHT - self.LEFT - indent):
            self._room(leading)
            self.y -= leading
            self.c.setFont(self.font, size)
            self.c.setFillColor(color)
            self.c.drawString(self.LEFT + indent, self.y, part)
        self.y -= after

    def finish(self) -> None:
        self.footer(self.c, None)
        self.c.showPage()


def render(doc: dict[str, Any], digest: str, check_link: str) -> bytes:
    """The unsigned PDF of a report document."""
    from reportlab.pdfgen.canvas import Canvas
    from reportlab.platypus import Frame

    buf = io.BytesIO()
    c = Canvas(buf, pagesize=A4, pageCompression=1)
    c.setTitle(f"公共信用信息报告 {doc['number']}")
    c.setAuthor("沧州市公共信用信息共享平台")
    c.setSubject(doc["subject"]["name"])
    c.setCreator("credit-platform")

    def footer(canvas, _doc):
        canvas.setFont(font_name(), 7.5)
        canvas.setFillColor(colors.black)
        canvas.drawString(17 * mm, 8 * mm, f"报告编号 {doc['number']}　第 {canvas.getPageNumber()} 页")

    story = _first_page(doc, digest, check_link)
    frame = Frame(17 * mm, 15 * mm, A4[0] - 34 * mm, A4[1] - 30 * mm, showBoundary=0)
    frame.addFromList(story, c)
    if story:  # the first page is bounded (a summary); anything left over goes on the next
        raise ValueError("the report's first page overflowed")
    footer(c, None)
    c.showPage()
    lines = _Lines(c, footer)
    for n, sec in enumerate(doc["sections"], 2):
        lines.write(f"{'一二三四五六七八九十'[n - 1]}、{sec['title']}（{len(sec['lines'])} 条）", 12.5,
                    color=colors.HexColor("#8b1a1a"), after=2)
        if not sec["lines"]:
            lines.write("无", 8.5, indent=4 * mm, after=3)
        for line in sec["lines"]:
            head, fields = _line_parts(line)
            lines.write(head, 9, indent=4 * mm)
            lines.write(fields, 8.5, indent=8 * mm, color=colors.HexColor("#333333"), after=3)
    lines.finish()
    c.save()
    return buf.getvalue()


def sign(pdf: bytes, key_file: Path, cert_file: Path, number: str) -> bytes:
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import signers

    signer = signers.SimpleSigner.load(str(key_file), str(cert_file))
    out = signers.sign_pdf(
        IncrementalPdfFileWriter(io.BytesIO(pdf)),
        signers.PdfSignatureMetadata(field_name="PlatformSignature", reason=f"公共信用信息报告 {number}",
                                     location="沧州市"),
        signer=signer,
    )
    return out.getvalue()
