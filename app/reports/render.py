"""Render a stored screening result as an HTML page or a PDF document.

Both formats carry the same content: verdict and governing rule, the site, the map, the hits
table (m², ha, 亩, distances), the findings with their legal basis, the data versions, and the
accuracy caveats — illustrative layers are labelled in the table, on the map and in the text,
because a consultant must never mistake a derived boundary for an official one.
"""

from __future__ import annotations

import base64
import html
import io
import re
import unicodedata
from dataclasses import dataclass, field

import matplotlib

matplotlib.use("Agg")
import matplotlib.image as mpimg
import matplotlib.pyplot as plt
from matplotlib.backends.backend_pdf import PdfPages

from app.reports.fonts import cjk_font
from zoning.result import ScreeningResult

VERDICT_ZH = {
    "prohibited": "禁止",
    "restricted": "限制（需满足条件或审批）",
    "caution": "注意",
    "clear": "未发现冲突",
    "insufficient_data": "数据不足",
}
EFFECT_ZH = {
    "prohibited": "禁止",
    "restricted": "限制",
    "caution": "注意",
    "permitted_exception": "允许的例外（需审批）",
}
RELATION_ZH = {"intersects": "相交", "within_buffer": "缓冲范围内", "contains_site": "所在单元"}
ACCURACY_ZH = {"illustrative": "示意", "approximate": "近似", "authoritative": "权威"}


@dataclass(frozen=True)
class LayerInfo:
    """What the report says about a layer: title, accuracy, source, version."""

    id: str
    title: str
    accuracy: str
    source: str
    version: str
    access: str = "public"


@dataclass(frozen=True)
class ReportContext:
    result: ScreeningResult
    map_png: bytes | None
    layers: dict[str, LayerInfo] = field(default_factory=dict)
    generated_at: str = ""


def _fmt(value: float | None, digits: int = 0) -> str:
    if value is None:
        return "—"
    return f"{value:,.{digits}f}"


def _hit_rows(ctx: ReportContext) -> list[list[str]]:
    rows = []
    for hit in ctx.result.hits:
        info = ctx.layers.get(hit.layer)
        area = hit.overlap_area_m2
        rows.append(
            [
                info.title if info else hit.layer,
                hit.name or hit.feature_id,
                hit.zone_class or "",
                RELATION_ZH.get(hit.relation, hit.relation),
                _fmt(area) if area else "—",
                _fmt(area / 1e4, 2) if area else "—",
                _fmt(area / 1e4 * 15, 1) if area else "—",
                f"{hit.overlap_ratio:.1%}" if hit.overlap_ratio is not None else (
                    f"{hit.share:.1%}" if hit.share is not None else "—"),
                _fmt(hit.length_inside_m) if hit.length_inside_m else "—",
                _fmt(hit.distance_m),
                ACCURACY_ZH.get(hit.accuracy, hit.accuracy),
            ]
        )
    return rows


HIT_HEADERS = ["图层", "名称", "分区", "关系", "重叠 m²", "ha", "亩", "占比", "区内长度 m", "距离 m", "精度"]


def _basis_text(finding) -> str:
    parts = []
    for basis in finding.basis:
        parts.append(" ".join(p for p in (basis.document, basis.number, basis.article, basis.seed_ref) if p))
    return "；".join(parts)


def _caveats(ctx: ReportContext) -> list[str]:
    used = {hit.layer for hit in ctx.result.hits} | {c.layer for c in ctx.result.coverage}
    illustrative = sorted(
        info.title for lid, info in ctx.layers.items() if lid in used and info.accuracy == "illustrative"
    )
    notes = [
        "本报告为基于所载图层的初步筛查结果，不替代主管部门的正式审查意见。"
        " This is a screening on the loaded layers, not an official determination.",
    ]
    if illustrative:
        notes.append(
            "以下图层为代码推导的示意数据，并非官方边界，结论仅供参考：" + "、".join(illustrative)
            + "。 Illustrative layers (derived by code, not official boundaries) were used."
        )
    changed = sorted(
        lid for lid, version in ctx.result.versions.layers.items()
        if lid in ctx.layers and ctx.layers[lid].version != version
    )
    if changed:
        notes.append(
            "以下图层在筛查后已更新，地图按当前版本绘制，数值按筛查时版本：" + "、".join(changed)
            + "。 These layers changed since the screening; the map shows the current version."
        )
    restricted = sorted(
        info.title for lid, info in ctx.layers.items() if lid in used and info.access == "restricted"
    )
    if restricted:
        notes.append(
            "受限图层不在地图上显示边界：" + "、".join(restricted)
            + "。 Restricted layers are screened against but not drawn."
        )
    no_data = [c.layer for c in ctx.result.coverage if c.status == "no_data"]
    if no_data:
        notes.append("以下图层在场址处无数据覆盖：" + "、".join(no_data) + "。 No data at the site for these layers.")
    return notes


def render_html(ctx: ReportContext) -> str:
    """A self-contained HTML report (the map is embedded as a data URI)."""
    r = ctx.result
    e = html.escape
    site = r.site
    img = (
        f'<img alt="map" src="data:image/png;base64,{base64.b64encode(ctx.map_png).decode()}">'
        if ctx.map_png
        else "<p>(no map)</p>"
    )
    hit_rows = "".join(
        "<tr>" + "".join(f"<td>{e(c)}</td>" for c in row) + "</tr>" for row in _hit_rows(ctx)
    )
    findings = "".join(
        f'<li class="effect-{e(f.effect)}"><b>[{e(EFFECT_ZH.get(f.effect, f.effect))}] {e(f.title_zh)}</b>'
        f" <code>{e(f.rule_id)}</code><br>{e(f.title)}<br>{e(f.explanation_zh or '')} {e(f.explanation)}"
        + (f"<br>条件 Conditions: {e('；'.join(f.conditions))}" if f.conditions else "")
        + f"<br><small>依据 Basis: {e(_basis_text(f))}</small></li>"
        for f in r.findings
    )
    versions = "".join(
        f"<tr><td>{e(lid)}</td><td>{e(ctx.layers[lid].title if lid in ctx.layers else '')}</td>"
        f"<td>{e(ACCURACY_ZH.get(ctx.layers[lid].accuracy, '') if lid in ctx.layers else '')}</td>"
        f"<td><code>{e(v[:23])}…</code></td></tr>"
        for lid, v in sorted(r.versions.layers.items())
    )
    caveats = "".join(f"<li>{e(c)}</li>" for c in _caveats(ctx))
    governing = f"{e(r.governing.rule_id or '—')}: {e(r.governing.why)}" if r.governing else "—"
    size = (
        f"{_fmt(site.area_m2)} m² · {_fmt(site.area_ha, 2)} ha · {_fmt(site.area_mu, 1)} 亩"
        if site.area_m2
        else (f"{_fmt(site.length_m)} m" if site.length_m else "点位 point")
    )
    project = e(str(r.project)) if r.project else "（未指定 none）"
    return f"""<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>筛查报告 {e(r.result_id)}</title>
<style>
body {{ font-family: "Noto Sans CJK SC", "Microsoft YaHei", sans-serif; margin: 24px; color: #222; font-size: 13px; }}
h1 {{ font-size: 20px; }} h2 {{ font-size: 16px; border-bottom: 1px solid #ccc; }}
.verdict {{ font-size: 18px; font-weight: bold; padding: 6px 10px; display: inline-block; color: #fff; border-radius: 4px; }}
.v-prohibited {{ background: #b71c1c; }} .v-restricted {{ background: #e65100; }} .v-caution {{ background: #f9a825; color: #222; }}
.v-clear {{ background: #2e7d32; }} .v-insufficient_data {{ background: #607d8b; }}
table {{ border-collapse: collapse; font-size: 12px; }} td, th {{ border: 1px solid #ccc; padding: 2px 5px; }}
img {{ max-width: 100%; }} .caveats {{ background: #fff8e1; padding: 8px 20px; }}
</style></head><body>
<h1>生态分区选址筛查报告 Ecological zoning screening report</h1>
<p>结果编号 Result: <code>{e(r.result_id)}</code> · 评估日期 As of: {e(str(r.as_of))} · 生成 Generated: {e(ctx.generated_at)}</p>
<p><span class="verdict v-{e(r.verdict)}">{e(VERDICT_ZH.get(r.verdict, r.verdict))} / {e(r.verdict)}</span></p>
<p>决定性规则 Governing: {governing}</p>
<h2>场址 Site</h2>
<p>{e(site.type)} · {size} · 中心点 centroid {site.centroid[0]:.6f}, {site.centroid[1]:.6f} (CGCS2000) · 输入坐标系 input CRS {e(site.input_crs)}</p>
<p>项目 Project: {project}</p>
{"".join(f"<p>⚠ {e(w)}</p>" for w in site.warnings)}
<h2>位置图 Map</h2>{img}
<h2>涉及区域 Zones</h2>
<table><tr>{"".join(f"<th>{h}</th>" for h in HIT_HEADERS)}</tr>{hit_rows}</table>
<h2>规则与依据 Findings</h2><ol>{findings or "<li>无 none</li>"}</ol>
<h2>数据说明 Caveats</h2><ul class="caveats">{caveats}</ul>
<h2>数据版本 Data versions</h2>
<table><tr><th>layer</th><th>title</th><th>精度</th><th>version</th></tr>{versions}</table>
<p>规则库版本 Rulebook: <code>{e(r.versions.rulebook or "")}</code></p>
</body></html>"""


def render_pdf(ctx: ReportContext) -> bytes:
    """A multi-page A4 PDF built with matplotlib (Chinese via Noto CJK, fonts embedded as TrueType)."""
    font = cjk_font()
    matplotlib.rcParams["pdf.fonttype"] = 42
    r = ctx.result
    buffer = io.BytesIO()
    a4 = (8.27, 11.69)
    with PdfPages(buffer) as pdf:
        fig = plt.figure(figsize=a4)
        lines = [
            ("生态分区选址筛查报告 Ecological zoning screening report", 14),
            (f"结果编号 {r.result_id}    评估日期 {r.as_of}    生成 {ctx.generated_at}", 8),
            (f"结论 Verdict: {VERDICT_ZH.get(r.verdict, r.verdict)} ({r.verdict})", 13),
            (
                f"决定性规则 Governing: {r.governing.rule_id or '—'}: {r.governing.why}" if r.governing else "",
                8,
            ),
            (
                f"场址 Site: {r.site.type}, {_fmt(r.site.area_m2)} m² = {_fmt(r.site.area_ha, 2)} ha = "
                f"{_fmt(r.site.area_mu, 1)} 亩, 长度 {_fmt(r.site.length_m)} m, 中心点 "
                f"{r.site.centroid[0]:.6f}, {r.site.centroid[1]:.6f}, 输入坐标系 {r.site.input_crs}",
                8,
            ),
        ]
        y = 0.97
        for text, size in lines:
            for chunk in _wrap(text, 100):
                fig.text(0.06, y, chunk, fontsize=size, fontproperties=font, va="top")
                y -= 0.018 if size < 10 else 0.028
        if ctx.map_png:
            image = mpimg.imread(io.BytesIO(ctx.map_png), format="png")
            ax = fig.add_axes((0.06, 0.06, 0.88, y - 0.08))
            ax.imshow(image)
            ax.axis("off")
        pdf.savefig(fig)
        plt.close(fig)

        _hits_table_pages(pdf, _hit_rows(ctx), font, a4)
        body: list[tuple[str, int]] = [("规则与依据 Findings", 11)]
        for f in r.findings:
            body.append((f"[{EFFECT_ZH.get(f.effect, f.effect)}] {f.title_zh} ({f.rule_id})", 8))
            body.append((f"{f.title}. {f.explanation_zh or ''} {f.explanation}", 7))
            if f.conditions:
                body.append(("条件 Conditions: " + "；".join(f.conditions), 7))
            body.append(("依据 Basis: " + _basis_text(f), 7))
        body.append(("", 7))
        body.append(("数据说明 Caveats", 11))
        body += [(c, 7) for c in _caveats(ctx)]
        body.append(("数据版本 Data versions", 11))
        for lid, version in sorted(r.versions.layers.items()):
            info = ctx.layers.get(lid)
            acc = ACCURACY_ZH.get(info.accuracy, "") if info else ""
            body.append((f"{lid}  {info.title if info else ''}  {acc}  {version[:30]}…", 7))
        body.append((f"规则库 Rulebook: {r.versions.rulebook}", 7))
        _text_pages(pdf, body, font, a4)
    return buffer.getvalue()


def _hits_table_pages(pdf: PdfPages, rows: list[list[str]], font, size: tuple[float, float]) -> None:
    """The hits as a real table, 30 rows a page."""
    per_page = 30
    for start in range(0, max(len(rows), 1), per_page):
        fig = plt.figure(figsize=size)
        fig.text(0.05, 0.96, "涉及区域 Zones" + (" (续 cont.)" if start else ""), fontsize=11,
                 fontproperties=font, va="top")
        chunk = [[c[:18] for c in row] for row in rows[start : start + per_page]] or [["—"] * len(HIT_HEADERS)]
        ax = fig.add_axes((0.03, 0.05, 0.94, 0.88))
        ax.axis("off")
        table = ax.table(cellText=chunk, colLabels=HIT_HEADERS, loc="upper center", cellLoc="left")
        table.auto_set_font_size(False)
        table.set_fontsize(6)
        table.auto_set_column_width(list(range(len(HIT_HEADERS))))
        for cell in table.get_celld().values():
            cell.get_text().set_fontproperties(font)
            cell.get_text().set_fontsize(6)
        pdf.savefig(fig)
        plt.close(fig)


_TOKEN = re.compile(r"[\u2e80-\uffff]|[^\s\u2e80-\uffff]+\s*|\s+")


def _wrap(text: str, width: int) -> list[str]:
    """Wrap by display width: CJK characters count double and may break anywhere; words don't."""
    lines: list[str] = []
    for paragraph in text.splitlines() or [""]:
        line, used = "", 0
        for token in _TOKEN.findall(paragraph):
            w = sum(2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1 for ch in token)
            if used + w > width and line.strip():
                lines.append(line.rstrip())
                line, used = "", 0
                token = token.lstrip()
                w = len(token)
            line += token
            used += w
        lines.append(line.rstrip())
    return lines


def _text_pages(pdf: PdfPages, body: list[tuple[str, int]], font, size: tuple[float, float]) -> None:
    fig = plt.figure(figsize=size)
    y = 0.96
    for text, fontsize in body:
        width = 60 if fontsize >= 10 else 110
        for chunk in _wrap(text, width):
            if y < 0.04:
                pdf.savefig(fig)
                plt.close(fig)
                fig = plt.figure(figsize=size)
                y = 0.96
            fig.text(0.05, y, chunk, fontsize=fontsize, fontproperties=font, va="top")
            y -= 0.016 if fontsize < 10 else 0.026
    pdf.savefig(fig)
    plt.close(fig)
