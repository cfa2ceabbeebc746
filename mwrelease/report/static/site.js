// The index page: draws the rows from the JSON in #index-data one page at a time (the index opens fast
// at any catalog size), with search and filters. No library, no network. A row is
// [name, kind, page slug, tested up to, cells]; a cell per core line is [recommended ref, shown state
// number, mask]: bit i of mask is set when some ref is in state i on that line, bit data.rec_bit when a
// ref is recommended there (site_render.index_data).
(function () {
  "use strict";
  var dataEl = document.getElementById("index-data");
  if (!dataEl) { return; }
  var data = JSON.parse(dataEl.textContent);
  var PAGE = 100;
  var REC = Math.pow(2, data.rec_bit), FAILED = data.states.indexOf("tested-failed");
  var rows = data.rows.map(function (r) {
    return {r: r, n: r[0].toLowerCase()};
  });
  var $ = function (id) { return document.getElementById(id); };
  var q = $("q"), line = $("line"), kind = $("kind"), state = $("state"), body = $("rows"),
      shown = $("shown"), empty = $("empty"), pager = $("pager"), pageLabel = $("page");
  var matching = rows, page = 0, pending = 0;

  // l: line index or -1; bit: the mask bit wanted (0: none)
  function matches(row, text, l, k, bit) {
    if (text && row.n.indexOf(text) < 0) { return false; }
    if (k && row.r[1] !== k) { return false; }
    if (!bit) { return true; }
    var cells = row.r[4];
    if (l >= 0) { return (cells[l][2] & bit) !== 0; }
    for (var i = 0; i < cells.length; i++) { if ((cells[i][2] & bit) !== 0) { return true; } }
    return false;
  }

  function cell(text, cls) {
    var td = document.createElement("td");
    td.textContent = text;  // text only: names and refs come from strangers
    if (cls) { td.className = cls; }
    return td;
  }

  function draw() {
    var pages = Math.max(1, Math.ceil(matching.length / PAGE));
    page = Math.min(page, pages - 1);
    var frag = document.createDocumentFragment();
    matching.slice(page * PAGE, (page + 1) * PAGE).forEach(function (row) {
      var r = row.r, tr = document.createElement("tr");
      var name = document.createElement("td"), a = document.createElement("a");
      name.className = "name";
      a.href = "ext/" + r[2] + ".html";
      a.textContent = r[0];
      name.appendChild(a);
      tr.appendChild(name);
      tr.appendChild(cell(r[1]));
      r[4].forEach(function (c) {
        if (c[1] < 0) { tr.appendChild(cell("—", "st")); return; }
        var td = cell(data.symbols[c[1]] + " " + (c[0] || "none"), "st st-" + data.states[c[1]]);
        td.title = data.labels[c[1]];
        if (c[1] !== FAILED && (c[2] & Math.pow(2, FAILED)) !== 0) {
          // the recommended ref is fine, but another ref's test failed on this line: say so
          var note = document.createElement("small");
          note.className = "also-failed";
          note.textContent = "another ref failed its tests";
          td.appendChild(note);
        }
        tr.appendChild(td);
      });
      tr.appendChild(cell(r[3] || "—", "upto"));
      frag.appendChild(tr);
    });
    body.replaceChildren(frag);
    shown.textContent = matching.length + " of " + rows.length;
    empty.hidden = matching.length > 0;
    pager.hidden = pages < 2;
    pageLabel.textContent = "page " + (page + 1) + " of " + pages;
    $("prev").disabled = page === 0;
    $("next").disabled = page >= pages - 1;
  }

  function apply() {
    pending = 0;
    var text = q.value.trim().toLowerCase(), l = line.value, k = kind.value, s = state.value;
    var li = data.lines.indexOf(l), si = data.states.indexOf(s);
    var bit = si >= 0 ? Math.pow(2, si) : (li >= 0 ? REC : 0);
    matching = rows.filter(function (row) { return matches(row, text, li, k, bit); });
    page = 0;
    draw();
    var params = new URLSearchParams();
    [["q", q.value.trim()], ["line", l], ["kind", k], ["state", s]].forEach(function (p) {
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
  $("prev").addEventListener("click", function () { page--; draw(); });
  $("next").addEventListener("click", function () { page++; draw(); });
  apply();
})();
