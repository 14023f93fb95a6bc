// Small progressive enhancements shared by every portal; every page works without them.
(function () {
  "use strict";

  // <form data-confirm="…">: an action that cannot be undone asks first (withdraw, revoke, decline, deactivate).
  document.addEventListener("submit", function (event) {
    var form = event.target;
    var question = form.getAttribute && form.getAttribute("data-confirm");
    if (question && !window.confirm(question)) {
      event.preventDefault();
    }
  }, true);

  // A text field with maxlength and data-counter shows how many characters are left while typing.
  function counters() {
    var fields = document.querySelectorAll("[maxlength][data-counter]");
    Array.prototype.forEach.call(fields, function (field) {
      var limit = parseInt(field.getAttribute("maxlength"), 10);
      var output = document.createElement("p");
      output.className = "field__counter";
      output.setAttribute("aria-live", "polite");
      output.id = field.id + "-counter";
      field.insertAdjacentElement("afterend", output);
      var template = field.getAttribute("data-counter");
      var update = function () {
        output.textContent = template.replace("%(used)s", field.value.length).replace("%(limit)s", limit);
      };
      field.addEventListener("input", update);
      update();
    });
  }

  // A form that came back with errors: bring its error summary into view and give it the focus, so the
  // person sees (and a screen reader reads) what to correct instead of the top of a long page.
  function focusErrors() {
    var summary = document.querySelector(".form-errors");
    if (!summary) {
      return;
    }
    summary.setAttribute("tabindex", "-1");
    summary.scrollIntoView({block: "center"});
    summary.focus({preventScroll: true});
  }

  function ready() {
    counters();
    focusErrors();
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", ready);
  } else {
    ready();
  }
}());
