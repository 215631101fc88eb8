/* Keel web UI: small progressive enhancements. Every page works without
   this file; it only saves clicks. No inline script (strict CSP). */
(function () {
  "use strict";

  // list view: a "select all" box, and a click anywhere on a row opens it
  function enhanceLists() {
    document.querySelectorAll("table.list").forEach(function (table) {
      var all = table.querySelector("input.select-all");
      var boxes = table.querySelectorAll("tbody input[name=ids]");
      if (all && boxes.length) {
        all.hidden = false;
        all.addEventListener("change", function () {
          boxes.forEach(function (box) { box.checked = all.checked; });
        });
      }
      table.querySelectorAll("tbody tr[data-href]").forEach(function (row) {
        row.classList.add("clickable");
        row.addEventListener("click", function (event) {
          if (event.target.closest("a, input, button, label, select")) { return; }
          window.location.href = row.getAttribute("data-href");
        });
      });
    });
  }

  // the user menu closes when clicking elsewhere
  function closeMenus() {
    document.addEventListener("click", function (event) {
      document.querySelectorAll("details.usermenu[open]").forEach(function (menu) {
        if (!menu.contains(event.target)) { menu.removeAttribute("open"); }
      });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    enhanceLists();
    closeMenus();
  });
}());
