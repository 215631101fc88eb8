/* Progress of a background import (web/import_status.html): asks
   data-progress-url every second for {"state", "percent", "text"} and moves
   the bar; when the import is no longer running, reloads the page, which
   then shows the result or the bad rows. Without this file the page
   refreshes itself every two seconds (<noscript> meta refresh). */
(function () {
  "use strict";
  var box = document.querySelector(".import-status");
  if (!box || !window.fetch || box.dataset.state !== "running") { return; }
  var bar = box.querySelector(".import-progress");
  var text = box.querySelector(".import-progress-text");

  function poll() {
    fetch(box.dataset.progressUrl, {credentials: "same-origin", headers: {"Accept": "application/json"}})
      .then(function (answer) { return answer.ok ? answer.json() : null; })
      .then(function (data) {
        if (!data) { window.location.reload(); return; }
        if (data.state !== "running") { window.location.reload(); return; }
        if (bar) { bar.value = data.percent; bar.textContent = data.percent + "%"; }
        if (text) { text.textContent = data.text; }
        window.setTimeout(poll, 1000);
      })
      .catch(function () { window.setTimeout(poll, 3000); });
  }
  window.setTimeout(poll, 1000);
}());
