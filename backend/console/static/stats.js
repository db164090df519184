/* The statistics pages' charts: each element with data-chart="NAME" is drawn with ECharts from the entry NAME of
   the JSON in #stats-charts (written by the server; see dashboard_charts in backend/console/views/stats.py).
   An entry: {kind: "bar" | "line" | "spark", labels: [...], series: [{name, values, type?, percent?}],
   horizontal?, percent?}. The tables beneath each chart hold the same numbers, so a page without this script
   loses nothing but the pictures. */
(function () {
  "use strict";

  var source = document.getElementById("stats-charts");
  var missing = document.querySelector('[data-testid="charts-missing"]');
  if (!source) return;
  if (!window.echarts) {
    if (missing) missing.hidden = false;
    return;
  }
  var specs = JSON.parse(source.textContent);
  var COLORS = ["#14506e", "#e07b39", "#3a9d5d", "#b3261e", "#7a5cb8", "#c9a227"];

  function percentAxis(position) {
    return {
      type: "value", min: 0, max: 100, position: position,
      axisLabel: { formatter: "{value}%" }, splitLine: { show: position !== "right" }
    };
  }

  function valueAxis(spec) {
    return spec.percent ? percentAxis("left") : { type: "value", minInterval: 1 };
  }

  function categoryAxis(spec) {
    return {
      type: "category", data: spec.labels, inverse: !!spec.horizontal,
      axisLabel: spec.horizontal ? { width: 150, overflow: "truncate" } : { interval: "auto", hideOverlap: true }
    };
  }

  function series(spec, twoAxes) {
    return spec.series.map(function (s) {
      var type = s.type || (spec.kind === "bar" ? "bar" : "line");
      var item = { name: s.name, type: type, data: s.values, connectNulls: true };
      if (type === "bar") item.barMaxWidth = 28;
      if (twoAxes && s.percent) item.yAxisIndex = 1;
      if (spec.percent || s.percent) item.tooltip = { valueFormatter: function (v) { return v == null ? "—" : v + "%"; } };
      return item;
    });
  }

  function sparkOption(spec) {
    return {
      animation: false,
      grid: { left: 2, right: 2, top: 4, bottom: 4 },
      tooltip: { trigger: "axis", confine: true },
      xAxis: { type: "category", data: spec.labels, show: false, boundaryGap: false },
      yAxis: { type: "value", show: false, min: 0 },
      series: [{
        type: "line", data: spec.series[0].values, symbol: "circle", symbolSize: 4,
        lineStyle: { width: 2, color: COLORS[0] }, itemStyle: { color: COLORS[0] },
        areaStyle: { color: "rgba(20, 80, 110, 0.12)" }
      }]
    };
  }

  function option(spec) {
    if (spec.kind === "spark") return sparkOption(spec);
    var twoAxes = !spec.percent && spec.series.some(function (s) { return s.percent; });
    var values = twoAxes ? [valueAxis(spec), percentAxis("right")] : valueAxis(spec);
    var labels = categoryAxis(spec);
    return {
      animation: false,
      color: COLORS,
      tooltip: { trigger: "axis", confine: true },
      legend: { show: spec.series.length > 1, top: 0 },
      grid: { left: 8, right: 16, top: spec.series.length > 1 ? 32 : 12, bottom: 8, containLabel: true },
      xAxis: spec.horizontal ? values : labels,
      yAxis: spec.horizontal ? labels : values,
      series: series(spec, twoAxes)
    };
  }

  var charts = [];
  document.querySelectorAll("[data-chart]").forEach(function (element) {
    var spec = specs[element.getAttribute("data-chart")];
    if (!spec) return;
    // SVG: sharp on paper, and the monthly report is meant to be printed.
    var chart = window.echarts.init(element, null, { renderer: "svg" });
    chart.setOption(option(spec));
    element.setAttribute("data-drawn", "1");
    charts.push(chart);
  });

  function resize() { charts.forEach(function (chart) { chart.resize(); }); }
  window.addEventListener("resize", resize);
  window.addEventListener("beforeprint", resize);
  window.addEventListener("afterprint", resize);
  document.querySelectorAll("[data-print]").forEach(function (button) {
    button.addEventListener("click", function () { window.print(); });
  });
})();
