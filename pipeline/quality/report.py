"""The run's own quality report: one self-contained HTML file (no script, no stylesheet or font from anywhere
else), so it opens in any browser with no network, as in many newsroom networks.

GX's Data Docs, written beside it, load their styles and scripts from public CDNs: offline, their index is an
empty list and their pages unstyled. This report shows at a glance what a reader asks first: where the run's
inputs ended, why inputs were quarantined, which quality flags landed rows carry, what the boilerplate rules
removed, and the audit's verdict, each as a bar chart (inline SVG) with its numbers.
"""

from __future__ import annotations

import html
import json
from pathlib import Path

REPORT_FILE = "report.html"
BAR_WIDTH = 360  # pixels of the longest bar
ROW_HEIGHT = 22

_STYLE = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:2em auto;max-width:60em;color:#222}
h1{font-size:1.5em;margin-bottom:.2em} h2{font-size:1.15em;margin-top:2em;border-bottom:1px solid #ddd}
.meta{color:#666} .pass{color:#1a7f37;font-weight:600} .fail{color:#c0362c;font-weight:600}
table{border-collapse:collapse} td,th{padding:.2em .8em .2em 0;text-align:left;vertical-align:top}
svg text{font:12px system-ui,sans-serif} .none{color:#666;font-style:italic}
"""
_COLOURS = {"ended": "#4a78b5", "quarantine": "#c0362c", "flags": "#d4a017", "removed": "#6b8e23"}


def write_run_report(ledger: dict, audit: dict | None, out_dir: Path, run_id: str) -> Path:
    """Write `report.html` for a run from its ledger (`tally`, `counts`) and audit (`audit.json`'s content)."""
    tally, counts = ledger.get("tally", {}), ledger.get("counts", {})
    ended = {k: tally.get(k, 0) for k in ("landed", "duplicates", "quarantined", "skipped")}
    quarantine = dict(tally.get("quarantine_reasons") or {})
    validate = counts.get("validate", {})
    flags = {k.removeprefix("flagged_"): v for k, v in validate.items() if k.startswith("flagged_")}
    removed = {
        k.removeprefix("removed_"): v for k, v in counts.get("clean", {}).items() if k.startswith("removed_")
    }
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>Run {html.escape(run_id)}: quality report</title><style>{_STYLE}</style></head><body>",
        f"<h1>Run {html.escape(run_id)}</h1>",
        f"<p class='meta'>{tally.get('read', 0):,} inputs read; {validate.get('flagged', 0):,} landed with quality "
        "flags. GX Data Docs with every expectation's result: <a href='index.html'>index.html</a> (needs the "
        "network for its styles).</p>",
        _audit(audit),
        _section("Where the inputs ended", ended, "ended", "inputs"),
        _section("Quarantined, by reason", quarantine, "quarantine", "inputs"),
        _section(
            "Landed with quality flags, by expectation (warnings: the rows landed)", flags, "flags", "rows"
        ),
        _section("Boilerplate removed, by rule", removed, "removed", "lines"),
        "</body></html>",
    ]
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / REPORT_FILE
    path.write_text("\n".join(parts), encoding="utf-8")
    return path


def _audit(audit: dict | None) -> str:
    if not audit:
        return ""
    verdict = (
        "<span class='pass'>passed</span>" if audit.get("passed") else "<span class='fail'>failed</span>"
    )
    rows = "".join(
        f"<tr><td>{html.escape(str(k))}</td><td>{html.escape(str(v))}</td></tr>"
        for k, v in (audit.get("metrics") or {}).items()
    )
    failed = "".join(
        f"<li>{html.escape(f['name'])}: {html.escape(str(f.get('says', '')))} ({f.get('value')}, expected "
        f"{html.escape(str(f.get('expected')))})</li>"
        for f in audit.get("failed") or []
    )
    return f"<h2>Audit: {verdict}</h2><table>{rows}</table>" + (f"<ul>{failed}</ul>" if failed else "")


def _section(title: str, values: dict[str, int], colour: str, unit: str) -> str:
    head = f"<h2>{html.escape(title)}</h2>"
    values = {k: v for k, v in sorted(values.items(), key=lambda kv: (-kv[1], kv[0])) if v}
    if not values:
        return head + "<p class='none'>none</p>"
    return head + _bars(values, _COLOURS[colour], unit)


def _bars(values: dict[str, int], colour: str, unit: str) -> str:
    """A horizontal bar chart as inline SVG: a label, a bar as long as its share of the largest, the count."""
    label_width = min(320, 8 * max(len(k) for k in values) + 12)
    largest = max(values.values())
    height = ROW_HEIGHT * len(values) + 4
    width = label_width + BAR_WIDTH + 90
    rows = []
    for n, (name, value) in enumerate(values.items()):
        y = n * ROW_HEIGHT + 2
        bar = max(1, round(BAR_WIDTH * value / largest))
        rows.append(
            f"<text x='{label_width - 6}' y='{y + 15}' text-anchor='end'>{html.escape(name)}</text>"
            f"<rect x='{label_width}' y='{y + 3}' width='{bar}' height='{ROW_HEIGHT - 6}' fill='{colour}'>"
            f"<title>{html.escape(name)}: {value:,} {unit}</title></rect>"
            f"<text x='{label_width + bar + 6}' y='{y + 15}'>{value:,}</text>"
        )
    return (
        f"<svg width='{width}' height='{height}' role='img' "
        f"aria-label='{html.escape(unit)} by name'>{''.join(rows)}</svg>"
    )


def read_json(path: Path) -> dict | None:
    return json.loads(path.read_text()) if path.is_file() else None
