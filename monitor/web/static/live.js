// newsmon: live refresh of the Stories table. Reads the same JSON API as anyone
// (GET /api/stories with the page's filters), asks with If-None-Match so an
// unchanged list costs one index read and a 304, and builds rows with
// textContent only: feed text never becomes markup.
(function () {
  "use strict";
  var EVERY = 5000;
  var SEVERITIES = ["low", "medium", "high", "critical"];
  var table = document.getElementById("stories");
  var toggle = document.getElementById("live");
  if (!table || !toggle) { return; }
  var url = table.getAttribute("data-live");
  var etag = null;
  var timer = null;

  function shown(iso) {
    if (!iso) { return "-"; }
    return iso.replace("T", " ").replace(/\.\d+/, "").replace("Z", " UTC");
  }

  function cell(row, text, cls) {
    var td = document.createElement("td");
    if (cls) { td.className = cls; }
    if (text !== null) { td.textContent = text; }
    row.appendChild(td);
    return td;
  }

  function render(data) {
    var body = document.createElement("tbody");
    data.stories.forEach(function (s) {
      var tr = document.createElement("tr");
      tr.setAttribute("data-story", s.story_id);
      var badge = document.createElement("span");
      var sev = SEVERITIES.indexOf(s.severity) >= 0 ? s.severity : "unknown";
      badge.className = "badge sev-" + sev;
      badge.textContent = s.severity;
      cell(tr, null).appendChild(badge);
      var story = cell(tr, null);
      var a = document.createElement("a");
      a.className = "title";
      a.href = "/stories/" + encodeURIComponent(s.story_id);
      a.textContent = s.title;
      story.appendChild(a);
      var source = document.createElement("div");
      source.className = "sub";
      source.textContent = s.source;
      story.appendChild(source);
      cell(tr, s.rules.join(", "));
      cell(tr, String(s.outlet_count), "num");
      cell(tr, String(s.members), "num");
      cell(tr, shown(s.first_seen), "t");
      cell(tr, shown(s.updated), "t");
      body.appendChild(tr);
    });
    if (!data.stories.length) {
      var empty = document.createElement("tr");
      empty.className = "empty";
      cell(empty, "No story matches.").setAttribute("colspan", "7");
      body.appendChild(empty);
    }
    table.replaceChild(body, table.tBodies[0]);
    document.getElementById("count").textContent = String(data.total);
  }

  function refresh() {
    if (document.hidden || !toggle.checked) { return schedule(); }
    var headers = { "Accept": "application/json" };
    if (etag) { headers["If-None-Match"] = etag; }
    fetch(url, { headers: headers, credentials: "same-origin", cache: "no-store" })
      .then(function (resp) {
        if (resp.status === 304) { return null; }
        if (!resp.ok) { throw new Error("HTTP " + resp.status); }
        etag = resp.headers.get("ETag");
        return resp.json();
      })
      .then(function (data) {
        if (data) { render(data); }
        document.getElementById("refreshed").textContent =
          "checked " + new Date().toLocaleTimeString();
      })
      .catch(function (err) {
        document.getElementById("refreshed").textContent = "live refresh failed: " + err.message;
      })
      .then(schedule);
  }

  function schedule() {
    clearTimeout(timer);
    timer = setTimeout(refresh, EVERY);
  }

  toggle.addEventListener("change", function () { if (toggle.checked) { refresh(); } });
  schedule();
}());
