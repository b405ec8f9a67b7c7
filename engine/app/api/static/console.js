// The merchandising console: every call goes through the public /v1 API with the key typed in.
"use strict";

const $ = (id) => document.getElementById(id);
const TEMPLATE = {
  name: "pin an item for a query",
  priority: 0,
  match: { query: { kind: "contains", value: "phone" }, surfaces: ["search"] },
  actions: { pins: [{ item_id: "", position: 1 }] },
};
let editingRevision = null;

function cell(tr, text, cls) {
  const td = document.createElement("td");
  td.textContent = text;
  if (cls) td.className = cls;
  tr.appendChild(td);
  return td;
}

function clear(tableId) {
  const body = $(tableId).querySelector("tbody");
  body.replaceChildren();
  return body;
}

function say(text, ok) {
  // on the rules tab beside its buttons, elsewhere under the request bar
  const onRules = $("rules").classList.contains("on");
  $("status").textContent = ok || onRules ? "" : text;
  $("rule-msg").textContent = onRules ? text : "";
  $("rule-msg").className = ok ? "ok" : "error";
}

async function api(method, path, body, headers) {
  const h = { "Content-Type": "application/json", ...(headers || {}) };
  const key = $("key").value.trim();
  if (key) h.Authorization = "Bearer " + key;
  const resp = await fetch(path, { method, headers: h, body: body === undefined ? undefined : JSON.stringify(body) });
  const data = await resp.json().catch(() => ({}));
  if (!resp.ok) {
    const fields = (data.detail || []).map((d) => `${d.field}: ${d.message}`).join("\n");
    throw new Error(`${resp.status}: ${data.error || resp.statusText}${fields ? "\n" + fields : ""}`);
  }
  return data;
}

function request() {
  const req = { explain: true, page_size: 20 };
  if ($("surface").value === "search") req.query = $("query").value || " ";
  if ($("user").value.trim()) req.user_id = $("user").value.trim();
  if ($("category").value.trim()) req.filters = { categories: [$("category").value.trim()] };
  return req;
}

function showResults(resp) {
  const body = clear("results");
  resp.items.forEach((it, i) => {
    const tr = document.createElement("tr");
    tr.dataset.id = it.id;
    cell(tr, String(i + 1));
    cell(tr, `${it.title} (${it.id})`);
    cell(tr, it.brand);
    cell(tr, it.price.toFixed(2));
    cell(tr, it.score.toFixed(3));
    const ex = it.explanation || { sources: {}, moved_by: [] };
    cell(tr, Object.keys(ex.sources).join(", ") || "(pinned)");
    cell(tr, ex.moved_by.join("; "), "note");
    body.appendChild(tr);
  });
  const stages = clear("stages");
  for (const s of resp.explain.stages) {
    const tr = document.createElement("tr");
    cell(tr, s.stage); cell(tr, s.ms.toFixed(2)); cell(tr, s.status); cell(tr, s.detail);
    stages.appendChild(tr);
  }
  const removed = clear("removed");
  for (const r of resp.explain.removed.slice(0, 50)) {
    const tr = document.createElement("tr");
    cell(tr, r.id); cell(tr, r.stage); cell(tr, r.reason);
    removed.appendChild(tr);
  }
  const notes = [...resp.explain.rules];
  if (resp.redirect) notes.push("redirect: " + resp.redirect);
  if (resp.degraded) notes.push("degraded: " + resp.degraded_reasons.join("; "));
  $("preview-rules").textContent = notes.length ? notes.join(" · ") : "no rule matched";
  $("preview-rules").className = "note";
}

async function run() {
  try {
    const surface = $("surface").value;
    showResults(await api("POST", `/v1/${surface}`, request()));
    say("", true);
  } catch (e) { say(e.message, false); }
}

function draft() {
  try { return JSON.parse($("rule-body").value); }
  catch (e) { throw new Error("the rule is not valid JSON: " + e.message); }
}

function sideBySide(tableId, items, other) {
  const body = clear(tableId);
  const otherIds = other.map((x) => x.id);
  items.forEach((it, i) => {
    const tr = document.createElement("tr");
    tr.dataset.id = it.id;
    if (otherIds[i] !== it.id) tr.className = "changed";
    cell(tr, String(i + 1));
    cell(tr, `${it.title} (${it.id})`);
    cell(tr, (it.explanation ? it.explanation.moved_by : []).filter((n) => n.startsWith("rule")).join("; "), "note");
    body.appendChild(tr);
  });
}

async function previewRule() {
  try {
    const body = { surface: $("surface").value, request: request(), rule: draft() };
    if ($("rule-id").value.trim()) body.rule_id = $("rule-id").value.trim();
    delete body.request.explain;
    const out = await api("POST", "/v1/rules/preview", body);
    sideBySide("without", out.without.items, out.with.items);
    sideBySide("with", out.with.items, out.without.items);
    say("preview: nothing was saved", true);
  } catch (e) { say(e.message, false); }
}

async function publish() {
  const id = $("rule-id").value.trim();
  if (!id) { say("give the rule an id", false); return; }
  try {
    const headers = editingRevision === null ? {} : { "If-Match": String(editingRevision) };
    const rule = await api("PUT", `/v1/rules/${encodeURIComponent(id)}`, draft(), headers);
    editingRevision = rule.revision;
    $("editing").textContent = `revision ${rule.revision}`;
    say(`published ${id} (revision ${rule.revision})`, true);
    await loadRules();
  } catch (e) { say(e.message, false); }
}

function edit(rule) {
  const body = { name: rule.name, priority: rule.priority, enabled: rule.enabled, match: rule.match, actions: rule.actions };
  $("rule-id").value = rule.id;
  $("rule-body").value = JSON.stringify(body, null, 2);
  editingRevision = rule.revision;
  $("editing").textContent = `editing revision ${rule.revision}`;
}

async function loadRules() {
  try {
    const data = await api("GET", "/v1/rules");
    const body = clear("rule-list");
    for (const r of data.rules) {
      const tr = document.createElement("tr");
      tr.dataset.id = r.id;
      cell(tr, r.id); cell(tr, r.name); cell(tr, String(r.priority)); cell(tr, String(r.enabled)); cell(tr, String(r.revision));
      const td = cell(tr, "");
      const e = document.createElement("button"); e.textContent = "Edit"; e.onclick = () => edit(r);
      const d = document.createElement("button"); d.textContent = "Delete"; d.className = "warn act";
      d.onclick = async () => {
        try { await api("DELETE", `/v1/rules/${encodeURIComponent(r.id)}`); say(`deleted ${r.id}`, true); await loadRules(); }
        catch (err) { say(err.message, false); }
      };
      td.append(e, " ", d);
      body.appendChild(tr);
    }
  } catch (e) { say(e.message, false); }
}

function summary(state) {
  if (!state) return "(none)";
  if (state.actions) return `${state.name} · ${JSON.stringify(state.actions)}`;
  return JSON.stringify(state);
}

async function loadAudit() {
  try {
    const data = await api("GET", "/v1/audit?limit=200");
    const body = clear("changes");
    for (const c of data.changes) {
      const tr = document.createElement("tr");
      tr.dataset.seq = c.seq;
      cell(tr, String(c.seq)); cell(tr, c.at.replace("T", " ").slice(0, 19)); cell(tr, c.actor);
      cell(tr, c.action); cell(tr, `${c.kind} ${c.target}`);
      cell(tr, `${summary(c.before)}  →  ${summary(c.after)}`, "note");
      const td = cell(tr, "");
      if (c.kind === "rule") {
        const b = document.createElement("button"); b.textContent = "Roll back"; b.className = "act";
        b.onclick = async () => {
          try { await api("POST", `/v1/audit/${c.seq}/rollback`); say(`rolled back #${c.seq}`, true); await loadAudit(); await loadRules(); }
          catch (err) { say(err.message, false); }
        };
        td.appendChild(b);
      }
      body.appendChild(tr);
    }
  } catch (e) { say(e.message, false); }
}

function show(tab) {
  for (const b of document.querySelectorAll("nav button")) b.classList.toggle("on", b.dataset.tab === tab);
  for (const s of document.querySelectorAll("section")) s.classList.toggle("on", s.id === tab);
  if (tab === "rules") loadRules();
  if (tab === "audit") loadAudit();
}

$("key").value = sessionStorage.getItem("shopnow-key") || "";
$("key").onchange = () => sessionStorage.setItem("shopnow-key", $("key").value.trim());
for (const b of document.querySelectorAll("nav button")) b.onclick = () => show(b.dataset.tab);
$("run").onclick = run;
$("query").onkeydown = (e) => { if (e.key === "Enter") run(); };
$("preview-rule").onclick = previewRule;
$("publish").onclick = publish;
$("rule-id").oninput = () => { editingRevision = null; $("editing").textContent = "new rule"; };
$("reload-audit").onclick = loadAudit;
$("rule-body").value = JSON.stringify(TEMPLATE, null, 2);
