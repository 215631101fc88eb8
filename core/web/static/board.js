/* Kanban drag and drop (core/web/boards/, web/kanban.html).
 *
 * A card dropped on another column posts `to=VALUE` to
 * /web/MODEL/ID/move (CSRF token from <meta name="csrf-token">, sent as
 * X-CSRFToken) and asks for JSON. Accepted: the card stays, counts and sums
 * move with it. Held for approval or refused: the card snaps back to its
 * column and the server's message shows in .board-message. Without
 * JavaScript each card's small form posts to the same address.
 */
(function () {
  "use strict";
  var board = document.querySelector(".kanban");
  if (!board) { return; }
  var model = board.getAttribute("data-model");
  var tokenTag = document.querySelector('meta[name="csrf-token"]');
  var token = tokenTag ? tokenTag.getAttribute("content") : "";
  var message = document.querySelector(".board-message");
  var dragged = null;
  var number = new Intl.NumberFormat(document.documentElement.lang || undefined,
    {minimumFractionDigits: 2, maximumFractionDigits: 2});

  function say(text, ok) {
    message.textContent = text;
    message.classList.toggle("hidden", !text);
    message.classList.toggle("ok", !!ok);
  }

  function cardsOf(column) { return column.querySelector(".kanban-cards"); }

  function adjust(column, card, sign) {
    var count = column.querySelector(".kanban-count");
    if (count) { count.textContent = String(parseInt(count.textContent, 10) + sign); }
    var sum = column.querySelector(".kanban-sum");
    var amount = parseFloat(card.getAttribute("data-measure") || "0");
    if (sum && amount) {
      var total = parseFloat(sum.getAttribute("data-total")) || 0;
      total += sign * amount;
      sum.setAttribute("data-total", String(total));
      sum.textContent = number.format(total);
    }
  }

  /* The card's move form offers where it may go now: the server's list
   * after a transition, else every other column. */
  function retarget(card, column, targets) {
    var select = card.querySelector(".kanban-move select");
    if (!select) { return; }
    if (!targets) {
      targets = [];
      board.querySelectorAll(".kanban-column").forEach(function (c) {
        if (c !== column) {
          targets.push([c.getAttribute("data-value"), c.querySelector("h2").textContent]);
        }
      });
    }
    select.textContent = "";
    targets.forEach(function (t) {
      var option = document.createElement("option");
      option.value = t[0];
      option.textContent = t[1];
      select.appendChild(option);
    });
    card.querySelector(".kanban-move").classList.toggle("hidden", targets.length === 0);
  }

  function move(card, from, to) {
    var id = card.getAttribute("data-id");
    var body = new URLSearchParams();
    body.set("to", to.getAttribute("data-value"));
    cardsOf(to).appendChild(card);
    card.classList.add("busy");
    say("");
    fetch("/web/" + encodeURIComponent(model) + "/" + id + "/move", {
      method: "POST", credentials: "same-origin", body: body,
      headers: {"Accept": "application/json", "X-CSRFToken": token}
    }).then(function (response) {
      return response.json().catch(function () {  // not JSON: signed out, CSRF token expired…
        return {ok: false, message: message.getAttribute("data-failed")};
      })
        .then(function (answer) { return {status: response.status, answer: answer}; });
    }).then(function (result) {
      card.classList.remove("busy");
      if (result.status === 200 && result.answer.ok) {
        adjust(from, card, -1);
        adjust(to, card, 1);
        retarget(card, to, result.answer.targets);
        say(result.answer.message, true);
      } else {
        cardsOf(from).appendChild(card);  // snaps back: held for approval or refused
        say(result.answer.message || String(result.status), result.status === 202);
      }
    }).catch(function () {
      card.classList.remove("busy");
      cardsOf(from).appendChild(card);
      say(message.getAttribute("data-offline"));
    });
  }

  board.addEventListener("dragstart", function (event) {
    var card = event.target.closest && event.target.closest(".kanban-card");
    if (!card) { return; }
    dragged = card;
    card.classList.add("dragging");
    event.dataTransfer.effectAllowed = "move";
    event.dataTransfer.setData("text/plain", card.getAttribute("data-id"));
  });
  board.addEventListener("dragend", function () {
    if (dragged) { dragged.classList.remove("dragging"); }
    dragged = null;
    board.querySelectorAll(".drop-target").forEach(function (c) { c.classList.remove("drop-target"); });
  });
  board.addEventListener("dragover", function (event) {
    var column = event.target.closest && event.target.closest(".kanban-column");
    if (!column || !dragged) { return; }
    event.preventDefault();
    event.dataTransfer.dropEffect = "move";
    board.querySelectorAll(".drop-target").forEach(function (c) {
      if (c !== column) { c.classList.remove("drop-target"); }
    });
    column.classList.add("drop-target");
  });
  board.addEventListener("drop", function (event) {
    var column = event.target.closest && event.target.closest(".kanban-column");
    if (!column || !dragged) { return; }
    event.preventDefault();
    column.classList.remove("drop-target");
    var from = dragged.closest(".kanban-column");
    if (from !== column) { move(dragged, from, column); }
  });
}());
