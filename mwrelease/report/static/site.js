// Search and filters of the index page (no library, no network). Each row carries
// data-n (lower-case name), data-k (kind) and data-f (space-separated LINE:STATE tokens, and
// LINE:rec where a ref is recommended on LINE; see ExtensionSummary.filter_tokens).
(function () {
  "use strict";
  var table = document.getElementById("index");
  if (!table) { return; }
  var rows = Array.prototype.slice.call(table.tBodies[0].rows);
  var q = document.getElementById("q"), line = document.getElementById("line"),
      kind = document.getElementById("kind"), state = document.getElementById("state"),
      shown = document.getElementById("shown"), empty = document.getElementById("empty");
  var pending = 0;

  function matches(row, text, l, k, s) {
    if (text && row.dataset.n.indexOf(text) < 0) { return false; }
    if (k && row.dataset.k !== k) { return false; }
    var f = " " + row.dataset.f + " ";
    if (l && s) { return f.indexOf(" " + l + ":" + s + " ") >= 0; }
    if (l) { return f.indexOf(" " + l + ":rec ") >= 0; }
    if (s) { return f.indexOf(":" + s + " ") >= 0; }
    return true;
  }

  function apply() {
    pending = 0;
    var text = q.value.trim().toLowerCase(), n = 0;
    for (var i = 0; i < rows.length; i++) {
      var ok = matches(rows[i], text, line.value, kind.value, state.value);
      if (rows[i].hidden === ok) { rows[i].hidden = !ok; }
      if (ok) { n++; }
    }
    shown.textContent = n + " of " + rows.length;
    empty.hidden = n > 0;
    var params = new URLSearchParams();
    [["q", q.value.trim()], ["line", line.value], ["kind", kind.value], ["state", state.value]].forEach(function (p) {
      if (p[1]) { params.set(p[0], p[1]); }
    });
    var hash = params.toString();
    if (("#" + hash) !== location.hash && (hash || location.hash)) {
      history.replaceState(null, "", hash ? "#" + hash : location.pathname + location.search);
    }
  }

  function schedule() {
    if (!pending) { pending = window.requestAnimationFrame(apply); }
  }

  // Filters survive a reload and can be linked to: index.html#line=1.43&state=tested-failed
  var initial = new URLSearchParams(location.hash.slice(1));
  q.value = initial.get("q") || "";
  [[line, "line"], [kind, "kind"], [state, "state"]].forEach(function (p) { p[0].value = initial.get(p[1]) || ""; });
  [q, line, kind, state].forEach(function (el) {
    el.addEventListener("input", schedule);
    el.addEventListener("change", schedule);
  });
  if (location.hash.length > 1) { apply(); }
})();
