/* The record form, enhanced (web/form.html). Without this file the form
   still works: a many2one's name is resolved by the server, a blank line is
   always there to fill. With it: type-ahead search of a many2one through
   /web/MODEL/_names, "add a line" for one2many tables, and deleted lines
   greyed out. */
(function () {
  "use strict";
  document.documentElement.classList.add("has-js");

  function debounce(fn, ms) {
    var timer;
    return function () {
      var args = arguments, self = this;
      clearTimeout(timer);
      timer = setTimeout(function () { fn.apply(self, args); }, ms);
    };
  }

  function typeAhead(box) {
    var idInput = box.form.elements[box.dataset.idInput];
    var menu = document.createElement("ul");
    menu.className = "m2o-menu";
    menu.setAttribute("role", "listbox");
    menu.hidden = true;
    box.setAttribute("role", "combobox");
    box.setAttribute("aria-autocomplete", "list");
    box.setAttribute("aria-expanded", "false");
    box.parentNode.appendChild(menu);
    var active = -1;

    function close() {
      menu.hidden = true;
      active = -1;
      box.setAttribute("aria-expanded", "false");
    }

    function choose(item) {
      idInput.value = item.dataset.id;
      box.value = item.textContent;
      close();
    }

    function highlight(index) {
      var items = menu.children;
      if (!items.length) { return; }
      active = (index + items.length) % items.length;
      for (var i = 0; i < items.length; i++) {
        items[i].setAttribute("aria-selected", i === active ? "true" : "false");
      }
    }

    var search = debounce(function () {
      var url = box.dataset.namesUrl + "?q=" + encodeURIComponent(box.value.trim());
      fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (answer) { return answer.ok ? answer.json() : []; })
        .then(function (rows) {
          menu.textContent = "";
          rows.forEach(function (row) {
            var item = document.createElement("li");
            item.setAttribute("role", "option");
            item.dataset.id = row.id;
            item.textContent = row.name;
            item.addEventListener("mousedown", function (event) {
              event.preventDefault();
              choose(item);
            });
            menu.appendChild(item);
          });
          menu.hidden = !rows.length;
          box.setAttribute("aria-expanded", rows.length ? "true" : "false");
          active = -1;
        })
        .catch(close);
    }, 200);

    box.addEventListener("input", function () {
      if (!box.value.trim()) { idInput.value = ""; }
      search();
    });
    box.addEventListener("focus", search);
    box.addEventListener("blur", close);
    box.addEventListener("keydown", function (event) {
      if (menu.hidden) { return; }
      if (event.key === "ArrowDown") { highlight(active + 1); event.preventDefault(); }
      else if (event.key === "ArrowUp") { highlight(active - 1); event.preventDefault(); }
      else if (event.key === "Enter" && active >= 0) { choose(menu.children[active]); event.preventDefault(); }
      else if (event.key === "Escape") { close(); }
    });
  }

  function addLine(button) {
    var name = button.dataset.addLine;
    var template = document.getElementById("tpl-" + name);
    var body = document.querySelector("#lines-" + CSS.escape(name) + " tbody");
    if (!template || !body) { return; }
    var index = parseInt(button.dataset.next, 10) || 0;
    button.dataset.next = String(index + 1);
    var html = template.innerHTML.split("__index__").join(String(index));
    var holder = document.createElement("tbody");
    holder.innerHTML = html;
    var row = holder.firstElementChild;
    body.appendChild(row);
    var first = row.querySelector("input:not([type=hidden]), select, textarea");
    if (first) { first.focus(); }
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("input[data-names-url]").forEach(typeAhead);
    document.querySelectorAll("[data-add-line]").forEach(function (button) {
      button.addEventListener("click", function () { addLine(button); });
    });
    document.addEventListener("change", function (event) {
      var box = event.target;
      if (box.type === "checkbox" && /-_delete$/.test(box.name)) {
        box.closest("tr").classList.toggle("is-deleted", box.checked);
      }
    });
  });
})();
