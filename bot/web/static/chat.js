// Warga web chat. Talks to /api/v1/chat/messages; see README "Web chat API".
// Everything shown is inserted as text (textContent), never as HTML.
(function () {
  "use strict";
  var I18N = {
    id: {
      subtitle: "Pengaduan & informasi layanan kota", placeholder: "Tulis pesan…", send: "Kirim",
      label: "Pesan", location: "Bagikan lokasi",
      welcome: "Halo! Tulis masalah yang ingin Anda laporkan, atau ketik \"menu\".",
      sending: "Mengirim…", waiting: "Warga sedang mengetik…",
      offline: "Koneksi terputus. Pesan akan dikirim ulang otomatis.",
      failed: "Pesan tidak terkirim: ", sharedLocation: "📍 Lokasi dibagikan",
      noLocation: "Lokasi tidak tersedia di perangkat ini."
    },
    en: {
      subtitle: "City complaints & public service information", placeholder: "Type a message…",
      send: "Send", label: "Message", location: "Share location",
      welcome: "Hello! Describe the problem you want to report, or type \"menu\".",
      sending: "Sending…", waiting: "Warga is typing…",
      offline: "Connection lost. The message will be resent automatically.",
      failed: "Message not sent: ", sharedLocation: "📍 Location shared",
      noLocation: "Location is not available on this device."
    }
  };
  var API = "/api/v1/chat/messages";
  var store = window.localStorage;
  var lang = store.getItem("warga.lang") || "id";
  var sender = store.getItem("warga.sender");
  if (!sender || !/^[A-Za-z0-9_-]{16,64}$/.test(sender)) {
    var bytes = new Uint8Array(16);
    window.crypto.getRandomValues(bytes);
    sender = Array.prototype.map.call(bytes, function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");
    store.setItem("warga.sender", sender);
  }
  var lastId = 0;
  var seen = {};
  var log = document.getElementById("log");
  var form = document.getElementById("form");
  var input = document.getElementById("text");
  var sendBtn = document.getElementById("send");
  var status = document.getElementById("status");

  function t(key) { return I18N[lang][key] || I18N.id[key]; }

  function applyLang() {
    document.documentElement.lang = lang;
    document.querySelectorAll("[data-i18n]").forEach(function (el) {
      var v = t(el.getAttribute("data-i18n")); if (v) { el.textContent = v; }
    });
    document.querySelectorAll("[data-i18n-placeholder]").forEach(function (el) {
      el.setAttribute("placeholder", t(el.getAttribute("data-i18n-placeholder")));
    });
    document.querySelectorAll("[data-i18n-title]").forEach(function (el) {
      el.setAttribute("title", t(el.getAttribute("data-i18n-title")));
      el.setAttribute("aria-label", t(el.getAttribute("data-i18n-title")));
    });
    document.querySelectorAll(".lang").forEach(function (b) {
      b.setAttribute("aria-pressed", String(b.getAttribute("data-lang") === lang));
    });
  }

  function scroll() { log.scrollTop = log.scrollHeight; }

  function addMine(text) {
    var li = document.createElement("li");
    li.className = "msg msg--me";
    li.textContent = text;
    log.appendChild(li); scroll();
  }

  function addNote(text, cls) {
    var li = document.createElement("li");
    li.className = "msg " + (cls || "msg--bot");
    li.textContent = text;
    log.appendChild(li); scroll();
  }

  function addBot(m) {
    if (m.id && seen[m.id]) { return; }
    if (m.id) { seen[m.id] = true; lastId = Math.max(lastId, m.id); }
    var li = document.createElement("li");
    li.className = "msg msg--bot";
    li.setAttribute("data-testid", "bot-message");
    var p = document.createElement("div");
    p.textContent = m.text;
    li.appendChild(p);
    if (m.buttons && m.buttons.length) {
      var row = document.createElement("div");
      row.className = "msg__buttons";
      m.buttons.forEach(function (b) {
        var btn = document.createElement("button");
        btn.type = "button";
        btn.textContent = b.title;
        btn.addEventListener("click", function () { send({ button: b.payload }, b.title); });
        row.appendChild(btn);
      });
      li.appendChild(row);
    }
    log.appendChild(li); scroll();
  }

  function clientId() {
    var bytes = new Uint8Array(12);
    window.crypto.getRandomValues(bytes);
    return Array.prototype.map.call(bytes, function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");
  }

  // Send with a client id so a retry after a dropped connection is not stored twice.
  function send(payload, shown, attempt, id) {
    id = id || clientId();
    attempt = attempt || 0;
    if (!attempt) { addMine(shown); }
    payload.sender = sender;
    payload.id = id;
    sendBtn.disabled = true;
    status.textContent = t("waiting");
    // A lost connection, a 5xx (503: the server stored nothing) or a 429 is retried with the
    // same id, so the server stores the message once however often it arrives.
    function retry(afterSeconds) {
      status.textContent = t("offline");
      var backoff = Math.min(30000, 1000 * Math.pow(2, attempt));
      var wait = afterSeconds > 0 ? Math.min(60000, afterSeconds * 1000) : backoff;
      setTimeout(function () { send(payload, shown, attempt + 1, id); }, wait);
      return "retry";
    }
    fetch(API, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(payload) })
      .then(function (r) {
        if (r.status >= 500 || r.status === 429) {
          return retry(parseInt(r.headers.get("Retry-After") || "0", 10) || 0);
        }
        return r.json().then(function (body) {
          if (!r.ok) {
            addNote(t("failed") + (body.message || ""), "msg--error");
            return;
          }
          (body.replies || []).forEach(addBot);
          if (body.pending) { setTimeout(poll, 1000); }
        });
      })
      .catch(function () { return retry(0); })
      .then(function (r) {
        if (r !== "retry") { status.textContent = ""; sendBtn.disabled = false; }
      });
  }

  function poll() {
    // The sender id is the credential that reads this conversation: a header, never the URL
    // (URLs end up in access logs and browser history).
    fetch(API + "?after=" + lastId, { headers: { "X-Warga-Sender": sender } })
      .then(function (r) { return r.ok ? r.json() : { messages: [] }; })
      .then(function (body) { (body.messages || []).forEach(addBot); })
      .catch(function () { /* offline: the next poll tries again */ });
  }

  form.addEventListener("submit", function (ev) {
    ev.preventDefault();
    var text = input.value.trim();
    if (!text) { return; }
    input.value = "";
    send({ text: text }, text);
  });
  input.addEventListener("keydown", function (ev) {
    if (ev.key === "Enter" && !ev.shiftKey) { ev.preventDefault(); form.requestSubmit(); }
  });
  document.getElementById("share-location").addEventListener("click", function () {
    if (!navigator.geolocation) { addNote(t("noLocation"), "msg--error"); return; }
    navigator.geolocation.getCurrentPosition(function (pos) {
      send({ location: { lat: pos.coords.latitude, lon: pos.coords.longitude } }, t("sharedLocation"));
    }, function () { addNote(t("noLocation"), "msg--error"); });
  });
  document.querySelectorAll(".lang").forEach(function (b) {
    b.addEventListener("click", function () {
      lang = b.getAttribute("data-lang"); store.setItem("warga.lang", lang); applyLang();
    });
  });

  applyLang();
  addNote(t("welcome"));
  // Show what was said before (a reload keeps the conversation), then keep polling for
  // status notifications and staff replies.
  poll();
  setInterval(poll, 5000);
}());
