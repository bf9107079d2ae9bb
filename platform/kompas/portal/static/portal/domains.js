// Settings → Domains: "Copy" buttons next to the DNS values. Without JavaScript the values
// are read-only fields that select themselves on focus, so they can still be copied by hand.
(function () {
  "use strict";

  document.addEventListener("focusin", function (event) {
    if (event.target.matches && event.target.matches("input[data-copy-value]")) event.target.select();
  });

  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("button[data-copy]");
    if (!button) return;
    var input = button.parentElement.querySelector("input[data-copy-value]");
    if (!input) return;
    input.select();
    var done = function () {
      var label = button.textContent;
      button.textContent = button.getAttribute("data-copied");
      setTimeout(function () { button.textContent = label; }, 1500);
    };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(input.value).then(done, function () { document.execCommand("copy"); done(); });
    } else {
      document.execCommand("copy");
      done();
    }
  });
})();
