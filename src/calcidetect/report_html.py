"""``report.html``: one self-contained page summarising a batch.

No JavaScript, no network: styles are inline, plots are inline SVG and the
thumbnails are JPEGs embedded as base64 ``data:`` URIs, so the file can be
mailed or opened offline.  Only relative input paths appear (never absolute
paths or DICOM header values).
"""

from __future__ import annotations

import base64
import html
import os
from pathlib import Path
from typing import Any
from urllib.parse import quote

from ._version import __version__
from .config import Config
from .render import PATTERN_COLORS
from .result import PATTERNS
from .worker import output_paths

__all__ = ["build_report", "bar_chart_svg"]

_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:24px;color:#222;max-width:1400px}
h1{font-size:22px;margin:0 0 4px} h2{font-size:17px;margin:28px 0 8px}
.note{background:#fff4d6;border:1px solid #e6c770;padding:6px 10px;border-radius:4px;display:inline-block}
.cards{display:flex;gap:12px;flex-wrap:wrap;margin:14px 0}
.card{border:1px solid #ddd;border-radius:6px;padding:8px 14px;min-width:90px}
.card b{display:block;font-size:22px} .card.bad b{color:#b00020}
.plots{display:flex;gap:28px;flex-wrap:wrap}
table{border-collapse:collapse;font-size:13px} th,td{border-bottom:1px solid #e4e4e4;padding:4px 8px;text-align:left;vertical-align:middle}
th{background:#f5f5f5;position:sticky;top:0} td.n{text-align:right;font-variant-numeric:tabular-nums}
tr.error td{background:#fdecee} .sw{display:inline-block;width:10px;height:10px;border-radius:2px;margin-right:4px;vertical-align:middle}
img.th{display:block;max-width:170px;max-height:170px;border:1px solid #ccc}
.muted{color:#777} .hint{font-size:11px;color:#555;margin-top:4px}
.reason{max-width:420px;white-space:nowrap;overflow:hidden;text-overflow:ellipsis}
td.path{overflow-wrap:anywhere;min-width:220px;max-width:320px} th.p{font-size:12px}
"""


def bar_chart_svg(title: str, values: dict[str, float], unit: str = "", width: int = 420) -> str:
    """A horizontal bar chart, one bar per pattern in its colour, as SVG text.

    Examples
    --------
    >>> svg = bar_chart_svg("foci", {"punctate": 3, "linear": 1})
    >>> svg.startswith("<svg") and "punctate" in svg
    True
    """
    names = list(values)
    bar_h, gap, left, right, top = 18, 8, 110, 70, 26
    height = top + len(names) * (bar_h + gap) + 6
    vmax = max([float(v) for v in values.values()] + [0.0])
    span = width - left - right
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{html.escape(title)}">',
        f'<text x="0" y="16" font-size="13" font-weight="600">{html.escape(title)}</text>',
    ]
    for i, name in enumerate(names):
        v = float(values[name])
        y = top + i * (bar_h + gap)
        w = 0.0 if vmax <= 0 else span * v / vmax
        r, g, b = PATTERN_COLORS.get(name, (150, 150, 150))
        label = f"{v:,.0f}" if float(v).is_integer() else f"{v:,.1f}"
        parts.append(
            f'<text x="{left - 6}" y="{y + 13}" font-size="12" text-anchor="end">{html.escape(name)}</text>'
            f'<rect x="{left}" y="{y}" width="{w:.1f}" height="{bar_h}" fill="rgb({r},{g},{b})" stroke="#555" stroke-width="0.5"/>'
            f'<text x="{left + w + 5:.1f}" y="{y + 13}" font-size="12">{label}{html.escape(unit)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def _thumb_uri(out_dir: Path, rel: str) -> str | None:
    path = output_paths(out_dir, rel)["thumb"]
    try:
        data = path.read_bytes()
    except OSError:
        return None
    return "data:image/jpeg;base64," + base64.b64encode(data).decode("ascii")


def _link(out_dir: Path, target: Path, text: str) -> str:
    rel = Path(os.path.relpath(target, out_dir)).as_posix()
    return f'<a href="{html.escape(quote(rel))}">{html.escape(text)}</a>'


def _num(v: Any, nd: int = 1) -> str:
    if v is None or v == "":
        return ""
    if isinstance(v, int):
        return str(v)
    return f"{float(v):,.{nd}f}"


def build_report(
    out_dir: str | os.PathLike[str],
    records: list[dict[str, Any]],
    config: Config,
    *,
    overlays: bool = True,
) -> str:
    """The HTML text of ``report.html`` for the done records of a batch."""
    out = Path(out_dir)
    rows = sorted((r["row"] for r in records), key=lambda r: r["image"])
    ok = [r for r in rows if r["status"] == "ok"]
    failed = [r for r in rows if r["status"] != "ok"]
    counts = {p: sum(int(r.get(f"count_{p}") or 0) for r in ok) for p in PATTERNS}
    burden = {p: sum(float(r.get(f"burden_mm2_{p}") or 0.0) for r in ok) for p in PATTERNS}
    with_foci = sum(1 for r in ok if int(r.get("n_foci") or 0) > 0)
    dist: dict[str, int] = {}
    for r in ok:
        key = r.get("distribution") or "none"
        dist[key] = dist.get(key, 0) + 1
    assumed = sum(1 for r in ok if r.get("spacing_source") == "assumed")

    h: list[str] = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        "<title>calcidetect batch report</title>",
        f"<style>{_CSS}</style></head><body>",
        "<h1>calcidetect batch report</h1>",
        f'<div class="muted">calcidetect {html.escape(__version__)} &middot; '
        f"{len(rows)} inputs &middot; configuration in config.toml</div>",
        '<p class="note"><b>Research use only &mdash; not a diagnostic device.</b> '
        "Patterns are image findings (&ldquo;pattern consistent with&rdquo;), not diagnoses.</p>",
        '<div class="cards">',
        f'<div class="card"><b>{len(rows)}</b>inputs</div>',
        f'<div class="card"><b>{len(ok)}</b>analysed</div>',
        f'<div class="card{" bad" if failed else ""}"><b>{len(failed)}</b>failed</div>',
        f'<div class="card"><b>{with_foci}</b>with foci</div>',
        f'<div class="card"><b>{sum(counts.values())}</b>foci</div>',
        f'<div class="card"><b>{sum(burden.values()):,.1f}</b>mm&sup2; total burden</div>',
        "</div>",
    ]
    if assumed:
        h.append(
            f'<p class="muted">{assumed} image(s) declared no pixel spacing; '
            f"{config.assumed_pixel_spacing_mm:g} mm/px was assumed, so their mm and mm&sup2; are estimates.</p>"
        )
    h += [
        "<h2>Summary over analysed images</h2>",
        '<div class="plots">',
        bar_chart_svg("Foci per pattern", counts),
        bar_chart_svg("Burden per pattern (mm\u00b2)", burden),
        "</div>",
        '<p class="muted">Distribution: '
        + ", ".join(f"{html.escape(k)}: {v}" for k, v in sorted(dist.items()))
        + "</p>",
    ]
    if failed:
        h += ["<h2>Failed inputs</h2>", "<table><tr><th>input</th><th>reason</th></tr>"]
        for r in failed:
            h.append(f"<tr class=\"error\"><td>{html.escape(r['image'])}</td><td>{html.escape(r['reason'] or '')}</td></tr>")
        h.append("</table>")

    short = {"punctate": "punct.", "periarticular": "periart."}
    head = "".join(
        f'<th class="p" title="{p}"><span class="sw" style="background:rgb{PATTERN_COLORS[p]}"></span>'
        f"{short.get(p, p)}</th>"
        for p in PATTERNS
    )
    h += [
        "<h2>Images</h2>",
        "<table><tr><th>overlay</th><th>input</th><th>status</th><th>foci</th>"
        f"{head}<th>burden mm&sup2;</th><th>distribution</th><th>spacing</th></tr>",
    ]
    for r in rows:
        rel = r["image"]
        paths = output_paths(out, rel)
        if r["status"] != "ok":
            reason = html.escape(r["reason"] or "")
            h.append(
                f'<tr class="error"><td></td><td class="path">{html.escape(rel)}</td><td>error</td>'
                f'<td colspan="{len(PATTERNS) + 4}"><div class="reason" title="{reason}">{reason}</div></td></tr>'
            )
            continue
        uri = _thumb_uri(out, rel)
        img = f'<img class="th" alt="overlay of {html.escape(rel)}" src="{uri}">' if uri else ""
        if img and overlays and paths["overlay"].is_file():
            href = Path(os.path.relpath(paths["overlay"], out)).as_posix()
            img = f'<a href="{html.escape(quote(href))}">{img}</a>'
        links = _link(out, paths["json"], "json")
        hint_list = [x for x in str(r.get("hints") or "").split(" | ") if x]
        hints = "".join(f'<div class="hint">{html.escape(x)}</div>' for x in hint_list)
        sp = r.get("spacing_row_mm")
        spacing = (
            f"{_num(sp, 3)} mm<br><span class=\"muted\">{html.escape(str(r.get('spacing_source') or ''))}</span>"
            if sp is not None
            else ""
        )
        cells = "".join(f'<td class="n">{_num(r.get(f"count_{p}"))}</td>' for p in PATTERNS)
        h.append(
            f"<tr><td>{img}</td><td class=\"path\">{html.escape(rel)}<br><span class=\"muted\">{links}</span>"
            f"{hints}</td><td>ok</td>"
            f'<td class="n">{_num(r.get("n_foci"))}</td>{cells}'
            f'<td class="n">{_num(r.get("burden_mm2_total"))}</td>'
            f"<td>{html.escape(str(r.get('distribution') or ''))}</td><td>{spacing}</td></tr>"
        )
    h += [
        "</table>",
        '<p class="muted">Tables: foci.csv (one row per focus), images.csv (one row per input), '
        "timings.csv (seconds). Label images (focus id per pixel) in labels/.</p>",
        "</body></html>",
        "",
    ]
    return "\n".join(h)
