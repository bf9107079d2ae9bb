// Small behaviours of the app shell; pages work without them (server-rendered forms and links).
(function () {
  "use strict";

  function toggleNav() {
    var open = document.body.classList.toggle("nav-open");
    var button = document.querySelector("[data-nav-toggle]");
    if (button) button.setAttribute("aria-expanded", open ? "true" : "false");
  }

  function focusSearch(event) {
    var input = document.querySelector("[data-search-input]");
    if (!input) return;
    event.preventDefault();
    input.focus();
    input.select();
  }

  function searchResults() { return document.getElementById("search-results"); }

  function moveInResults(step) {
    var box = searchResults();
    if (!box || box.hidden) return false;
    var links = Array.prototype.slice.call(box.querySelectorAll("a"));
    if (!links.length) return false;
    var index = links.indexOf(document.activeElement);
    var next = links[(index + step + links.length) % links.length];
    next.focus();
    return true;
  }

  document.addEventListener("keydown", function (event) {
    if ((event.ctrlKey || event.metaKey) && event.key.toLowerCase() === "k") focusSearch(event);
    if (event.key === "Escape") {
      var box = searchResults();
      if (box) box.hidden = true;
      document.body.classList.remove("nav-open");
    }
    var inSearch = event.target.closest && event.target.closest("[data-search-form]");
    if (inSearch && (event.key === "ArrowDown" || event.key === "ArrowUp")) {
      if (moveInResults(event.key === "ArrowDown" ? 1 : -1)) event.preventDefault();
    }
  });

  document.addEventListener("click", function (event) {
    if (event.target.closest("[data-nav-toggle]")) toggleNav();
    var box = searchResults();
    if (box && !event.target.closest("[data-search-form]")) box.hidden = true;
    var closer = event.target.closest("[data-close-dialog]");
    if (closer) { var dialog = closer.closest("dialog"); if (dialog) dialog.close(); }
  });

  document.addEventListener("htmx:afterSwap", function (event) {
    var box = searchResults();
    if (box && event.detail.target && event.detail.target.id === "search-results") box.hidden = false;
    var dialog = document.getElementById("dialog");
    if (dialog && event.detail.target === dialog && dialog.innerHTML.trim() && !dialog.open) dialog.showModal();
  });

  // A server response may ask to close the dialog and refresh parts of the page (HX-Trigger: kompas:saved).
  document.addEventListener("kompas:saved", function () {
    var dialog = document.getElementById("dialog");
    if (dialog && dialog.open) dialog.close();
  });
})();

// Record search boxes in forms (crm.core.forms.LookupWidget): type, pick, the hidden input keeps the id.
(function () {
  "use strict";
  var timer = null;

  function box(element) { return element.closest("[data-lookup]"); }

  function fetchOptions(input) {
    var holder = box(input);
    var results = holder.querySelector(".lookup-results");
    var url = holder.getAttribute("data-lookup") + "?q=" + encodeURIComponent(input.value);
    fetch(url, {headers: {"HX-Request": "true"}, credentials: "same-origin"})
      .then(function (response) { return response.text(); })
      .then(function (html) { results.innerHTML = html; results.hidden = false; });
  }

  document.addEventListener("input", function (event) {
    if (!event.target.matches("[data-lookup-input]")) return;
    var input = event.target;
    box(input).querySelector("input[type=hidden]").value = "";
    clearTimeout(timer);
    timer = setTimeout(function () { fetchOptions(input); }, 200);
  });

  document.addEventListener("focusin", function (event) {
    if (event.target.matches("[data-lookup-input]")) fetchOptions(event.target);
  });

  document.addEventListener("click", function (event) {
    var pick = event.target.closest("[data-lookup-pick]");
    if (pick) {
      var holder = box(pick);
      holder.querySelector("input[type=hidden]").value = pick.getAttribute("data-lookup-pick");
      holder.querySelector("[data-lookup-input]").value = pick.getAttribute("data-label");
      holder.querySelector(".lookup-results").hidden = true;
      return;
    }
    document.querySelectorAll(".lookup-results").forEach(function (results) {
      if (!results.parentNode.contains(event.target)) results.hidden = true;
    });
  });
})();
