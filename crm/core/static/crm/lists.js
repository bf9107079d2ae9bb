// Lists of records: the bulk bar follows the selection, "select all on this page", small forms that
// submit on change, confirmations, the filter builder's rows. The pages work without this file.
(function () {
  "use strict";

  function bulkForms() { return document.querySelectorAll("[data-bulk-form]"); }

  function refreshBulk(form) {
    form.classList.add("js-bulk");
    var boxes = form.querySelectorAll("input[name=ids]");
    var checked = form.querySelectorAll("input[name=ids]:checked").length;
    var bar = form.querySelector("[data-bulk-bar]");
    if (bar) bar.classList.toggle("active", checked > 0);
    var count = form.querySelector("[data-bulk-count] strong");
    if (count) count.textContent = String(checked);
    var all = form.querySelector("[data-select-all]");
    if (all) {
      all.checked = boxes.length > 0 && checked === boxes.length;
      all.indeterminate = checked > 0 && checked < boxes.length;
    }
  }

  function refreshAll() { bulkForms().forEach(refreshBulk); }

  function syncRelativeDates(root) {
    (root || document).querySelectorAll("[data-relative]").forEach(function (select) {
      var date = select.parentNode.querySelector("input[type=date]");
      if (date) date.hidden = select.value !== "";
    });
  }

  document.addEventListener("change", function (event) {
    var target = event.target;
    if (target.matches("[data-select-all]")) {
      var form = target.closest("form");
      form.querySelectorAll("input[name=ids]").forEach(function (box) { box.checked = target.checked; });
      refreshBulk(form);
    } else if (target.matches("input[name=ids]")) {
      refreshBulk(target.closest("form"));
    } else if (target.matches("[data-autosubmit]")) {
      target.form.requestSubmit();
    } else if (target.matches("[data-relative]")) {
      syncRelativeDates(target.parentNode);
    }
  });

  document.addEventListener("click", function (event) {
    var asking = event.target.closest("[data-confirm]");
    if (asking && !window.confirm(asking.getAttribute("data-confirm"))) {
      event.preventDefault();
      return;
    }
    var remove = event.target.closest("[data-remove-cond]");
    if (remove) {
      remove.closest(".cond").remove();
    }
  });

  // Escape closes an open drop-down panel; a click outside it too.
  document.addEventListener("keydown", function (event) {
    if (event.key !== "Escape") return;
    document.querySelectorAll("details.menu[open]").forEach(function (menu) {
      menu.removeAttribute("open");
      var summary = menu.querySelector("summary");
      if (summary && menu.contains(document.activeElement)) summary.focus();
    });
  });
  document.addEventListener("click", function (event) {
    document.querySelectorAll("details.menu[open]").forEach(function (menu) {
      if (!menu.contains(event.target) && !event.target.closest(".lookup-results")) menu.removeAttribute("open");
    });
  });

  document.addEventListener("DOMContentLoaded", function () { refreshAll(); syncRelativeDates(); });
  document.addEventListener("htmx:afterSettle", function () { refreshAll(); syncRelativeDates(); });
  if (document.readyState !== "loading") { refreshAll(); syncRelativeDates(); }
})();
