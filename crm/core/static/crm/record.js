// Record pages: click a field to edit its section, Escape to cancel, focus follows the swapped form.
// Everything here is a shortcut: the Edit buttons and forms work without it.
(function () {
  "use strict";
  var wantedField = null;

  document.addEventListener("click", function (event) {
    var target = event.target;
    if (target.closest("a, button, input, select, textarea, label")) return;
    var field = target.closest("[data-edit-field]");
    if (!field) return;
    var section = field.closest(".record-section");
    var button = section && section.querySelector(".edit-btn");
    if (!button) return;
    wantedField = field.getAttribute("data-edit-field");
    button.click();
  });

  document.addEventListener("keydown", function (event) {
    if (event.key !== "Escape") return;
    var form = event.target.closest && event.target.closest("[data-section-form]");
    if (!form) return;
    var cancel = form.querySelector("[data-cancel]");
    if (cancel) { event.preventDefault(); cancel.click(); }
  });

  function focusIn(container, name) {
    var input = null;
    if (name) {
      var custom = name.indexOf("custom.") === 0 ? "custom__" + name.slice(7) : name;
      var hidden = container.querySelector('[name="' + custom + '"]');
      if (hidden && hidden.type === "hidden") input = hidden.parentNode.querySelector("input[type=search]");
      else input = hidden;
    }
    input = input || container.querySelector("input:not([type=hidden]), select, textarea");
    if (input) input.focus();
  }

  document.addEventListener("htmx:afterSwap", function (event) {
    var target = event.detail.target;
    if (!target || !target.id) return;
    if (target.id.indexOf("section-") === 0) {
      var section = document.getElementById(target.id);
      if (section && section.querySelector("form")) focusIn(section, wantedField);
      else if (section) { var edit = section.querySelector(".edit-btn"); if (edit) edit.focus(); }
      wantedField = null;
    }
    if (target.id === "quick-add") {
      var box = document.getElementById("quick-add");
      var invalid = box && box.querySelector(".invalid input, .invalid textarea, .invalid select");
      if (invalid) invalid.focus();
      else if (event.detail.requestConfig && event.detail.requestConfig.verb === "get") focusIn(box, null);
    }
  });

  // A refused action (403) explains itself in the dialog instead of failing silently.
  document.addEventListener("htmx:beforeSwap", function (event) {
    if (event.detail.xhr && event.detail.xhr.status === 403) {
      event.detail.shouldSwap = true;
      event.detail.isError = false;
    }
  });
})();
