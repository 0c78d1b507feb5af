// The complaint page: the location on a Leaflet map and a photo viewer. A static file because
// the console's CSP allows no inline script; without it the page still shows the coordinates,
// the "buka di peta" link and the photos as links.
(function () {
  "use strict";

  function showMap() {
    var el = document.getElementById("map");
    if (!el || typeof L === "undefined") { return; }
    var lat = parseFloat(el.dataset.lat), lon = parseFloat(el.dataset.lon);
    if (!isFinite(lat) || !isFinite(lon)) { return; }
    var map = L.map(el, { scrollWheelZoom: false }).setView([lat, lon], 17);
    var tiles = el.dataset.tiles;
    if (tiles) {
      // Attribution as text: the tile host is configuration, but nothing here is markup.
      L.tileLayer(tiles, { maxZoom: 19, attribution: "\u00a9 OpenStreetMap" }).addTo(map);
    }
    L.marker([lat, lon], { keyboard: false }).addTo(map);
    el.dataset.ready = "1";
  }

  function photoViewer() {
    var dialog = document.getElementById("viewer");
    if (!dialog || typeof dialog.showModal !== "function") { return; }
    var img = dialog.querySelector("img");
    var caption = dialog.querySelector(".viewer__caption");
    document.querySelectorAll("a[data-viewer]").forEach(function (link) {
      link.addEventListener("click", function (event) {
        event.preventDefault();
        var thumb = link.querySelector("img");
        img.src = link.href;
        img.alt = thumb ? thumb.alt : "";
        caption.textContent = thumb ? thumb.alt : "";   // textContent: a caption is citizen text
        dialog.showModal();
      });
    });
    dialog.addEventListener("click", function (event) {
      if (event.target === dialog) { dialog.close(); }
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    showMap();
    photoViewer();
  });
})();
