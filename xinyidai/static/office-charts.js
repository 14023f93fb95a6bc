/* Draws every chart of an office page from its data-figure attribute (a Plotly figure built on the
   server). The same numbers are in the table under the charts, so the page reads without JavaScript. */
(function () {
  "use strict";

  function draw() {
    if (typeof window.Plotly === "undefined") {
      return;
    }
    var plots = document.querySelectorAll(".office-chart__plot[data-figure]");
    Array.prototype.forEach.call(plots, function (element) {
      var figure = JSON.parse(element.getAttribute("data-figure"));
      window.Plotly.newPlot(element, figure.data, figure.layout, {
        responsive: true,
        displaylogo: false,
        modeBarButtonsToRemove: ["select2d", "lasso2d", "autoScale2d"],
      }).then(function () {
        element.setAttribute("data-drawn", "true");
      });
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", draw);
  } else {
    draw();
  }
})();
