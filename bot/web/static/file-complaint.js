// The conversation page's "Buat laporan" form: ticking citizen messages fills the description
// with their words, until staff type their own. Without script the server does the same.
(function () {
  "use strict";
  document.addEventListener("DOMContentLoaded", function () {
    var form = document.getElementById("file-complaint");
    if (!form) { return; }
    var description = form.querySelector("textarea[name=description]");
    var typed = false;
    var initial = description.value;
    description.addEventListener("input", function () { typed = true; });
    var boxes = document.querySelectorAll("input[type=checkbox][form=file-complaint]");
    boxes.forEach(function (box) {
      box.addEventListener("change", function () {
        if (typed) { return; }
        var picked = [];
        boxes.forEach(function (b) { if (b.checked) { picked.push(b.dataset.text || ""); } });
        description.value = picked.length ? picked.join("\n") : initial;
        var details = form.closest("details");
        if (details) { details.open = true; }
      });
    });
  });
})();
