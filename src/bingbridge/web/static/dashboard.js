// bingbridge dashboard: small progressive enhancements. Every page works without this script.
(function () {
  "use strict";

  // Copy buttons: <button data-copy-target="element-id">.
  function setupCopyButtons() {
    document.querySelectorAll("button[data-copy-target]").forEach(function (button) {
      button.addEventListener("click", function () {
        var target = document.getElementById(button.getAttribute("data-copy-target"));
        if (!target || !navigator.clipboard) {
          return;
        }
        navigator.clipboard.writeText(target.textContent || "").then(function () {
          var label = button.textContent;
          button.textContent = "Copied";
          setTimeout(function () { button.textContent = label; }, 1500);
        });
      });
    });
  }

  // The dispatch log's "Refresh every N seconds" box; its state survives the reloads it causes.
  function setupAutoRefresh() {
    var box = document.getElementById("autorefresh");
    if (!box) {
      return;
    }
    var key = "bingbridge.autorefresh";
    var seconds = parseInt(box.getAttribute("data-autorefresh"), 10) || 5;
    var timer = null;
    function apply() {
      if (timer) {
        clearTimeout(timer);
        timer = null;
      }
      if (box.checked) {
        timer = setTimeout(function () { window.location.reload(); }, seconds * 1000);
      }
    }
    box.checked = window.sessionStorage.getItem(key) === "1";
    box.addEventListener("change", function () {
      window.sessionStorage.setItem(key, box.checked ? "1" : "0");
      apply();
    });
    apply();
  }

  // The metrics page: while an import runs, ask how it goes and reload the page when it has ended.
  function setupImportStatus() {
    var element = document.querySelector("[data-import-status-url]");
    if (!element || element.getAttribute("data-state") !== "running") {
      return;
    }
    var url = element.getAttribute("data-import-status-url");
    function poll() {
      fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (response) { return response.ok ? response.json() : null; })
        .then(function (status) {
          if (status && status.state !== "running") {
            window.location.reload();
          } else {
            setTimeout(poll, 2000);
          }
        })
        .catch(function () { setTimeout(poll, 5000); });
    }
    setTimeout(poll, 1000);
  }

  document.addEventListener("DOMContentLoaded", function () {
    setupCopyButtons();
    setupAutoRefresh();
    setupImportStatus();
  });
})();
