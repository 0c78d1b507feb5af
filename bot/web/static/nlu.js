// Improving the bot (console): mark an entity by selecting text in an inbox message, and
// refresh the models page while a training runs. No inline scripts (the console's CSP).
(function () {
  "use strict";
  document.querySelectorAll(".inbox-item").forEach(function (item) {
    var source = item.querySelector("[data-entity-source]");
    var field = item.querySelector(".entities-field");
    var shown = item.querySelector(".entities-shown");
    var button = item.querySelector(".mark-location");
    if (!source || !field || !button) { return; }
    button.addEventListener("click", function () {
      var sel = window.getSelection();
      if (!sel || sel.rangeCount === 0) { return; }
      var range = sel.getRangeAt(0);
      if (!source.contains(range.startContainer) || !source.contains(range.endContainer)) { return; }
      var before = document.createRange();
      before.selectNodeContents(source);
      before.setEnd(range.startContainer, range.startOffset);
      var start = before.toString().length;
      var end = start + range.toString().length;
      if (end <= start) { return; }
      var spans = field.value ? JSON.parse(field.value) : [];
      spans.push({ entity: "location", start: start, end: end });
      field.value = JSON.stringify(spans);
      // The word comes from the page (labels/) so it follows the console language.
      shown.textContent = (shown.dataset.label || "lokasi") + ": " + spans.map(function (s) {
        return source.textContent.slice(s.start, s.end);
      }).join(", ");
    });
  });
  if (document.querySelector("[data-reload-while-running]")) {
    window.setTimeout(function () { window.location.reload(); }, 1500);
  }
})();
