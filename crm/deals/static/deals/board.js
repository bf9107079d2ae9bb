// The deal board and the stage editor: drag and drop with SortableJS when it is loaded. Without it
// (or without JavaScript) every card has a "Move" form and every stage has ↑ ↓ buttons.
(function () {
  "use strict";

  function showProblem(text) {
    var dialog = document.getElementById("dialog");
    if (!dialog) { window.alert(text); return; }
    var body = document.createElement("div");
    body.className = "dialog-body";
    var message = document.createElement("p");
    message.className = "errors";
    message.setAttribute("role", "alert");
    message.textContent = text;
    var actions = document.createElement("div");
    actions.className = "form-actions";
    var ok = document.createElement("button");
    ok.type = "button";
    ok.className = "btn";
    ok.setAttribute("data-close-dialog", "");
    ok.textContent = "OK";
    actions.appendChild(ok);
    body.appendChild(message);
    body.appendChild(actions);
    dialog.replaceChildren(body);
    if (!dialog.open) dialog.showModal();
    ok.focus();
  }

  // --- the board -------------------------------------------------------------------------------
  var board = document.querySelector("[data-board]");
  var pending = null; // the card being moved by a drag: where it came from, to put it back if refused
  var refocus = null; // after a move made from the dialog, focus returns to the card's "Move" button

  function say(text) {
    var box = document.getElementById("board-status");
    if (!box) return;
    box.textContent = "";
    window.setTimeout(function () { box.textContent = text; }, 30);
  }

  function revert() {
    if (!pending) return;
    var move = pending;
    pending = null;
    move.item.classList.remove("moving");
    if (move.next && move.next.parentNode === move.from) move.from.insertBefore(move.item, move.next);
    else move.from.appendChild(move.item);
  }

  function place(detail) {
    var card = document.getElementById("deal-" + detail.deal);
    var list = document.getElementById("cards-" + detail.stage);
    if (!card) return;
    card.classList.remove("moving");
    if (!list) { card.remove(); return; } // moved to a stage of another pipeline
    var after = detail.after ? document.getElementById("deal-" + detail.after) : null;
    if (after && after.parentNode === list) {
      if (after.nextElementSibling !== card) list.insertBefore(card, after.nextElementSibling);
    } else if (!detail.after) {
      if (list.firstElementChild !== card) list.insertBefore(card, list.firstElementChild);
    } else if (card.parentNode !== list) {
      list.appendChild(card); // below cards that are not loaded yet
    }
    var title = document.getElementById("stage-title-" + detail.stage);
    if (title) say(title.textContent);
  }

  function filterValues() {
    var values = {};
    var form = document.getElementById("board-filters");
    if (!form) return values;
    var q = form.querySelector("[name=q]");
    var mine = form.querySelector("[name=mine]");
    if (q && q.value) values.q = q.value;
    if (mine && mine.checked) values.mine = "1";
    return values;
  }

  function dropped(event) {
    var item = event.item;
    if (event.from === event.to && event.oldIndex === event.newIndex) { pending = null; return; }
    var above = item.previousElementSibling;
    while (above && !above.classList.contains("deal-card")) above = above.previousElementSibling;
    var values = filterValues();
    values.stage = event.to.getAttribute("data-stage");
    values.after = above ? above.getAttribute("data-deal") : "";
    values.via = "drag";
    item.classList.add("moving");
    var url = board.getAttribute("data-move-url").replace(/0\/$/, item.getAttribute("data-deal") + "/");
    window.htmx.ajax("POST", url, {source: item, target: "#dialog", swap: "innerHTML", values: values});
  }

  if (board && window.Sortable && window.htmx) {
    board.querySelectorAll(".board-cards").forEach(function (list) {
      window.Sortable.create(list, {
        group: board.getAttribute("data-group"),
        draggable: ".deal-card:not(.locked)",
        filter: ".card-move",
        preventOnFilter: false,
        forceFallback: true, // the same mouse and touch handling in every browser, no link "ghost" images
        fallbackTolerance: 4,
        delay: 180,
        delayOnTouchOnly: true, // a finger scrolls the board; a press and hold picks a card up
        animation: 150,
        scroll: true,
        bubbleScroll: true,
        onStart: function (event) {
          pending = {item: event.item, from: event.from, next: event.item.nextElementSibling};
        },
        onEnd: dropped
      });
    });
  }

  if (board) {
    document.addEventListener("deals:moved", function (event) {
      var fromDialog = event.target && event.target.closest && event.target.closest("#dialog");
      place(event.detail);
      pending = null;
      if (fromDialog) refocus = event.detail.deal;
    });
    document.addEventListener("deals:refused", function () { revert(); });
    document.addEventListener("htmx:afterSettle", function () {
      if (refocus === null) return;
      var dialog = document.getElementById("dialog");
      if (dialog && dialog.open) return;
      var button = document.querySelector("#deal-" + refocus + " .card-move");
      refocus = null;
      if (button) button.focus();
    });
    var failed = function (event) {
      if (!pending || event.detail.elt !== pending.item) return;
      revert();
      var box = document.getElementById("board-status");
      showProblem(box ? box.getAttribute("data-failed") : "Error");
    };
    document.addEventListener("htmx:responseError", failed);
    document.addEventListener("htmx:sendError", failed);
    document.addEventListener("keydown", function (event) {
      // Escape inside the card-fields menu closes it, like any other menu.
      if (event.key !== "Escape") return;
      var open = document.querySelector(".card-fields[open]");
      if (open) { open.removeAttribute("open"); open.querySelector("summary").focus(); }
    });
    document.addEventListener("click", function (event) {
      var open = document.querySelector(".card-fields[open]");
      if (open && !open.contains(event.target)) open.removeAttribute("open");
    });
  }

  // --- the stage editor (Settings → Pipelines) -------------------------------------------------
  var stages = document.querySelector("[data-stage-order]");

  // The page no longer shows the saved order: say so, then show the order as it is.
  function reloadAfter(text) {
    showProblem(text);
    var dialog = document.getElementById("dialog");
    if (dialog) dialog.addEventListener("close", function () { window.location.reload(); }, {once: true});
  }

  function refreshOrderButtons() {
    var rows = stages.querySelectorAll(".stage-row");
    rows.forEach(function (row, index) {
      var up = row.querySelector("button[value=up]");
      var down = row.querySelector("button[value=down]");
      if (up) up.disabled = index === 0;
      if (down) down.disabled = index === rows.length - 1;
    });
  }

  if (stages) {
    // A row's "Save" becomes the main button once something in that row changed.
    stages.addEventListener("input", function (event) {
      var form = event.target.closest(".stage-form");
      if (form) form.classList.add("changed");
    });
  }

  if (stages && window.Sortable) {
    window.Sortable.create(stages, {
      handle: ".drag-handle",
      draggable: ".stage-row",
      animation: 150,
      forceFallback: true,
      onEnd: function (event) {
        if (event.oldIndex === event.newIndex) return;
        var body = new URLSearchParams();
        stages.querySelectorAll(".stage-row").forEach(function (row) { body.append("stage", row.getAttribute("data-stage")); });
        var token = document.querySelector("input[name=csrfmiddlewaretoken]");
        fetch(stages.getAttribute("data-stage-order"), {
          method: "POST", body: body, credentials: "same-origin",
          headers: {"X-CSRFToken": token ? token.value : "", "HX-Request": "true"}
        }).then(function (response) {
          if (response.ok) { refreshOrderButtons(); return; }
          return response.text().then(function (text) { reloadAfter(text || stages.getAttribute("data-failed")); });
        }).catch(function () {
          reloadAfter(stages.getAttribute("data-failed"));
        });
      }
    });
  }
})();
