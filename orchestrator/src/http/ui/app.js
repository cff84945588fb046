// Deckle's web UI: live run pages. Served from 'self' (the pages' CSP allows no inline script).
(function () {
  "use strict";
  var page = document.body;
  var run = page.getAttribute("data-run");
  if (!run || !window.EventSource) { return; }
  var done = page.getAttribute("data-finished") === "true";
  if (done) { return; }
  var src = new EventSource("/ui/runs/" + encodeURIComponent(run) + "/events");
  src.onmessage = function (ev) {
    var d;
    try { d = JSON.parse(ev.data); } catch (e) { return; }
    (d.nodes || []).forEach(function (n) {
      document.querySelectorAll('[data-node="' + CSS.escape(n.key) + '"]').forEach(function (el) {
        // SVG and HTML elements alike: rewrite the class attribute.
        el.setAttribute("class", (el.getAttribute("class") || "").replace(/status-[a-z_]+/, "status-" + n.status));
      });
      document.querySelectorAll('[data-status-of="' + CSS.escape(n.key) + '"]').forEach(function (el) {
        el.textContent = n.status.replace("_", " ");
        el.className = "badge " + n.status;
      });
    });
    var badge = document.getElementById("run-status");
    if (badge && d.status) { badge.textContent = d.status; badge.className = "badge " + d.status; }
    if (d.finished) { src.close(); window.location.reload(); }
  };
})();
