// Homeroom admin UI: the only script. Every page works without it; it adds
// live progress on a running run and a confirmation before destructive
// buttons that carry data-confirm.
(function () {
  "use strict";

  document.addEventListener("submit", function (event) {
    var button = event.submitter;
    var message = button && button.getAttribute("data-confirm");
    if (message && !window.confirm(message)) {
      event.preventDefault();
    }
  });

  function follow(box) {
    var url = box.getAttribute("data-progress-url");
    var bar = box.querySelector("progress");
    var text = box.querySelector("[data-progress-text]");
    function tick() {
      fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (r) { return r.json(); })
        .then(function (p) {
          if (p.status !== "running" && p.status !== "queued") {
            window.location.reload();
            return;
          }
          if (p.status === "queued") {
            text.textContent = "Waiting for a worker to take it";
          } else if (p.waiting) {
            text.textContent = "Waiting: " + p.waiting;
          } else if (p.total) {
            // The source's total is of what it reads now (one list).
            var done = Math.min(p.done, p.total);
            bar.max = p.total;
            bar.value = done;
            text.textContent = done + " of " + p.total + " records of what it reads now (" +
              Math.floor((done * 100) / p.total) + "%)" +
              (p.read ? ", " + p.read + " records read in all" : "");
          } else if (p.done) {
            text.textContent = p.done + " records read";
          }
          window.setTimeout(tick, 1000);
        })
        .catch(function () { window.setTimeout(tick, 3000); });
    }
    window.setTimeout(tick, 700);
  }

  document.addEventListener("DOMContentLoaded", function () {
    var box = document.querySelector("[data-progress-url]");
    if (box) {
      follow(box);
    }
  });
})();
