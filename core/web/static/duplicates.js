/* Likely duplicates while typing (web/form.html, a form view's
   "duplicates_url"): the values of the form's key inputs are sent to that
   address, which answers [{"id", "name", "owner", "merge_url"?}]; the hint
   above the form lists them as "NAME (owner OWNER)". Without this file the
   save is still refused with the same list. */
(function () {
  "use strict";
  var KEYS = ["name", "kind", "phone", "mobile", "email", "credit_code"];
  var hint = document.querySelector(".duplicates-hint");
  var form = document.querySelector("form.record-form");
  if (!hint || !form || !window.fetch) { return; }
  var timer, last = "";

  function query() {
    var params = new URLSearchParams();
    var any = false;
    KEYS.forEach(function (key) {
      var input = form.elements[key];
      var value = input && input.value ? input.value.trim() : "";
      if (value) { params.set(key, value); if (key !== "kind") { any = true; } }
    });
    if (hint.dataset.recordId) { params.set("id", hint.dataset.recordId); }
    return any ? params.toString() : "";
  }

  function show(items) {
    while (hint.firstChild) { hint.removeChild(hint.firstChild); }
    if (!items.length) { hint.hidden = true; return; }
    var title = document.createElement("strong");
    title.textContent = hint.dataset.title + " ";
    hint.appendChild(title);
    items.forEach(function (item, i) {
      if (i) { hint.appendChild(document.createTextNode("; ")); }
      hint.appendChild(document.createTextNode(item.name + " (" +
        (item.owner ? hint.dataset.owner + " " + item.owner : hint.dataset.pool) + ")"));
      if (item.merge_url) {
        var link = document.createElement("a");
        link.href = item.merge_url;
        link.textContent = hint.dataset.merge;
        hint.appendChild(document.createTextNode(" "));
        hint.appendChild(link);
      }
    });
    hint.hidden = false;
  }

  function check() {
    var q = query();
    if (q === last) { return; }
    last = q;
    if (!q) { show([]); return; }
    fetch(hint.dataset.url + "?" + q, {credentials: "same-origin", headers: {"Accept": "application/json"}})
      .then(function (r) { return r.ok ? r.json() : []; })
      .then(function (items) { if (q === last) { show(items); } })
      .catch(function () {});
  }

  function later() { clearTimeout(timer); timer = setTimeout(check, 400); }
  KEYS.forEach(function (key) {
    var input = form.elements[key];
    if (input && input.addEventListener) {
      input.addEventListener("input", later);
      input.addEventListener("change", later);
    }
  });
  check();
}());
