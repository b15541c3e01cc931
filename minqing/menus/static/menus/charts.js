/* Minqing charts: Apache ECharts (vendor/echarts/echarts.common.min.js, loaded before this file)
 * draws each element marked data-chart="ID", where ID names a <script type="application/json">
 * holding the ECharts option (Django's json_script). The page prints the numbers in a plain
 * <table> after each chart; the chart is a picture of that table.
 *
 *   <div class="chart" data-chart="chart-water"></div>
 *   {{ option|json_script:"chart-water" }}
 *
 * Under the app's Content-Security-Policy (script-src 'self'; style-src 'self'): the SVG
 * renderer, no animation, and tooltips drawn inside the SVG (renderMode "richText") rather
 * than as HTML boxes, whose inline style attributes the policy refuses.
 *
 * Charts are drawn on DOMContentLoaded and after each htmx swap (in the swapped part);
 * window.MinqingCharts.render(el) draws the charts in el (el itself, or those inside it) for
 * pages that add charts otherwise. They follow the window's size.
 */
(function () {
  "use strict";
  var FALLBACK_HEIGHT = "320px"; // when the page's stylesheet gives the element no height
  var drawn = []; // the chart instances on the page
  var resizeTimer = null;

  function optionOf(el) {
    var id = el.getAttribute("data-chart");
    var node = id ? document.getElementById(id) : null;
    if (!node) {
      return null;
    }
    try {
      return JSON.parse(node.textContent);
    } catch (err) {
      return null;
    }
  }

  function safeOption(option) {
    option.animation = false;
    // HTML tooltips are absolutely placed boxes with inline styles: draw them in the SVG.
    var tips = option.tooltip;
    if (Object.prototype.toString.call(tips) === "[object Array]") {
      for (var i = 0; i < tips.length; i++) {
        if (tips[i] && typeof tips[i] === "object") {
          tips[i].renderMode = "richText";
        }
      }
    } else if (tips && typeof tips === "object") {
      tips.renderMode = "richText";
    } else if (tips !== undefined && tips !== null && tips !== false) {
      option.tooltip = { renderMode: "richText" };
    }
    return option;
  }

  function prune() {
    var kept = [];
    for (var i = 0; i < drawn.length; i++) {
      var chart = drawn[i];
      if (chart.isDisposed()) {
        continue;
      }
      if (document.documentElement.contains(chart.getDom())) {
        kept.push(chart);
      } else {
        chart.dispose(); // swapped out by htmx or removed by the page
      }
    }
    drawn = kept;
  }

  function drawOne(el) {
    var echarts = window.echarts;
    var option = optionOf(el);
    if (!echarts || !option || typeof option !== "object") {
      el.setAttribute("data-chart-state", "failed");
      return null;
    }
    if (!el.clientHeight) {
      el.style.height = FALLBACK_HEIGHT; // CSSOM, which the policy allows
    }
    var chart = echarts.getInstanceByDom(el);
    if (!chart) {
      chart = echarts.init(el, null, { renderer: "svg" });
      drawn.push(chart);
    }
    chart.setOption(safeOption(option), true);
    el.setAttribute("data-chart-state", "drawn");
    return chart;
  }

  /* Draws the charts in root: root itself when it is one, and every [data-chart] inside it.
   * Returns the chart instances drawn. */
  function render(root) {
    root = root || document;
    var charts = [];
    var els = [];
    if (root.nodeType === 1 && root.hasAttribute("data-chart")) {
      els.push(root);
    }
    if (root.querySelectorAll) {
      var inside = root.querySelectorAll("[data-chart]");
      for (var i = 0; i < inside.length; i++) {
        els.push(inside[i]);
      }
    }
    prune();
    for (var j = 0; j < els.length; j++) {
      var chart = drawOne(els[j]);
      if (chart) {
        charts.push(chart);
      }
    }
    return charts;
  }

  function resizeAll() {
    resizeTimer = null;
    prune();
    for (var i = 0; i < drawn.length; i++) {
      drawn[i].resize();
    }
  }

  window.addEventListener("resize", function () {
    if (resizeTimer === null) {
      resizeTimer = window.setTimeout(resizeAll, 100);
    }
  });
  document.addEventListener("htmx:afterSwap", function (event) {
    var target = (event.detail && event.detail.target) || event.target;
    // An outerHTML swap leaves the old target out of the page: look at the whole page then.
    render(target && document.documentElement.contains(target) ? target : document);
  });

  window.MinqingCharts = { render: render, resize: resizeAll };

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", function () {
      render(document);
    });
  } else {
    render(document);
  }
})();
