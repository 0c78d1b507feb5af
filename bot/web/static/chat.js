// Warga web chat. Talks to /api/v1/chat/*; see README "Web chat API".
// Everything shown is inserted as text (textContent), never as HTML.
(function () {
  "use strict";
  var I18N = {
    id: {
      subtitle: "Pengaduan & informasi layanan kota", placeholder: "Tulis pesan…", send: "Kirim",
      label: "Pesan", location: "Bagikan lokasi Anda", locationLabel: "Lokasi",
      photoLabel: "Foto", photoHint: "Kirim foto (kamera atau galeri)",
      welcome: "Halo! Tulis masalah yang ingin Anda laporkan, atau ketik \"menu\".",
      sending: "Mengirim…", waiting: "Warga sedang mengetik…",
      offline: "Koneksi terputus. Pesan akan dikirim ulang otomatis.",
      failed: "Pesan tidak terkirim: ", sharedLocation: "📍 Lokasi dibagikan",
      noLocation: "Lokasi tidak tersedia di perangkat ini.",
      photoTooBig: "Foto terlalu besar (maksimal {kb} KB). Pilih foto yang lebih kecil.",
      notImage: "Yang bisa dikirim hanya foto (JPEG, PNG, GIF atau WebP).",
      photo: "Foto", older: "Pesan yang lebih lama tidak ditampilkan.", staff: "Petugas"
    },
    en: {
      subtitle: "City complaints & public service information", placeholder: "Type a message…",
      send: "Send", label: "Message", location: "Share your location", locationLabel: "Location",
      photoLabel: "Photo", photoHint: "Send a photo (camera or gallery)",
      welcome: "Hello! Describe the problem you want to report, or type \"menu\".",
      sending: "Sending…", waiting: "Warga is typing…",
      offline: "Connection lost. The message will be resent automatically.",
      failed: "Message not sent: ", sharedLocation: "📍 Location shared",
      noLocation: "Location is not available on this device.",
      photoTooBig: "The photo is too large (at most {kb} KB). Choose a smaller one.",
      notImage: "Only photos can be sent (JPEG, PNG, GIF or WebP).",
      photo: "Photo", older: "Older messages are not shown.", staff: "Staff"
    }
  };
  var LANGUAGE_NAMES = { id: "Bahasa Indonesia", en: "English" };
  var API = "/api/v1/chat/messages";
  var HISTORY = "/api/v1/chat/history";
  var store = window.localStorage;
  var main = document.querySelector(".chat");
  var maxPhotoKb = parseInt(main.getAttribute("data-max-photo-kb") || "5120", 10);
  var chosen = store.getItem("warga.lang");
  var lang = chosen && I18N[chosen] ? chosen : (document.querySelector(".lang") || { getAttribute: function () { return "id"; } }).getAttribute("data-lang");
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
  var photoInput = document.getElementById("photo");
  var status = document.getElementById("status");

  function t(key) { return (I18N[lang] || I18N.id)[key] || I18N.id[key]; }

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
    });
    document.querySelectorAll(".lang").forEach(function (b) {
      b.setAttribute("aria-pressed", String(b.getAttribute("data-lang") === lang));
    });
  }

  function scroll() { log.scrollTop = log.scrollHeight; }

  function element(tag, cls, text) {
    var el = document.createElement(tag);
    if (cls) { el.className = cls; }
    if (text) { el.textContent = text; }
    return el;
  }

  // A photo: a thumbnail from a local file (just chosen) or fetched with the sender id in a
  // header (the server gives a citizen's photo only to that sender), and its name as text.
  function photoFigure(name, source) {
    var fig = element("figure", "msg__photo");
    var img = document.createElement("img");
    img.setAttribute("alt", name || t("photo"));
    img.setAttribute("data-testid", "photo");
    fig.appendChild(img);
    if (name) { fig.appendChild(element("figcaption", "", name)); }
    if (source instanceof Blob) {
      img.src = URL.createObjectURL(source);
    } else {
      fetch(source, { headers: { "X-Warga-Sender": sender } })
        .then(function (r) { if (!r.ok) { throw new Error(String(r.status)); } return r.blob(); })
        .then(function (blob) { img.src = URL.createObjectURL(blob); })
        .catch(function () { img.setAttribute("alt", (name || t("photo")) + " (?)"); });
    }
    return fig;
  }

  function addMine(text, photos) {
    var li = element("li", "msg msg--me");
    li.setAttribute("data-testid", "my-message");
    (photos || []).forEach(function (p) { li.appendChild(photoFigure(p.name, p.source)); });
    if (text) { li.appendChild(element("div", "", text)); }
    log.appendChild(li); scroll();
  }

  function addNote(key, cls) {
    var li = element("li", "msg " + (cls || "msg--bot"), t(key));
    li.setAttribute("data-i18n", key);
    log.appendChild(li); scroll();
  }

  function addError(text) {
    log.appendChild(element("li", "msg msg--error", text)); scroll();
  }

  function addBot(m) {
    if (m.id && seen[m.id]) { return; }
    if (m.id) { seen[m.id] = true; lastId = Math.max(lastId, m.id); }
    var li = element("li", "msg msg--bot" + (m.staff ? " msg--staff" : ""));
    li.setAttribute("data-testid", "bot-message");
    li.appendChild(element("div", "", m.text));
    if (m.buttons && m.buttons.length) {
      var row = element("div", "msg__buttons");
      m.buttons.forEach(function (b) {
        var btn = element("button", "", b.title);
        btn.type = "button";
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

  function request(payload, id, photo) {
    if (!photo) {
      payload.sender = sender;
      payload.id = id;
      return fetch(API, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(payload) });
    }
    var body = new FormData();
    body.append("sender", sender);
    body.append("id", id);
    if (payload.text) { body.append("text", payload.text); }
    body.append("photo", photo, photo.name || "photo");
    return fetch(API, { method: "POST", headers: { "X-Warga-Sender": sender }, body: body });
  }

  // Send with a client id so a retry after a dropped connection is not stored twice.
  function send(payload, shown, attempt, id, photo) {
    id = id || clientId();
    attempt = attempt || 0;
    if (!attempt) { addMine(shown, photo ? [{ name: photo.name, source: photo }] : []); }
    sendBtn.disabled = true;
    status.textContent = t("waiting");
    // A lost connection, a 5xx (503: the server stored nothing) or a 429 is retried with the
    // same id, so the server stores the message once however often it arrives.
    function retry(afterSeconds) {
      status.textContent = t("offline");
      var backoff = Math.min(30000, 1000 * Math.pow(2, attempt));
      var wait = afterSeconds > 0 ? Math.min(60000, afterSeconds * 1000) : backoff;
      setTimeout(function () { send(payload, shown, attempt + 1, id, photo); }, wait);
      return "retry";
    }
    request(payload, id, photo)
      .then(function (r) {
        if (r.status >= 500 || r.status === 429) {
          return retry(parseInt(r.headers.get("Retry-After") || "0", 10) || 0);
        }
        if (r.status === 413) {
          addError(t("photoTooBig").replace("{kb}", String(maxPhotoKb)));
          return null;
        }
        return r.json().then(function (body) {
          if (!r.ok) {
            addError(t("failed") + (body.message || ""));
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

  // A reload shows the whole conversation: the citizen's own messages and photos, the bot's
  // and the staff's replies, with the buttons that can still be answered.
  function history() {
    return fetch(HISTORY, { headers: { "X-Warga-Sender": sender } })
      .then(function (r) { return r.ok ? r.json() : { messages: [] }; })
      .then(function (body) {
        if (body.more) { addNote("older", "msg--note"); }
        if (!chosen && body.language && I18N[body.language] && body.language !== lang) {
          lang = body.language; applyLang();
        }
        (body.messages || []).forEach(function (m) {
          if (m.direction === "out") { addBot(m); return; }
          var text = m.text;
          if (m.location && !text) { text = t("sharedLocation"); }
          addMine(text, (m.photos || []).map(function (p) { return { name: p.name, source: p.url }; }));
        });
      })
      .catch(function () { /* offline: polling shows the bot's messages later */ });
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
  // A chosen photo goes at once, with what is typed as its caption.
  photoInput.addEventListener("change", function () {
    var file = photoInput.files && photoInput.files[0];
    photoInput.value = "";
    if (!file) { return; }
    if (file.size > maxPhotoKb * 1024) {
      addError(t("photoTooBig").replace("{kb}", String(maxPhotoKb)));
      return;
    }
    if (file.type && file.type.indexOf("image/") !== 0) { addError(t("notImage")); return; }
    var caption = input.value.trim();
    input.value = "";
    send({ text: caption }, caption, 0, null, file);
  });
  document.getElementById("share-location").addEventListener("click", function () {
    if (!navigator.geolocation) { addError(t("noLocation")); return; }
    navigator.geolocation.getCurrentPosition(function (pos) {
      send({ location: { lat: pos.coords.latitude, lon: pos.coords.longitude } }, t("sharedLocation"));
    }, function () { addError(t("noLocation")); });
  });
  // The switch changes the bot's language too: the choice is sent as a message, so the
  // conversation keeps it and the bot greets in it.
  document.querySelectorAll(".lang").forEach(function (b) {
    b.addEventListener("click", function () {
      var wanted = b.getAttribute("data-lang");
      if (wanted === lang && chosen) { return; }
      lang = chosen = wanted; store.setItem("warga.lang", lang); applyLang();
      send({ language: lang }, LANGUAGE_NAMES[lang] || lang);
    });
  });

  applyLang();
  addNote("welcome");
  history().then(function () {
    poll();
    setInterval(poll, 5000);
  });
}());
