// The live transcript of a conversation page: polls the cheap messages endpoint every few
// seconds and appends what is new. Citizen text goes in with textContent only (never HTML).
// Also inserts a canned reply into the reply box. Loaded by conversation.html (strict CSP:
// no inline script).
(function () {
  "use strict";
  var POLL_MS = 2500;

  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function render(m, missedLabel) {
    var li = el("li", "t t--" + (m.direction === "in" ? "in" : "out"));
    if (m.status === "failed" || m.status === "held") li.className += " t--problem";
    if (m.not_understood) li.className += " t--missed";
    li.setAttribute("data-id", String(m.id));
    var meta = el("div", "t__meta", m.at + " · " + m.channel + (m.kind !== "message" ? " · " + m.kind : ""));
    if (m.status) { meta.appendChild(document.createTextNode(" · ")); meta.appendChild(el("span", "st st--" + m.status, m.status)); }
    if (m.staff) { meta.appendChild(document.createTextNode(" · ")); meta.appendChild(el("span", "t__staff", "petugas: " + m.staff)); }
    if (typeof m.confidence === "number") {
      meta.appendChild(document.createTextNode(" · "));
      meta.appendChild(el("span", "t__nlu", (m.intent || "-") + " (" + m.confidence.toFixed(2) + ")"));
    }
    if (m.not_understood) { meta.appendChild(document.createTextNode(" · ")); meta.appendChild(el("span", "badge badge--late", missedLabel)); }
    li.appendChild(meta);
    li.appendChild(el("div", "t__text", m.text));
    return li;
  }

  function live(box) {
    var url = box.getAttribute("data-messages-url");
    var after = parseInt(box.getAttribute("data-after") || "0", 10) || 0;
    var missedLabel = box.getAttribute("data-not-understood") || "";
    var list = box.querySelector("ol.transcript");
    var stopped = false;

    function poll() {
      if (stopped) return;
      fetch(url + "?after=" + after, { credentials: "same-origin", headers: { "Accept": "application/json" } })
        .then(function (r) {
          // Signed out, or no longer allowed to see it: stop asking.
          if (!r.ok || (r.headers.get("Content-Type") || "").indexOf("application/json") !== 0) { stopped = true; return null; }
          return r.json();
        })
        .then(function (data) {
          if (!data) return;
          data.messages.forEach(function (m) {
            if (m.id <= after) return;
            list.appendChild(render(m, missedLabel));
            after = m.id;
          });
        })
        .catch(function () { /* a network blip: try again next time */ })
        .then(function () { if (!stopped) window.setTimeout(poll, POLL_MS); });
    }
    window.setTimeout(poll, POLL_MS);
  }

  function canned() {
    var box = document.getElementById("reply-text");
    if (!box) return;
    Array.prototype.forEach.call(document.querySelectorAll(".canned__item"), function (button) {
      button.addEventListener("click", function () {
        var text = button.getAttribute("data-text") || "";
        box.value = box.value ? box.value.replace(/\s*$/, "") + "\n" + text : text;
        box.focus();
      });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var box = document.getElementById("live-transcript");
    if (box) live(box);
    canned();
  });
})();
