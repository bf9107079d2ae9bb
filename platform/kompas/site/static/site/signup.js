// Signup page: suggest the portal address from the company (or person's) name until the person
// edits it, and take a suggested free address with one click. The form works without this file.
(function () {
  "use strict";
  var form = document.querySelector(".signup-form");
  if (!form) return;
  var slug = form.querySelector("[name=slug]");
  var touched = slug.value !== "";
  var FOLD = {"ą": "a", "ć": "c", "ę": "e", "ł": "l", "ń": "n", "ó": "o", "ś": "s", "ź": "z", "ż": "z"};

  function toAddress(text) {
    return text.toLowerCase()
      .replace(/[ąćęłńóśźż]/g, function (ch) { return FOLD[ch]; })
      .normalize("NFD").replace(/[\u0300-\u036f]/g, "")
      // legal forms are not part of a name: "Alfa Handel Sp. z o.o." → alfa-handel
      .replace(/\b(sp\.?\s*z\s*o\.?\s*o|s\.?\s*a|sp\.?\s*[jkp]|spolka \S+( \S+)?|ltd|gmbh|inc)\.?(?=[\s,]|$)/g, " ")
      .replace(/[^a-z0-9]+/g, "-").replace(/^-+|-+$/g, "").slice(0, 40).replace(/-+$/, "");
  }

  function suggest() {
    if (touched) return;
    var individual = form.querySelector("[name=kind][value=individual]");
    var source = form.querySelector(individual && individual.checked ? "[name=full_name]" : "[name=company_name]");
    var value = toAddress(source.value || "");
    if (value !== slug.value) {
      slug.value = value;
      slug.dispatchEvent(new Event("change", {bubbles: true}));
    }
  }

  slug.addEventListener("input", function () { touched = slug.value !== ""; });
  ["company_name", "full_name"].forEach(function (name) {
    form.querySelector("[name=" + name + "]").addEventListener("input", suggest);
  });
  form.querySelectorAll("[name=kind]").forEach(function (radio) { radio.addEventListener("change", suggest); });
  document.getElementById("slug-status").addEventListener("click", function (event) {
    var button = event.target.closest("[data-address]");
    if (!button) return;
    slug.value = button.getAttribute("data-address");
    touched = true;
    slug.dispatchEvent(new Event("change", {bubbles: true}));
    slug.focus();
  });
})();
