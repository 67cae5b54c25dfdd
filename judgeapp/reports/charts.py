"""Charts as inline SVG and heatmap colours, drawn on the server: the page and the exported HTML
file need no script and no CDN."""

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

WIDTH = 560
ROW = 26
LABEL = 170


def interval_chart(
    rows: list[tuple[str, float | None, float | None, float | None]],
    *,
    low: float = 0.0,
    high: float = 1.0,
    title: str = "",
) -> SafeString:
    """Horizontal bars with 95% interval whiskers: one row per (label, value, ci_low, ci_high)."""
    span = (high - low) or 1.0
    plot = WIDTH - LABEL - 60

    def x(v: float) -> float:
        return LABEL + plot * (min(max(v, low), high) - low) / span

    height = ROW * len(rows) + 30
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {WIDTH} {height}" '
        f'width="{WIDTH}" height="{height}" role="img" aria-label="{escape(title)}">',
        f"<title>{escape(title)}</title>",
    ]
    for tick in range(0, 5):
        value = low + span * tick / 4
        parts.append(
            f'<line x1="{x(value):.1f}" x2="{x(value):.1f}" y1="4" y2="{height - 22}" '
            'stroke="#e3e6ea"/>'
            f'<text x="{x(value):.1f}" y="{height - 8}" font-size="11" text-anchor="middle" '
            f'fill="#6b7280">{value:.2f}</text>'
        )
    for i, (label, value, ci_low, ci_high) in enumerate(rows):
        y = 6 + i * ROW
        parts.append(
            f'<text x="{LABEL - 8}" y="{y + 15}" font-size="12" text-anchor="end" '
            f'fill="#1f2937">{escape(label[:28])}</text>'
        )
        if value is None:
            parts.append(f'<text x="{LABEL}" y="{y + 15}" font-size="12" fill="#6b7280">n/a</text>')
            continue
        parts.append(
            f'<rect x="{LABEL}" y="{y + 4}" width="{max(x(value) - LABEL, 1):.1f}" height="14" '
            'fill="#9db5e8"/>'
        )
        if ci_low is not None and ci_high is not None:
            parts.append(
                f'<line x1="{x(ci_low):.1f}" x2="{x(ci_high):.1f}" y1="{y + 11}" y2="{y + 11}" '
                'stroke="#1f3f8f" stroke-width="2"/>'
                f'<line x1="{x(ci_low):.1f}" x2="{x(ci_low):.1f}" y1="{y + 6}" y2="{y + 16}" '
                'stroke="#1f3f8f" stroke-width="2"/>'
                f'<line x1="{x(ci_high):.1f}" x2="{x(ci_high):.1f}" y1="{y + 6}" y2="{y + 16}" '
                'stroke="#1f3f8f" stroke-width="2"/>'
            )
        parts.append(
            f'<text x="{x(max(value, ci_high or value)) + 6:.1f}" y="{y + 15}" font-size="11" '
            f'fill="#1f2937">{value:.3f}</text>'
        )
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308 - every text in it is escaped above


def heat(count: int, total: int) -> str:
    """A cell's background: from white (none) to the accent colour (all of the row's total)."""
    share = count / total if total else 0.0
    red, green, blue = (int(255 - (255 - c) * share) for c in (36, 87, 197))
    ink = "#fff" if share > 0.55 else "#1f2937"
    return f"background:rgb({red},{green},{blue});color:{ink}"
