// Settings → CRM: the code of a new custom field suggested from its name, the options box shown for
// list types only, and rows reordered by dragging (SortableJS, when it is installed). The pages work
// without this file: the server suggests the code, and the arrows reorder rows.
(function () {
  "use strict";

  var POLISH = {"ą": "a", "ć": "c", "ę": "e", "ł": "l", "ń": "n", "ó": "o", "ś": "s", "ź": "z", "ż": "z"};

  function codeFromLabel(label) {
    var text = label.toLowerCase().replace(/[ąćęłńóśźż]/g, function (letter) { return POLISH[letter]; });
    text = text.normalize("NFKD").replace(/[\u0300-\u036f]/g, "");
    var code = text.replace(/[^a-z0-9]+/g, "_").replace(/^_+|_+$/g, "").slice(0, 60).replace(/_+$/, "");
    if (code && !/^[a-z]/.test(code)) code = ("f_" + code).slice(0, 60);
    return code;
  }

  function setUpFieldForm(form) {
    var label = form.querySelector("[name=label]");
    var code = form.querySelector("[name=code]");
    if (label && code) {
      var touched = code.value !== "" && code.value !== codeFromLabel(label.value);
      code.addEventListener("input", function () { touched = code.value !== ""; });
      label.addEventListener("input", function () { if (!touched) code.value = codeFromLabel(label.value); });
    }
    var type = form.querySelector("[name=field_type]");
    var options = form.querySelector("[data-list-types]");
    if (type && options) {
      var listTypes = options.getAttribute("data-list-types").split(" ");
      var sync = function () { options.hidden = listTypes.indexOf(type.value) === -1; };
      type.addEventListener("change", sync);
      sync();
    }
  }

  function csrfToken() {
    var input = document.querySelector("input[name=csrfmiddlewaretoken]");
    return input ? input.value : "";
  }

  function refreshArrows(body) {
    var rows = body.querySelectorAll("tr");
    rows.forEach(function (row, index) {
      var up = row.querySelector("button[value=up]");
      var down = row.querySelector("button[value=down]");
      if (up) up.disabled = index === 0;
      if (down) down.disabled = index === rows.length - 1;
    });
  }

  function setUpSortable(body) {
    if (!window.Sortable) return;
    body.classList.add("js-sortable");
    window.Sortable.create(body, {
      handle: ".drag-handle", animation: 120,
      onEnd: function () {
        var data = new URLSearchParams(body.getAttribute("data-sortable-scope") || "");
        body.querySelectorAll("tr[data-id]").forEach(function (row) { data.append("ids", row.getAttribute("data-id")); });
        fetch(body.getAttribute("data-sortable"), {
          method: "POST", body: data, credentials: "same-origin",
          headers: {"X-CSRFToken": csrfToken(), "HX-Request": "true"}
        }).then(function (response) { if (!response.ok) window.location.reload(); });
        refreshArrows(body);
      }
    });
  }

  function start() {
    document.querySelectorAll("[data-field-form]").forEach(setUpFieldForm);
    document.querySelectorAll("tbody[data-sortable]").forEach(setUpSortable);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
