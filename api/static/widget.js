/* SupportFlow chat widget: an embeddable, dependency-free support chat that streams answers.
 *
 * <script src="https://your-host/widget.js" data-publishable-key="sfp_..." data-token="..."></script>
 *
 * data-token is a short-lived end-user token minted by your backend (it binds the customer);
 * without it the visitor is anonymous and can ask general questions only.
 */
(function () {
  "use strict";

  var script = document.currentScript;
  var cfg = {
    base: (script && script.dataset.apiBase) || (script ? new URL(script.src).origin : ""),
    key: (script && script.dataset.publishableKey) || "",
    token: (script && script.dataset.token) || "",
    title: (script && script.dataset.title) || "Support",
  };
  var MAX_RETRIES = 6;
  var THREAD_KEY = "supportflow.thread";

  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    if (text) node.textContent = text;
    return node;
  }

  function css() {
    var link = el("link", { rel: "stylesheet", href: cfg.base + "/widget.css" });
    document.head.appendChild(link);
  }

  /* ---- DOM ---- */
  var launcher = el("button", { type: "button", class: "sf-launcher", "aria-expanded": "false",
    "aria-controls": "sf-panel" }, "Chat with us");
  var panel = el("section", { id: "sf-panel", class: "sf-panel", role: "dialog",
    "aria-label": cfg.title + " chat", hidden: "" });
  var header = el("div", { class: "sf-header" });
  header.appendChild(el("h2", {}, cfg.title));
  var closeBtn = el("button", { type: "button", class: "sf-close", "aria-label": "Close chat" }, "×");
  header.appendChild(closeBtn);
  var log = el("div", { class: "sf-log", role: "log", "aria-live": "polite", "aria-relevant": "additions" });
  var banner = el("p", { class: "sf-banner", role: "status", hidden: "" });
  var status = el("p", { class: "sf-status", role: "status", "aria-live": "polite" });
  var form = el("form", { class: "sf-form" });
  var label = el("label", { for: "sf-input", class: "sf-visually-hidden" }, "Your message");
  var input = el("textarea", { id: "sf-input", class: "sf-input", rows: "2",
    placeholder: "Ask about an order, a return, a refund…" });
  var send = el("button", { type: "submit", class: "sf-send" }, "Send");
  form.appendChild(label); form.appendChild(input); form.appendChild(send);
  [header, log, banner, status, form].forEach(function (n) { panel.appendChild(n); });

  function open() {
    panel.hidden = false; launcher.setAttribute("aria-expanded", "true"); input.focus();
  }
  function close() {
    panel.hidden = true; launcher.setAttribute("aria-expanded", "false"); launcher.focus();
  }
  launcher.addEventListener("click", function () { panel.hidden ? open() : close(); });
  closeBtn.addEventListener("click", close);
  panel.addEventListener("keydown", function (e) { if (e.key === "Escape") close(); });
  input.addEventListener("keydown", function (e) {
    if (e.key === "Enter" && !e.shiftKey) { e.preventDefault(); form.requestSubmit(); }
  });

  function bubble(kind, text) {
    var node = el("div", { class: "sf-msg sf-" + kind });
    var body = el("span", { class: "sf-text" }, text || "");
    node.appendChild(body);
    log.appendChild(node);
    log.scrollTop = log.scrollHeight;
    return node;
  }

  /* ---- SSE over fetch (POST bodies and Last-Event-ID need fetch, not EventSource) ---- */
  function parseEvents(buffer, onEvent) {
    var parts = buffer.split(/\r?\n\r?\n/);
    var rest = parts.pop();
    parts.forEach(function (block) {
      var ev = { id: null, event: "message", data: "" };
      block.split(/\r?\n/).forEach(function (line) {
        if (!line || line[0] === ":") return;
        var i = line.indexOf(":");
        var field = i < 0 ? line : line.slice(0, i);
        var value = i < 0 ? "" : line.slice(i + 1).replace(/^ /, "");
        if (field === "id") ev.id = value;
        else if (field === "event") ev.event = value;
        else if (field === "data") ev.data += (ev.data ? "\n" : "") + value;
      });
      onEvent(ev);
    });
    return rest;
  }

  function headers(extra) {
    var h = { "x-api-key": cfg.key, Accept: "text/event-stream" };
    if (cfg.token) h.Authorization = "Bearer " + cfg.token;
    Object.keys(extra || {}).forEach(function (k) { h[k] = extra[k]; });
    return h;
  }

  function Turn(text, kind) {
    this.text = text;
    this.kind = kind || "bot";
    this.node = null;
    this.lastId = null;
    this.runId = null;
    this.done = false;
    this.retries = 0;
  }

  Turn.prototype.handle = function (ev) {
    if (ev.id) this.lastId = ev.id;
    var data = ev.data ? JSON.parse(ev.data) : {};
    if (ev.event === "status") {
      if (data.run_id) this.runId = data.run_id;
      if (data.thread_id) sessionStorage.setItem(THREAD_KEY, data.thread_id);
      status.textContent = data.text || "";
    } else if (ev.event === "token") {
      if (!this.node) this.node = bubble(this.kind, "");
      this.node.querySelector(".sf-text").textContent += data.t;
      log.scrollTop = log.scrollHeight;
    } else if (ev.event === "retract") {
      // Sentences shown while the answer was written were withdrawn (a new draft, a handoff
      // or an error follows): the bubble goes, so none is left empty.
      if (this.node) { this.node.remove(); this.node = null; }
    } else if (ev.event === "citation") {
      if (!this.node) this.node = bubble("bot", "");
      var list = this.node.querySelector(".sf-sources");
      if (!list) { list = el("ul", { class: "sf-sources" }); this.node.appendChild(list); }
      list.appendChild(el("li", { "data-citation-id": data.id }, data.title));
    } else if (ev.event === "handoff") {
      banner.textContent = "You're now connected with our support team.";
      banner.hidden = false;
      bubble("human", data.message);
      this.handedOff = true;
    } else if (ev.event === "error") {
      bubble("bot", data.message || "Something went wrong. Please try again.");
    } else if (ev.event === "end") {
      this.done = true;
      status.textContent = "";
    }
  };

  Turn.prototype.consume = function (response) {
    var self = this;
    if (!response.ok) {
      return response.json().catch(function () { return {}; }).then(function (body) {
        self.done = true;
        bubble("bot", body.detail || "The assistant is unavailable right now.");
      });
    }
    var reader = response.body.getReader();
    var decoder = new TextDecoder();
    var buffer = "";
    function pump() {
      return reader.read().then(function (chunk) {
        if (chunk.done) return;
        buffer = parseEvents(buffer + decoder.decode(chunk.value, { stream: true }),
          function (ev) { self.handle(ev); });
        return pump();
      });
    }
    return pump();
  };

  Turn.prototype.resume = function () {
    var self = this;
    if (self.done || !self.runId || self.retries >= MAX_RETRIES) {
      if (!self.done) bubble("bot", "Connection lost. Please send your message again.");
      return Promise.resolve();
    }
    self.retries += 1;
    status.textContent = "Reconnecting…";
    var delay = Math.min(4000, 250 * Math.pow(2, self.retries));
    return new Promise(function (r) { setTimeout(r, delay); }).then(function () {
      var extra = self.lastId ? { "Last-Event-ID": self.lastId } : {};
      return fetch(cfg.base + "/v1/chat/runs/" + encodeURIComponent(self.runId) + "/stream",
        { headers: headers(extra) });
    }).then(function (res) { return self.consume(res); })
      .catch(function () { /* retried below */ })
      .then(function () { return self.done ? null : self.resume(); });
  };

  Turn.prototype.start = function () {
    var self = this;
    var body = { message: self.text, thread_id: sessionStorage.getItem(THREAD_KEY) };
    return fetch(cfg.base + "/v1/chat/stream", {
      method: "POST",
      headers: headers({ "Content-Type": "application/json" }),
      body: JSON.stringify(body),
    }).then(function (res) { return self.consume(res); })
      .catch(function () { /* network drop: resume below */ })
      .then(function () { return self.done ? null : self.resume(); });
  };

  /* After a handoff, wait for the team's reply: long-poll for the next run, then stream it. */
  function watch(afterRunId) {
    var thread = sessionStorage.getItem(THREAD_KEY);
    if (!thread) return;
    var url = cfg.base + "/v1/chat/threads/" + encodeURIComponent(thread) + "/next?after=" +
      encodeURIComponent(afterRunId);
    fetch(url, { headers: headers({ Accept: "application/json" }) }).then(function (res) {
      if (res.status === 204) return watch(afterRunId);
      if (!res.ok) return null;
      return res.json().then(function (next) {
        var turn = new Turn("", "human");
        turn.runId = next.run_id;
        return fetch(cfg.base + next.stream, { headers: headers() })
          .then(function (r) { return turn.consume(r); })
          .then(function () {
            if (/back with the assistant/.test(turn.node ? turn.node.textContent : "")) {
              banner.hidden = true;
              return null;
            }
            return watch(next.run_id);
          });
      });
    }).catch(function () { setTimeout(function () { watch(afterRunId); }, 2000); });
  }

  form.addEventListener("submit", function (e) {
    e.preventDefault();
    var text = input.value.trim();
    if (!text || send.disabled) return;
    bubble("user", text);
    input.value = "";
    send.disabled = true;
    status.textContent = "Sending…";
    var turn = new Turn(text);
    turn.start().then(function () {
      send.disabled = false;
      input.focus();
      if (turn.handedOff && turn.runId) watch(turn.runId);
    });
  });

  function mount() {
    css();
    document.body.appendChild(launcher);
    document.body.appendChild(panel);
    window.SupportFlowWidget = { open: open, close: close };
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", mount);
  else mount();
})();
