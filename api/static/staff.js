/* Shared helpers of the staff pages: the API key (kept in this tab only) and JSON calls. */
(function () {
  "use strict";
  var KEY = "supportflow.staff-key";
  function key() { return sessionStorage.getItem(KEY) || ""; }
  function status(text) { var el = document.getElementById("status-line"); if (el) el.textContent = text; }
  function api(method, path, body) {
    var init = { method: method, headers: { "x-api-key": key(), Accept: "application/json" } };
    if (body !== undefined) { init.headers["Content-Type"] = "application/json"; init.body = JSON.stringify(body); }
    return fetch(path, init).then(function (res) {
      return res.json().catch(function () { return {}; }).then(function (data) {
        if (!res.ok) throw new Error(typeof data.detail === "string" ? data.detail : "request failed (" + res.status + ")");
        return data;
      });
    });
  }
  function bindKey() {
    var input = document.getElementById("key");
    input.value = key();
    document.getElementById("save-key").addEventListener("click", function () {
      sessionStorage.setItem(KEY, input.value.trim()); location.reload();
    });
  }
  window.Staff = { api: api, key: key, status: status, bindKey: bindKey };
})();
