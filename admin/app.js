// The admin page: the users table (search, paging), the editor (create,
// update and delete with the version check), the import, and the live change
// feed, all over the HTTP/JSON API of docs/http.md. Plain JavaScript: the
// page is small, and a framework would add a build step and a dependency for
// little. User data only ever reaches the page through textContent.
"use strict";

const PAGE_SIZE = 20;
const FEED_LENGTH = 50;

const $ = (id) => document.getElementById(id);

const state = {
  // sessionStorage: the token lives as long as this tab, no longer.
  token: sessionStorage.getItem("users-admin-token") || "",
  prefix: "",
  pageToken: "",
  previousTokens: [],
  nextToken: "",
  shown: new Map(),  // id -> user, the rows of the current page
  editing: null,     // the user in the editor, or null for a new one
  revision: 0,
};

function newRequestId() {
  if (crypto.randomUUID) return crypto.randomUUID();
  // Outside a secure context randomUUID is missing: a v4 UUID by hand.
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const h = [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

function authHeaders(extra = {}) {
  const headers = { ...extra };
  if (state.token) headers.Authorization = `Bearer ${state.token}`;
  return headers;
}

class ApiError extends Error {
  constructor(status, body) {
    super((body && body.message) || `HTTP ${status}`);
    this.status = status;
    this.code = body ? body.code : undefined;
    this.violations = [];
    for (const d of (body && body.details) || []) {
      if (d["@type"] === "type.googleapis.com/google.rpc.BadRequest") {
        this.violations.push(...(d.fieldViolations || []));
      }
    }
  }
}

async function api(method, path, body) {
  const init = { method, headers: authHeaders() };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const response = await fetch(path, init);
  const text = await response.text();
  let parsed = null;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch {
    parsed = null;
  }
  if (!response.ok) {
    const error = new ApiError(response.status, parsed);
    if (response.status === 401) askForToken(error.message);
    throw error;
  }
  return parsed;
}

// ---- Auth ----

function askForToken(why) {
  $("auth").hidden = false;
  $("auth-message").textContent = state.token ? `The token was refused: ${why}` : why;
  $("token").focus();
}

$("token-form").addEventListener("submit", (e) => {
  e.preventDefault();
  state.token = $("token").value.trim();
  sessionStorage.setItem("users-admin-token", state.token);
  $("token").value = "";
  $("auth").hidden = true;
  start();
});

// ---- Status ----

async function refreshStatus() {
  try {
    const s = await api("GET", "/v1/status");
    state.revision = Math.max(state.revision, Number(s.revision));
    $("status").textContent =
      `${s.serving ? "SERVING" : "NOT_SERVING"} · v${s.version} (${s.commit}) · revision ${state.revision}`;
    $("status").classList.toggle("down", !s.serving);
  } catch (e) {
    $("status").textContent = `unreachable: ${e.message}`;
    $("status").classList.add("down");
  }
}

// ---- The table ----

function formatTime(t) {
  return t ? new Date(t).toLocaleString() : "";
}

function rowFor(user) {
  const tr = document.createElement("tr");
  tr.dataset.id = user.id;
  for (const value of [user.id, user.name, user.email, user.displayName, user.version,
    formatTime(user.updateTime)]) {
    const td = document.createElement("td");
    td.textContent = value;
    tr.appendChild(td);
  }
  const td = document.createElement("td");
  const edit = document.createElement("button");
  edit.type = "button";
  edit.textContent = "Edit";
  edit.addEventListener("click", () => openEditor(state.shown.get(user.id)));
  td.appendChild(edit);
  tr.appendChild(td);
  return tr;
}

async function loadPage() {
  const params = new URLSearchParams({ pageSize: String(PAGE_SIZE) });
  if (state.prefix) params.set("namePrefix", state.prefix);
  if (state.pageToken) params.set("pageToken", state.pageToken);
  try {
    const page = await api("GET", `/v1/users?${params}`);
    const body = $("users").tBodies[0];
    body.replaceChildren();
    state.shown.clear();
    for (const user of page.users) {
      state.shown.set(user.id, user);
      body.appendChild(rowFor(user));
    }
    state.nextToken = page.nextPageToken;
    $("next-page").disabled = !page.nextPageToken;
    $("prev-page").disabled = state.previousTokens.length === 0;
    $("page-info").textContent =
      `page ${state.previousTokens.length + 1} · ${page.users.length} shown`;
    $("list-message").textContent = "";
  } catch (e) {
    $("list-message").textContent = e.message;
  }
}

$("search-form").addEventListener("submit", (e) => {
  e.preventDefault();
  state.prefix = $("search").value;
  state.pageToken = "";
  state.previousTokens = [];
  loadPage();
});
$("next-page").addEventListener("click", () => {
  state.previousTokens.push(state.pageToken);
  state.pageToken = state.nextToken;
  loadPage();
});
$("prev-page").addEventListener("click", () => {
  state.pageToken = state.previousTokens.pop() || "";
  loadPage();
});

// ---- The editor ----

const FIELDS = ["name", "email", "displayName"];

function clearFieldErrors() {
  for (const f of FIELDS) {
    $(`err-${f}`).textContent = "";
    $(`f-${f}`).classList.remove("invalid");
  }
}

function showMessage(text, kind = "") {
  $("editor-message").textContent = text;
  $("editor-message").className = kind;
}

function openEditor(user) {
  state.editing = user || null;
  clearFieldErrors();
  showMessage("");
  $("editor-notice").textContent = "";
  for (const f of FIELDS) $(`f-${f}`).value = user ? user[f] : "";
  $("editor-title").textContent = user ? `Edit #${user.id} (version ${user.version})` : "New user";
  $("save").textContent = user ? "Save" : "Create";
  $("delete").hidden = !user;
  $("reload-user").hidden = true;
}

// "user.display_name" -> "displayName": violations name proto fields.
function fieldOf(violation) {
  const last = violation.field.split(".").pop();
  return last.replace(/_([a-z])/g, (_, c) => c.toUpperCase());
}

function showError(e) {
  clearFieldErrors();
  let unplaced = [];
  for (const v of e.violations) {
    const field = fieldOf(v);
    if (FIELDS.includes(field)) {
      $(`err-${field}`).textContent = v.description;
      $(`f-${field}`).classList.add("invalid");
    } else {
      unplaced.push(`${v.field} ${v.description}`);
    }
  }
  if (e.code === 10) {  // ABORTED: the version we hold is not the stored one
    showMessage("Someone changed this user since you opened it: your version is stale. " +
      "Reload it to see the latest, then save again.", "conflict");
    $("reload-user").hidden = false;
  } else if (e.violations.length === 0 || unplaced.length) {
    showMessage([e.message, ...unplaced].join("; "), "conflict");
  }
}

$("editor").addEventListener("submit", async (e) => {
  e.preventDefault();
  const values = Object.fromEntries(FIELDS.map((f) => [f, $(`f-${f}`).value]));
  const editing = state.editing;
  try {
    let saved;
    if (!editing) {
      saved = await api("POST", `/v1/users?requestId=${newRequestId()}`, values);
      showMessage(`Created #${saved.id}.`, "ok");
    } else {
      const changed = FIELDS.filter((f) => values[f] !== editing[f]);
      if (changed.length === 0) {
        showMessage("Nothing changed.");
        return;
      }
      const body = { version: editing.version };
      for (const f of changed) body[f] = values[f];
      saved = await api("PATCH",
        `/v1/users/${editing.id}?updateMask=${changed.join(",")}&requestId=${newRequestId()}`,
        body);
      showMessage(`Saved #${saved.id}, now version ${saved.version}.`, "ok");
    }
    const message = $("editor-message").textContent;
    openEditor(saved);
    showMessage(message, "ok");
    upsertRow(saved);
  } catch (err) {
    showError(err);
  }
});

$("new-user").addEventListener("click", () => openEditor(null));

$("reload-user").addEventListener("click", async () => {
  if (!state.editing) return;
  try {
    const fresh = await api("GET", `/v1/users/${state.editing.id}`);
    openEditor(fresh);
    showMessage(`Reloaded: version ${fresh.version}.`, "ok");
  } catch (e) {
    showError(e);
  }
});

$("delete").addEventListener("click", async () => {
  const user = state.editing;
  if (!user || !confirm(`Delete ${user.name} (#${user.id})?`)) return;
  try {
    await api("DELETE",
      `/v1/users/${user.id}?version=${user.version}&requestId=${newRequestId()}`);
    removeRow(user.id);
    openEditor(null);
    showMessage(`Deleted #${user.id}.`, "ok");
  } catch (e) {
    showError(e);
  }
});

// ---- Keeping the table current ----

function upsertRow(user) {
  const body = $("users").tBodies[0];
  const old = body.querySelector(`tr[data-id="${CSS.escape(user.id)}"]`);
  if (!old) return false;
  state.shown.set(user.id, user);
  const fresh = rowFor(user);
  fresh.classList.add("flash");
  old.replaceWith(fresh);
  return true;
}

function removeRow(id) {
  const row = $("users").tBodies[0].querySelector(`tr[data-id="${CSS.escape(id)}"]`);
  if (row) row.remove();
  state.shown.delete(id);
}

let reloadTimer = null;
function reloadSoon() {
  clearTimeout(reloadTimer);
  reloadTimer = setTimeout(loadPage, 250);
}

function onEvent(event) {
  const user = event.user;
  state.revision = Math.max(state.revision, Number(event.revision));
  const item = document.createElement("li");
  item.textContent = `${event.type.toLowerCase()} ${user.name} (#${user.id}) · revision ${event.revision}`;
  $("feed").prepend(item);
  while ($("feed").children.length > FEED_LENGTH) $("feed").lastChild.remove();

  if (event.type === "DELETED") {
    removeRow(user.id);
  } else if (!upsertRow(user) && user.name.startsWith(state.prefix)) {
    reloadSoon();  // a new user that may belong on this page
  }
  // Its own element: the editor's message (a save's outcome) stays.
  // A deletion carries the last version, so it is told by the id alone.
  const editing = state.editing;
  if (editing && editing.id === user.id) {
    if (event.type === "DELETED") {
      $("editor-notice").textContent = "This user was deleted elsewhere.";
      $("reload-user").hidden = true;
    } else if (Number(user.version) > Number(editing.version)) {
      $("editor-notice").textContent =
        `This user was changed elsewhere (now version ${user.version}).`;
      $("reload-user").hidden = false;
    }
  }
  $("status").textContent = $("status").textContent.replace(/revision \d+/,
    `revision ${state.revision}`);
}

// ---- The change feed ----
// Read with fetch rather than EventSource, which cannot send an
// Authorization header. Resumes after the last revision seen, with
// Last-Event-ID, as EventSource would.

function setFeedState(text) {
  $("feed-state").textContent = `· ${text}`;
}

function handleBlock(block, cursor) {
  let name = "message", id = null;
  const data = [];
  for (const line of block.split("\n")) {
    if (line.startsWith(":")) continue;
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    const value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
    if (field === "event") name = value;
    else if (field === "id") id = value;
    else if (field === "data") data.push(value);
  }
  if (data.length === 0) return;
  const payload = JSON.parse(data.join("\n"));
  if (name === "end") {
    setFeedState(`ended: ${payload.message}`);
    return;
  }
  if (id !== null) cursor.last = id;
  onEvent(payload);
}

let feedGeneration = 0;
async function watch() {
  const generation = ++feedGeneration;
  const cursor = { last: null };
  while (generation === feedGeneration) {
    try {
      const headers = authHeaders({ Accept: "text/event-stream" });
      if (cursor.last !== null) headers["Last-Event-ID"] = cursor.last;
      const response = await fetch("/v1/users:watch", { headers, cache: "no-store" });
      if (!response.ok) {
        setFeedState(`refused: HTTP ${response.status}`);
        if (response.status === 401) return;
        if (response.status === 400) {
          // The revision we resume after is compacted away (OUT_OF_RANGE):
          // what the page shows may have missed changes. Start from now and
          // reload the table instead of retrying the same cursor forever.
          cursor.last = null;
          loadPage();
        }
      } else {
        if (cursor.last === null) {
          cursor.last = response.headers.get("x-watch-start-revision");
        }
        setFeedState("live");
        const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
        let buffer = "";
        for (;;) {
          const { value, done } = await reader.read();
          if (generation !== feedGeneration) {
            reader.cancel();  // a newer feed replaced this one
            return;
          }
          if (done) break;
          buffer += value;
          let end;
          while ((end = buffer.indexOf("\n\n")) >= 0) {
            handleBlock(buffer.slice(0, end), cursor);
            buffer = buffer.slice(end + 2);
          }
        }
        setFeedState("reconnecting…");
      }
    } catch (e) {
      setFeedState("reconnecting…");
    }
    await new Promise((r) => setTimeout(r, 1000));
  }
}

// ---- Import ----

$("import-form").addEventListener("submit", (e) => {
  e.preventDefault();
  const file = $("import-file").files[0];
  if (!file) return;
  const progress = $("import-progress");
  progress.hidden = false;
  progress.value = 0;
  $("import-summary").textContent = "";
  $("import-errors").replaceChildren();
  $("import-start").disabled = true;
  // XMLHttpRequest, not fetch: only it reports upload progress.
  const xhr = new XMLHttpRequest();
  xhr.open("POST", "/v1/users:import");
  for (const [k, v] of Object.entries(authHeaders())) xhr.setRequestHeader(k, v);
  xhr.setRequestHeader("Content-Type",
    /\.csv$/i.test(file.name) ? "text/csv" : "application/x-ndjson");
  xhr.upload.onprogress = (p) => {
    if (!p.lengthComputable) return;
    progress.value = Math.round((100 * p.loaded) / p.total);
    $("import-percent").textContent = `${progress.value}% sent`;
  };
  xhr.onload = () => {
    $("import-start").disabled = false;
    let body = null;
    try {
      body = JSON.parse(xhr.responseText);
    } catch {
      body = null;
    }
    if (xhr.status !== 200) {
      $("import-summary").textContent = `Import refused: ${(body && body.message) || xhr.status}`;
      if (xhr.status === 401) askForToken(body ? body.message : "a token is needed");
      return;
    }
    progress.value = 100;
    $("import-percent").textContent = "done";
    $("import-summary").textContent = `Created ${body.created}, failed ${body.failed}.`;
    for (const err of body.errors) {
      const li = document.createElement("li");
      li.textContent = `row ${Number(err.index) + 1}${err.name ? ` (${err.name})` : ""}: ${err.message}`;
      $("import-errors").appendChild(li);
    }
    loadPage();
  };
  xhr.onerror = () => {
    $("import-start").disabled = false;
    $("import-summary").textContent = "Import failed: the connection broke.";
  };
  xhr.send(file);
});

// ---- Start ----

function start() {
  refreshStatus();
  loadPage();
  watch();
}

setInterval(refreshStatus, 5000);
openEditor(null);
start();
