"""The results page's charts (static/menus/charts.js and the vendored ECharts) in Debian's
chromium, on a page served with the product's own Content-Security-Policy: a bar chart and a
pie chart drawn as SVG from json_script options, one added later by an htmx swap, and not one
CSP violation. Screenshots at 360 and 1280 px go to charts-360.png and charts-1280.png in
MINQING_SHOTS, else the temporary folder (/tmp). Playwright's own scripts must be functions
("() => …"): a string expression is evaluated with eval, which the policy refuses.
"""

from __future__ import annotations

import functools
import html
import json
import os
import shutil
import tempfile
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from minqing.lib.security import CONTENT_SECURITY_POLICY

pytestmark = [pytest.mark.browser, pytest.mark.live]

STATIC = Path(__file__).resolve().parents[1] / "static" / "menus"
ECHARTS = STATIC / "vendor" / "echarts" / "echarts.common.min.js"
#: Where the screenshots go (MINQING_SHOTS, else the temporary folder: /tmp).
SHOTS = Path(os.environ.get("MINQING_SHOTS") or tempfile.gettempdir())

BAR = {
    "title": {"text": "饮水是否正常（按村）", "left": "center"},
    "tooltip": {"trigger": "axis"},
    "legend": {"bottom": 0},
    "grid": {"left": 48, "right": 16, "top": 72, "bottom": 56},
    "xAxis": {"type": "category", "data": ["东风村", "红旗村", "青山社区", "柳河村"]},
    "yAxis": {"type": "value", "name": "户"},
    "series": [
        {"name": "是", "type": "bar", "stack": "all", "data": [120, 98, 143, 76]},
        {"name": "否", "type": "bar", "stack": "all", "data": [12, 30, 5, 21]},
    ],
}
PIE = {
    "title": {"text": "对村卫生室的服务", "left": "center"},
    "tooltip": {"trigger": "item"},
    "legend": {"bottom": 0},
    "series": [
        {
            "name": "评价",
            "type": "pie",
            "radius": ["28%", "50%"],
            "data": [
                {"name": "好", "value": 310},
                {"name": "一般", "value": 122},
                {"name": "差", "value": 41},
            ],
        }
    ],
}
LATER = {
    "xAxis": {"type": "category", "data": ["走访后新增"]},
    "yAxis": {"type": "value"},
    "series": [{"type": "bar", "data": [7]}],
}

CSS = """
body { font-family: sans-serif; margin: 0 12px; }
.chart { width: 100%; height: 320px; }
table { border-collapse: collapse; margin: 8px 0 24px; }
td, th { border: 1px solid #999; padding: 2px 8px; }
"""


def _json_script(element_id: str, value: object) -> str:
    """What Django's json_script writes."""
    from django.utils.html import json_script

    return str(json_script(value, element_id))


def _table(option: dict[str, Any]) -> str:
    series = option["series"]
    if series[0]["type"] == "pie":
        rows = [(d["name"], d["value"]) for d in series[0]["data"]]
    else:
        rows = [
            (cat, " / ".join(str(s["data"][i]) for s in series))
            for i, cat in enumerate(option["xAxis"]["data"])
        ]
    cells = "".join(f"<tr><td>{html.escape(str(a))}</td><td>{b}</td></tr>" for a, b in rows)
    return f"<table>{cells}</table>"


PAGE = f"""<!doctype html>
<html lang="zh-Hans">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>部门结果</title>
<link rel="stylesheet" href="page.css">
<script src="echarts.common.min.js" defer></script>
<script src="charts.js" defer></script>
</head>
<body>
<h1>饮水与医疗</h1>
<div class="chart" id="bar" data-chart="chart-bar"></div>
{_json_script("chart-bar", BAR)}
{_table(BAR)}
<div class="chart" id="pie" data-chart="chart-pie"></div>
{_json_script("chart-pie", PIE)}
{_table(PIE)}
<div id="later"></div>
</body>
</html>
"""

# Registered before any page script runs (Playwright's init scripts are not the page's, so the
# policy does not apply to them): every violation the page reports is kept.
WATCH = """
window.__csp = [];
document.addEventListener('securitypolicyviolation', function (e) {
  window.__csp.push(e.violatedDirective + ' ' + e.blockedURI + ' ' + (e.sourceFile || '') + ':'
                    + (e.lineNumber || 0));
});
"""


class _Handler(SimpleHTTPRequestHandler):
    def end_headers(self) -> None:
        self.send_header("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        self.send_header("Cache-Control", "no-store")
        super().end_headers()

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (the base's name)
        pass


@pytest.fixture
def site(tmp_path: Path) -> Iterator[str]:
    """The page, charts.js and ECharts served from a temporary folder with the product's CSP."""
    (tmp_path / "index.html").write_text(PAGE, encoding="utf-8")
    (tmp_path / "page.css").write_text(CSS, encoding="utf-8")
    (tmp_path / "favicon.ico").write_bytes(b"")  # the browser asks for it: no 404 in the console
    shutil.copy(STATIC / "charts.js", tmp_path / "charts.js")
    shutil.copy(ECHARTS, tmp_path / "echarts.common.min.js")
    server = ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(_Handler, directory=str(tmp_path))
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/index.html"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def _svg_counts(page: Any, selector: str) -> dict[str, int]:
    return page.evaluate(
        """(sel) => {
            const el = document.querySelector(sel);
            const svg = el && el.querySelector('svg');
            return {
                svg: svg ? 1 : 0,
                paths: svg ? svg.querySelectorAll('path').length : 0,
                width: svg ? Math.round(svg.getBoundingClientRect().width) : 0,
            };
        }""",
        selector,
    )


def _texts(page: Any, selector: str) -> str:
    return page.evaluate(
        "(sel) => Array.from(document.querySelectorAll(sel + ' svg text'))"
        ".map(t => t.textContent).join('|')",
        selector,
    )


def test_the_charts_draw_as_svg_under_the_products_csp(site, browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    context.add_init_script(WATCH)
    page = context.new_page()
    console: list[str] = []
    errors: list[str] = []
    page.on("console", lambda m: console.append(f"{m.type}: {m.text}"))
    page.on("pageerror", lambda e: errors.append(str(e)))
    answer = page.goto(site)
    assert answer is not None and answer.ok
    assert answer.headers["content-security-policy"] == CONTENT_SECURITY_POLICY

    page.wait_for_selector("#bar svg")
    page.wait_for_selector("#pie svg")
    bar, pie = _svg_counts(page, "#bar"), _svg_counts(page, "#pie")
    assert bar["paths"] > 8, bar  # 8 bars, the axes, the legend's marks
    assert pie["paths"] >= 3, pie  # a sector each
    bar_text, pie_text = _texts(page, "#bar"), _texts(page, "#pie")
    for label in ("东风村", "红旗村", "青山社区", "柳河村", "饮水是否正常（按村）"):
        assert label in bar_text, bar_text
    for label in ("好", "一般", "差"):
        assert label in pie_text, pie_text
    assert page.get_attribute("#bar", "data-chart-state") == "drawn"

    # A tooltip is drawn in the SVG, not as an HTML box with an inline style.
    box = page.locator("#pie").bounding_box()
    assert box is not None
    page.mouse.move(box["x"] + box["width"] / 2 + 60, box["y"] + box["height"] / 2)
    page.wait_for_timeout(300)
    assert page.evaluate("document.querySelectorAll('#pie > div > div').length") == 0

    # A chart an htmx swap adds, and one a page draws itself.
    page.evaluate(
        """(option) => {
            const later = document.getElementById('later');
            later.innerHTML = '<div class="chart" id="swapped" data-chart="chart-later"></div>';
            const data = document.createElement('script');
            data.type = 'application/json';
            data.id = 'chart-later';
            data.textContent = JSON.stringify(option);
            later.appendChild(data);
            later.dispatchEvent(new CustomEvent('htmx:afterSwap', {
                bubbles: true, detail: {target: later}}));
        }""",
        LATER,
    )
    page.wait_for_selector("#swapped svg")
    assert "走访后新增" in _texts(page, "#swapped")
    drawn = page.evaluate("window.MinqingCharts.render(document.getElementById('bar')).length")
    assert drawn == 1
    assert page.evaluate("document.querySelectorAll('#bar svg').length") == 1  # not twice

    page.screenshot(path=str(SHOTS / "charts-1280.png"), full_page=True)
    page.set_viewport_size({"width": 360, "height": 740})
    page.wait_for_function(
        "() => document.querySelector('#bar svg').getBoundingClientRect().width <= 340"
    )
    assert _svg_counts(page, "#pie")["width"] <= 340
    page.screenshot(path=str(SHOTS / "charts-360.png"), full_page=True)

    assert page.evaluate("window.__csp") == []
    assert not [line for line in console if "Content Security Policy" in line], console
    assert not [line for line in console if line.startswith("error")], console
    assert errors == []

    # The watch itself works: an inline style attribute is a violation the page reports.
    page.evaluate("document.body.setAttribute('style', 'color: red')")
    page.wait_for_function("() => window.__csp.length > 0")
    assert "style-src" in page.evaluate("window.__csp[0]")
    context.close()


def test_the_option_is_made_safe_for_the_policy(site, browser):
    """Whatever the page's option says: no animation, tooltips drawn inside the SVG."""
    context = browser.new_context(viewport={"width": 800, "height": 600})
    page = context.new_page()
    page.goto(site)
    page.wait_for_selector("#bar svg")
    got = page.evaluate(
        """() => {
            const opt = echarts.getInstanceByDom(document.getElementById('bar')).getOption();
            return {animation: opt.animation, modes: opt.tooltip.map(t => t.renderMode)};
        }"""
    )
    assert got == {"animation": False, "modes": ["richText"]}
    context.close()


def test_a_missing_or_broken_option_is_marked_not_thrown(site, browser):
    context = browser.new_context(viewport={"width": 800, "height": 600})
    context.add_init_script(WATCH)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(site)
    page.wait_for_selector("#bar svg")
    states = page.evaluate(
        """() => {
            const later = document.getElementById('later');
            later.innerHTML = '<div class="chart" id="none" data-chart="nowhere"></div>'
                + '<div class="chart" id="bad" data-chart="bad-json"></div>'
                + '<script type="application/json" id="bad-json">{not json</' + 'script>';
            window.MinqingCharts.render(later);
            return [document.getElementById('none').dataset.chartState,
                    document.getElementById('bad').dataset.chartState];
        }"""
    )
    assert states == ["failed", "failed"]
    assert errors == []
    assert json.loads(page.evaluate("JSON.stringify(window.__csp)")) == []
    context.close()
