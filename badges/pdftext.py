"""Laid-out lines as PDF text operators: glyph positions, subsets and ActualText."""

from __future__ import annotations

from reportlab.lib.rl_accel import fp_str
from reportlab.pdfgen.canvas import Canvas

from .fitting import FittedText
from .shaping import Glyph, Run


def _actual_text(s: str) -> str:
    return "<FEFF" + s.encode("utf-16-be").hex().upper() + ">"


def draw_runs(c: Canvas, runs: tuple[Run, ...], x: float, y: float, size: float) -> None:
    """Draw one laid-out line with its left edge at ``x`` and baseline ``y``.

    Embedded fonts are written as raw text operators (one BT/ET per run) because the
    general canvas text path re-measures and re-encodes every string; base-14 fallback
    fonts go through the canvas API.
    """
    doc = c._doc
    sz = fp_str(size)
    for run in runs:
        w = run.width * size / 1000
        if not run.font.embedded:
            c.setFont(run.font.name, size)
            c.drawString(x, y, run.text)
            x += w
            continue
        ttf = run.font.embedded_ttf
        ops = [f"BT 1 0 0 1 {fp_str(x)} {fp_str(y)} Tm"]
        if run.glyphs is None:
            for subset, chunk in ttf.splitString(run.text, doc):
                ops.append(f"{ttf.getSubsetInternalName(subset, doc)} {sz} Tf")
                ops.append(f"({c._escape(chunk)}) Tj")
        else:
            codes = "".join(g.code for g in run.glyphs)
            gi = 0
            for subset, chunk in ttf.splitString(codes, doc):
                ops.append(f"{ttf.getSubsetInternalName(subset, doc)} {sz} Tf")
                items: list[str] = []
                for k in range(len(chunk)):
                    g = run.glyphs[gi]
                    gi += 1
                    byte = c._escape(chunk[k : k + 1])
                    if g.y_offset:
                        if items:
                            ops.append(f"[{' '.join(items)}] TJ")
                            items = []
                        ops.append(f"{fp_str(g.y_offset * size / 1000)} Ts")
                        ops.append(_tj(byte, g))
                        ops.append("0 Ts")
                        continue
                    if g.x_offset:
                        items.append(fp_str(-g.x_offset))
                    items.append(f"({byte})")
                    adj = g.width - g.advance + g.x_offset
                    if adj:
                        items.append(fp_str(adj))
                if items:
                    ops.append(f"[{' '.join(items)}] TJ")
        ops.append("ET")
        body = "\n".join(ops)
        if run.needs_actual_text:
            body = f"/Span <</ActualText {_actual_text(run.text)}>> BDC\n{body}\nEMC"
        c.addLiteral(body)
        x += w


def _tj(byte: str, g: Glyph) -> str:
    pre = fp_str(-g.x_offset) + " " if g.x_offset else ""
    post = g.width - g.advance + g.x_offset
    return f"[{pre}({byte}) {fp_str(post)}] TJ"


def draw_fitted(c: Canvas, fitted: FittedText) -> None:
    """Draw every line of a :class:`FittedText`."""
    for runs, x, y in fitted.lines:
        draw_runs(c, runs, x, y, fitted.size)
