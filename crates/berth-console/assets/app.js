// berth console: live `when` visibility on the config screen and live job progress (SSE).
// Written by hand, no dependencies; every page works without it (forms post normally).
"use strict";

function csrfToken() {
  const m = document.getElementById("main");
  return m ? m.dataset.csrf : "";
}

// Config screen: ask the server (berth-spec's `when` evaluation) which items show.
function setupConfig() {
  const form = document.getElementById("config-form");
  if (!form) return;
  let timer = null, seq = 0;
  const values = () => {
    const out = {};
    for (const el of form.elements) {
      if (!el.name || el.name === "csrf" || el.type === "file" || el.type === "password") continue;
      if (el.type === "checkbox") out[el.name] = el.checked ? "true" : "false";
      else out[el.name] = el.value;
    }
    return out;
  };
  const refresh = async () => {
    const mine = ++seq;
    try {
      const r = await fetch("/configure/visibility", {
        method: "POST",
        headers: { "Content-Type": "application/json", "X-CSRF-Token": csrfToken() },
        body: JSON.stringify(values()),
        credentials: "same-origin",
      });
      if (!r.ok || mine !== seq) return;
      const v = await r.json();
      const items = new Set(v.items), groups = new Set(v.groups);
      for (const el of form.querySelectorAll("[data-item]")) el.hidden = !items.has(el.dataset.item);
      for (const el of form.querySelectorAll("[data-group]")) el.hidden = !groups.has(el.dataset.group);
      form.dataset.visibility = String(mine);
    } catch (e) { /* offline: keep the last visibility; the server checks on submit */ }
  };
  const schedule = () => { clearTimeout(timer); timer = setTimeout(refresh, 120); };
  form.addEventListener("input", schedule);
  form.addEventListener("change", schedule);
}

// Job page: follow the operation's events.
function setupJob() {
  const box = document.getElementById("job");
  if (!box || box.dataset.done === "true" || !window.EventSource) return;
  const list = document.getElementById("events");
  const state = document.getElementById("job-state");
  const next = document.getElementById("job-next");
  const src = new EventSource("/jobs/" + box.dataset.job + "/events?from=" + box.dataset.from);
  src.onmessage = (m) => {
    let e;
    try { e = JSON.parse(m.data); } catch (_) { return; }
    const li = document.createElement("li");
    li.className = "ev-" + e.kind;
    li.textContent = e.text;
    li.dataset.live = "1";
    list.appendChild(li);
    if (e.kind === "done") {
      src.close();
      state.textContent = "";
      const b = document.createElement("span");
      b.className = "badge " + (e.ok ? "pass" : "fail");
      b.textContent = e.ok ? "succeeded" : "failed";
      state.append(b, " " + e.text);
      box.dataset.done = "true";
      next.hidden = false;
    }
  };
  src.onerror = () => { if (box.dataset.done === "true") src.close(); };
}

document.addEventListener("DOMContentLoaded", () => { setupConfig(); setupJob(); });
