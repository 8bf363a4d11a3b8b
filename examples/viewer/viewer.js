// The audit log viewer. Plain JavaScript without dependencies; it speaks only the server's
// public privacyIDEA routes. Whatever comes from the server or from the address bar is put
// into the page as text (textContent, attribute values) and never parsed as markup; the
// server's Content-Security-Policy enforces that with Trusted Types.
"use strict";

(() => {
  const $ = (id) => document.getElementById(id);

  const STORE = { token: "audit.token", name: "audit.name", role: "audit.role" };
  const DEFAULT_PAGE_SIZE = 15;
  const DEFAULT_COLUMNS = [
    "number", "date", "action", "success", "authentication", "user", "realm", "serial",
    "administrator", "info", "client",
  ];
  // Keys the listing shows but cannot filter on (duration has no filter; the two integrity
  // checks are computed per page).
  const UNFILTERABLE = new Set(["sig_check", "missing_line", "duration"]);
  const UNSORTABLE = new Set(["sig_check", "missing_line"]);
  // Columns whose natural first order is newest or largest first.
  const DESCENDING_FIRST = new Set(["number", "date", "startdate", "duration"]);
  const LABELS = {
    number: "#", date: "Date (UTC)", action: "Action", success: "Result",
    authentication: "Authentication", serial: "Serial", startdate: "Start (UTC)",
    duration: "Duration", token_type: "Token type", user: "User", realm: "Realm",
    administrator: "Administrator", action_detail: "Action detail", info: "Info",
    privacyidea_server: "Server", client: "Client", user_agent: "User agent",
    user_agent_version: "Agent version", log_level: "Log level", policies: "Policies",
    clearance_level: "Clearance", sig_check: "Signature", missing_line: "Chain",
    resolver: "Resolver", thread_id: "Thread", container_serial: "Container",
    container_type: "Container type",
  };
  const PLACEHOLDERS = {
    success: "1 or 0", date: "2026-05-01*", startdate: "2026-05-01*", number: "id",
  };
  const CHARTS = [
    ["timeline_plot", "Entries over time"],
    ["action_plot", "Most frequent actions"],
    ["validate_user_plot", "Authentications per user"],
    ["validate_failed_user_plot", "Failed authentications per user"],
    ["validate_serial_plot", "Authentications per serial"],
    ["validate_failed_serial_plot", "Failed authentications per serial"],
    ["serial_plot", "Most used serials"],
    ["admin_plot", "Most active administrators"],
  ];
  const UNIT_SECONDS = { s: 1, m: 60, h: 3600, d: 86400, w: 604800, y: 31536000 };
  const number = new Intl.NumberFormat("en");

  class ApiError extends Error {
    constructor(status, message) {
      super(message);
      this.status = status;
    }
  }

  // ---- state, kept in the address bar after '#' -------------------------------------------

  function emptyState() {
    return {
      filters: new Map(), find: "", timelimit: "", sortname: "", sortorder: "",
      page: 1, pageSize: DEFAULT_PAGE_SIZE, cols: null, view: "table",
    };
  }

  function wholeNumber(text, fallback, max) {
    const n = /^\d{1,7}$/.test(text) ? Number(text) : 0;
    return n >= 1 && n <= max ? n : fallback;
  }

  function parseState(hash) {
    const state = emptyState();
    for (const [key, value] of new URLSearchParams(hash.replace(/^#/, ""))) {
      switch (key) {
        case "find": state.find = value; break;
        case "timelimit": state.timelimit = value; break;
        case "sortname": state.sortname = value; break;
        case "sortorder": state.sortorder = value === "asc" ? "asc" : "desc"; break;
        case "page": state.page = wholeNumber(value, 1, 1e9); break;
        case "page_size": state.pageSize = wholeNumber(value, DEFAULT_PAGE_SIZE, 1000); break;
        case "cols": state.cols = value.split(",").filter((c) => c !== ""); break;
        case "view": state.view = value === "stats" ? "stats" : "table"; break;
        default: if (value !== "") state.filters.set(key, value);
      }
    }
    return state;
  }

  function stateHash(state) {
    const p = new URLSearchParams();
    for (const [key, value] of state.filters) p.append(key, value);
    if (state.find) p.set("find", state.find);
    if (state.timelimit) p.set("timelimit", state.timelimit);
    if (state.sortname) p.set("sortname", state.sortname);
    if (state.sortorder) p.set("sortorder", state.sortorder);
    if (state.page > 1) p.set("page", String(state.page));
    if (state.pageSize !== DEFAULT_PAGE_SIZE) p.set("page_size", String(state.pageSize));
    if (state.cols) p.set("cols", state.cols.join(","));
    if (state.view === "stats") p.set("view", "stats");
    return p.toString();
  }

  // The filters, free text and time window: what the listing, the CSV and the statistics share.
  function filterParams(state) {
    const p = new URLSearchParams();
    for (const [key, value] of state.filters) p.append(key, value);
    if (state.find) p.set("find", state.find);
    return p;
  }

  function sortedParams(state) {
    const p = filterParams(state);
    if (state.timelimit) p.set("timelimit", state.timelimit);
    if (state.sortname) p.set("sortname", state.sortname);
    if (state.sortorder) p.set("sortorder", state.sortorder);
    return p;
  }

  function listParams(state) {
    const p = sortedParams(state);
    p.set("page", String(state.page));
    p.set("page_size", String(state.pageSize));
    return p;
  }

  let state = parseState(location.hash);
  let columns = [];        // what the caller may see, from the last listing
  let shownKey = "";       // the columns the header was last built for
  let lastListing = null;  // the last listing and total, to redraw without asking again
  let serverClock = null;  // [server seconds, Date.now() then] from the last envelope
  let sequence = 0;
  let inFlight = null;

  function writeHash() {
    const hash = stateHash(state);
    if (location.hash.replace(/^#/, "") !== hash) {
      history.replaceState(null, "", hash ? `#${hash}` : location.pathname);
    }
  }

  // ---- talking to the server ---------------------------------------------------------------

  function token() {
    return sessionStorage.getItem(STORE.token) || "";
  }

  async function api(path, params, signal) {
    const query = params.toString();
    let response;
    try {
      response = await fetch(query ? `${path}?${query}` : path, {
        headers: { Authorization: token() },
        cache: "no-store",
        signal,
      });
    } catch (error) {
      if (error.name === "AbortError") throw error;
      throw new ApiError(0, "The server cannot be reached. Is it running?");
    }
    if (!response.ok) {
      let message = response.statusText;
      try {
        const body = await response.json();
        message = body?.result?.error?.message ?? body?.error ?? message;
      } catch {
        // Not JSON: keep the status text.
      }
      throw new ApiError(response.status, String(message));
    }
    return response;
  }

  async function apiJson(path, params, signal) {
    const body = await (await api(path, params, signal)).json();
    if (typeof body?.time === "number") serverClock = [body.time, Date.now()];
    return body?.result?.value ?? {};
  }

  function serverNow() {
    if (!serverClock) return Date.now() / 1000;
    return serverClock[0] + (Date.now() - serverClock[1]) / 1000;
  }

  // ---- messages ----------------------------------------------------------------------------

  function say(text, kind) {
    const box = $("message");
    box.textContent = text;
    box.className = `message ${kind}`;
    box.hidden = text === "";
  }

  function showError(error) {
    const detail = error.message ? ` ${error.message}` : "";
    switch (error.status) {
      case 400:
        say(`The server cannot use this request; check the filters.${detail}`, "error");
        break;
      case 401:
        logOut(`Please log in again.${detail}`);
        return;
      case 403:
        say(`Not allowed.${detail}`, "error");
        break;
      case 0:
        say(error.message, "error");
        break;
      default:
        say(`The server failed (HTTP ${error.status}).${detail}`, "error");
    }
    document.body.dataset.state = "error";
  }

  // ---- log in and out ----------------------------------------------------------------------

  function showLogin(text) {
    $("viewer").hidden = true;
    $("tabs").hidden = true;
    $("who").hidden = true;
    $("login").hidden = false;
    say(text, text ? "error" : "info");
    document.body.dataset.state = "login";
    $("login-user").focus();
  }

  function showViewer() {
    $("login").hidden = true;
    $("viewer").hidden = false;
    $("tabs").hidden = false;
    $("who").hidden = false;
    const role = sessionStorage.getItem(STORE.role) || "";
    $("who-name").textContent =
      `${sessionStorage.getItem(STORE.name) || ""}${role ? ` (${role})` : ""}`;
  }

  function logOut(text) {
    inFlight?.abort();
    sequence += 1;
    for (const key of Object.values(STORE)) sessionStorage.removeItem(key);
    showLogin(text);
  }

  async function logIn(event) {
    event.preventDefault();
    const username = $("login-user").value;
    const password = $("login-password").value;
    $("login-submit").disabled = true;
    document.body.dataset.state = "loading";
    say("", "info");
    try {
      const response = await fetch("/auth", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ username, password }),
      });
      const body = await response.json().catch(() => ({}));
      const value = body?.result?.value;
      if (!response.ok || typeof value?.token !== "string") {
        const message = body?.result?.error?.message ?? response.statusText;
        showLogin(response.status === 401
          ? "Wrong user name or password."
          : `Login failed (HTTP ${response.status}). ${message}`);
        return;
      }
      sessionStorage.setItem(STORE.token, value.token);
      sessionStorage.setItem(STORE.name, String(value.username ?? username));
      sessionStorage.setItem(STORE.role, String(value.role ?? ""));
      $("login-password").value = "";
      showViewer();
      load();
    } catch {
      showLogin("The server cannot be reached. Is it running?");
    } finally {
      $("login-submit").disabled = false;
    }
  }

  // ---- the table ---------------------------------------------------------------------------

  function label(key) {
    return Object.hasOwn(LABELS, key) ? LABELS[key] : key;
  }

  function effectiveSort() {
    return [state.sortname || "number", state.sortorder || "desc"];
  }

  function shownColumns() {
    const visible = new Set(columns);
    let shown = (state.cols ?? DEFAULT_COLUMNS).filter((c) => visible.has(c));
    if (shown.length === 0) shown = [...columns];
    // A filter or sort on a column that is not shown would be invisible: show the column.
    const wanted = new Set([...state.filters.keys(), state.sortname]);
    for (const key of columns) {
      if (wanted.has(key) && !shown.includes(key)) shown.push(key);
    }
    // The usual columns in their usual order, then the others in the server's order.
    const rank = (c) => (DEFAULT_COLUMNS.includes(c) ? DEFAULT_COLUMNS.indexOf(c) : 100);
    return columns.filter((c) => shown.includes(c)).sort((a, b) => rank(a) - rank(b));
  }

  function cellText(key, value) {
    if (value === null || value === undefined) return "";
    if (key === "success") return Number(value) === 1 ? "success" : "failure";
    if ((key === "date" || key === "startdate") && typeof value === "string") {
      return value.replace("T", " ").replace(/\.\d+$/, "");
    }
    if (key === "duration" && typeof value === "number") return `${value.toFixed(3)} s`;
    return String(value);
  }

  function buildHeader(shown) {
    const head = $("head");
    const filters = $("filters");
    head.replaceChildren();
    filters.replaceChildren();
    for (const key of shown) {
      const th = document.createElement("th");
      th.dataset.key = key;
      th.scope = "col";
      if (UNSORTABLE.has(key)) {
        th.textContent = label(key);
      } else {
        const button = document.createElement("button");
        button.type = "button";
        button.className = "sort";
        button.dataset.key = key;
        button.title = `Sort by ${label(key)}`;
        const text = document.createElement("span");
        text.textContent = label(key);
        const arrow = document.createElement("span");
        arrow.className = "arrow";
        arrow.setAttribute("aria-hidden", "true");
        button.append(text, arrow);
        button.addEventListener("click", () => sortBy(key));
        th.append(button);
      }
      head.append(th);

      const cell = document.createElement("th");
      if (!UNFILTERABLE.has(key)) {
        const input = document.createElement("input");
        input.type = "search";
        input.className = "filter";
        input.dataset.key = key;
        input.autocomplete = "off";
        input.spellcheck = false;
        input.placeholder = Object.hasOwn(PLACEHOLDERS, key) ? PLACEHOLDERS[key] : "filter";
        input.title = "Exact value; * matches any text (case-insensitive); a leading ! negates";
        input.setAttribute("aria-label", `Filter ${label(key)}`);
        input.addEventListener("input", () => filterChanged(false));
        input.addEventListener("keydown", (e) => {
          if (e.key === "Enter") filterChanged(true);
        });
        cell.append(input);
      }
      filters.append(cell);
    }
  }

  function syncHeader() {
    const [sortname, sortorder] = effectiveSort();
    for (const th of $("head").children) {
      const active = th.dataset.key === sortname;
      if (active) th.setAttribute("aria-sort", sortorder === "asc" ? "ascending" : "descending");
      else th.removeAttribute("aria-sort");
      const arrow = th.querySelector(".arrow");
      if (arrow) arrow.textContent = active ? (sortorder === "asc" ? "▲" : "▼") : "";
    }
    for (const input of $("filters").querySelectorAll("input")) {
      if (document.activeElement !== input) input.value = state.filters.get(input.dataset.key) ?? "";
    }
  }

  function renderTable(value, total) {
    columns = Array.isArray(value.auditcolumns) ? value.auditcolumns.map(String) : [];
    const shown = shownColumns();
    if (shown.join(",") !== shownKey) {
      buildHeader(shown);
      buildColumnChooser();
      shownKey = shown.join(",");
    }
    syncHeader();

    const data = Array.isArray(value.auditdata) ? value.auditdata : [];
    const rows = data.map((entry) => {
      const tr = document.createElement("tr");
      for (const key of shown) {
        const td = document.createElement("td");
        const raw = entry?.[key];
        const text = cellText(key, raw);
        td.textContent = text;
        td.dataset.key = key;
        if (key === "success") td.className = Number(raw) === 1 ? "ok" : "failed";
        if (text.length > 24) td.title = String(raw);
        tr.append(td);
      }
      return tr;
    });
    const count = Number(value.count) || 0;
    if (rows.length === 0) {
      const tr = document.createElement("tr");
      const td = document.createElement("td");
      td.colSpan = Math.max(shown.length, 1);
      td.className = "empty";
      td.textContent = count > 0
        ? "This page is past the last entry."
        : "No entries match these filters in this time window.";
      tr.append(td);
      rows.push(tr);
    }
    $("rows").replaceChildren(...rows);

    const first = count === 0 ? 0 : (state.page - 1) * state.pageSize + 1;
    const last = count === 0 ? 0 : first + data.length - 1;
    $("range").textContent =
      `${number.format(first)}–${number.format(last)} of ${number.format(count)} (${number.format(total)})`;
    $("range").title = "shown of matching (every entry you may see)";
    const pages = Math.max(1, Math.ceil(count / state.pageSize));
    $("page-of").textContent = `page ${number.format(state.page)} of ${number.format(pages)}`;
    $("first").disabled = state.page <= 1;
    $("prev").disabled = state.page <= 1;
    $("next").disabled = value.next === null || value.next === undefined;
    $("last").disabled = state.page >= pages;
    $("page-size").value = String(state.pageSize);
    document.body.dataset.state = count === 0 ? "empty" : "ready";
    if (count === 0) say("No entries match these filters in this time window.", "info");
    else say("", "info");
  }

  function buildColumnChooser() {
    const list = $("column-list");
    const shown = new Set(shownColumns());
    list.replaceChildren(...columns.map((key) => {
      const box = document.createElement("input");
      box.type = "checkbox";
      box.value = key;
      box.checked = shown.has(key);
      box.addEventListener("change", columnsChanged);
      const line = document.createElement("label");
      line.append(box, ` ${label(key)}`);
      return line;
    }));
  }

  function columnsChanged() {
    const chosen = [...$("column-list").querySelectorAll("input:checked")].map((b) => b.value);
    let reload = false;
    // A column taken away takes its filter and sort with it.
    for (const key of [...state.filters.keys()]) {
      if (!chosen.includes(key)) {
        state.filters.delete(key);
        reload = true;
      }
    }
    if (state.sortname && !chosen.includes(state.sortname)) {
      state.sortname = "";
      state.sortorder = "";
      reload = true;
    }
    state.cols = chosen;
    if (reload) {
      state.page = 1;
      load();
    } else {
      writeHash();
      if (lastListing) renderTable(...lastListing);
    }
  }

  // ---- actions -----------------------------------------------------------------------------

  let typing = null;

  // Reads every filter field and the search box at once, so that typing in one field and
  // then quickly in another loses neither; every other action takes in what was typed first.
  function absorbInputs() {
    clearTimeout(typing);
    let changed = false;
    const find = $("find").value.trim();
    if (find !== state.find) {
      state.find = find;
      changed = true;
    }
    for (const input of $("filters").querySelectorAll("input")) {
      const key = input.dataset.key;
      const value = input.value.trim();
      if (value === (state.filters.get(key) ?? "")) continue;
      if (value === "") state.filters.delete(key);
      else state.filters.set(key, value);
      changed = true;
    }
    if (changed) state.page = 1;
    return changed;
  }

  function applyInputs() {
    if (absorbInputs()) load();
  }

  function filterChanged(now) {
    clearTimeout(typing);
    if (now) applyInputs();
    else typing = setTimeout(applyInputs, 400);
  }

  function sortBy(key) {
    absorbInputs();
    const [sortname, sortorder] = effectiveSort();
    if (key === sortname) {
      state.sortname = key;
      state.sortorder = sortorder === "asc" ? "desc" : "asc";
    } else {
      state.sortname = key;
      state.sortorder = DESCENDING_FIRST.has(key) ? "desc" : "asc";
    }
    state.page = 1;
    load();
  }

  function goToPage(page) {
    if (absorbInputs()) page = 1;
    state.page = Math.max(1, page);
    load();
  }

  function lastPage() {
    const count = Number(lastListing?.[0]?.count) || 0;
    return Math.max(1, Math.ceil(count / state.pageSize));
  }

  function syncControls() {
    $("find").value = state.find;
    const select = $("window");
    if (![...select.options].some((o) => o.value === state.timelimit)) {
      const option = document.createElement("option");
      option.value = state.timelimit;
      option.textContent = `last ${state.timelimit}`;
      select.append(option);
    }
    select.value = state.timelimit;
    const size = $("page-size");
    if (![...size.options].some((o) => o.value === String(state.pageSize))) {
      const option = document.createElement("option");
      option.textContent = String(state.pageSize);
      size.append(option);
    }
    size.value = String(state.pageSize);
    $("tab-table").setAttribute("aria-pressed", String(state.view === "table"));
    $("tab-stats").setAttribute("aria-pressed", String(state.view === "stats"));
    $("table-view").hidden = state.view !== "table";
    $("stats-view").hidden = state.view !== "stats";
    if (lastListing) syncHeader();
  }

  async function downloadCsv() {
    const button = $("csv");
    const before = document.body.dataset.state;
    if (absorbInputs()) {
      // What was typed changes what is downloaded: show it first.
      load();
      return;
    }
    button.disabled = true;
    document.body.dataset.state = "loading";
    say("Preparing the CSV download…", "info");
    try {
      const response = await api("/audit/audit.csv", sortedParams(state));
      const blob = await response.blob();
      const disposition = response.headers.get("content-disposition") ?? "";
      const name = /filename="?([A-Za-z0-9._-]+)"?/.exec(disposition)?.[1] ?? "audit.csv";
      const url = URL.createObjectURL(blob);
      const link = document.createElement("a");
      link.href = url;
      link.download = name;
      document.body.append(link);
      link.click();
      link.remove();
      setTimeout(() => URL.revokeObjectURL(url), 60_000);
      say(`Downloaded ${name} (${number.format(blob.size)} bytes).`, "info");
      document.body.dataset.state = before;
    } catch (error) {
      showError(error);
    } finally {
      button.disabled = false;
    }
  }

  // ---- loading -----------------------------------------------------------------------------

  function load() {
    sequence += 1;
    const mine = sequence;
    inFlight?.abort();
    inFlight = new AbortController();
    const signal = inFlight.signal;
    writeHash();
    syncControls();
    document.body.dataset.state = "loading";
    const work = state.view === "stats" ? loadStatistics(signal) : loadTable(signal);
    work.then((show) => {
      if (mine === sequence) show();
    }, (error) => {
      if (mine === sequence && error.name !== "AbortError") showError(error);
    });
  }

  async function loadTable(signal) {
    const filtered = [...filterParams(state)].length > 0 || state.timelimit !== "";
    const [value, everything] = await Promise.all([
      apiJson("/audit/", listParams(state), signal),
      // The total counts every entry the caller may see: the same listing without filters.
      filtered ? apiJson("/audit/", new URLSearchParams({ page_size: "1" }), signal) : null,
    ]);
    const total = Number((everything ?? value).count) || 0;
    return () => {
      const count = Number(value.count) || 0;
      const pages = Math.max(1, Math.ceil(count / state.pageSize));
      if (state.page > pages) {
        // A shared address can point past the end of a result that has since shrunk.
        state.page = pages;
        load();
        return;
      }
      lastListing = [value, total];
      renderTable(value, total);
    };
  }

  function seconds(limit) {
    const match = /^(\d+)([smhdwy])$/.exec(limit);
    return match ? Number(match[1]) * UNIT_SECONDS[match[2]] : null;
  }

  function iso(secondsSinceEpoch) {
    return new Date(secondsSinceEpoch * 1000).toISOString().replace(/\.\d+Z$/, "Z");
  }

  async function loadStatistics(signal) {
    const now = Math.ceil(serverNow() / 60) * 60 + 60;
    let start;
    const span = state.timelimit ? seconds(state.timelimit) : null;
    if (span !== null) {
      start = now - span;
    } else {
      // All time: from the oldest matching entry, so the timeline is not mostly empty.
      const p = filterParams(state);
      if (state.timelimit) p.set("timelimit", state.timelimit);
      p.set("sortname", "date");
      p.set("sortorder", "asc");
      p.set("page_size", "1");
      const oldest = await apiJson("/audit/", p, signal);
      const date = oldest?.auditdata?.[0]?.date;
      const parsed = typeof date === "string" ? Date.parse(`${date}Z`) : NaN;
      if (Number.isNaN(parsed)) return () => renderStatistics(null);
      start = Math.floor(parsed / 60000) * 60;
    }
    const p = filterParams(state);
    p.set("start", iso(start));
    p.set("end", iso(now));
    p.set("top", "10");
    p.set("format", "svg");
    if (now - start <= 3 * 3600) p.set("bucket", "minute");
    const value = await apiJson("/audit/statistics", p, signal);
    return () => renderStatistics(value);
  }

  function renderStatistics(value) {
    const charts = $("charts");
    const total = Number(value?.total) || 0;
    if (value === null || total === 0) {
      charts.replaceChildren();
      $("stats-summary").textContent = "";
      say("No entries match these filters in this time window.", "info");
      document.body.dataset.state = "empty";
      return;
    }
    const when = (text) => String(text ?? "").replace("T", " ").replace(/:00Z$|Z$/, "");
    $("stats-summary").textContent =
      `${number.format(total)} entries, ${number.format(Number(value.success) || 0)} succeeded and ` +
      `${number.format(Number(value.fail) || 0)} failed, from ${when(value.time_start)} to ` +
      `${when(value.time_end)} UTC.`;
    const figures = [];
    for (const [key, title] of CHARTS) {
      const uri = value[key];
      // Only images that the server drew; an svg in an <img> cannot run script.
      if (typeof uri !== "string" || !uri.startsWith("data:image/")) continue;
      const figure = document.createElement("figure");
      figure.dataset.key = key;
      const img = document.createElement("img");
      img.src = uri;
      img.alt = title;
      figure.append(img);
      figures.push(figure);
    }
    charts.replaceChildren(...figures);
    say("", "info");
    document.body.dataset.state = "ready";
  }

  // ---- wiring ------------------------------------------------------------------------------

  function start() {
    $("login").addEventListener("submit", logIn);
    $("logout").addEventListener("click", () => logOut(""));
    $("find").addEventListener("input", () => filterChanged(false));
    $("find").addEventListener("keydown", (e) => {
      if (e.key === "Enter") filterChanged(true);
    });
    $("window").addEventListener("change", () => {
      absorbInputs();
      state.timelimit = $("window").value;
      state.page = 1;
      load();
    });
    $("page-size").addEventListener("change", () => {
      absorbInputs();
      state.pageSize = wholeNumber($("page-size").value, DEFAULT_PAGE_SIZE, 1000);
      state.page = 1;
      load();
    });
    $("first").addEventListener("click", () => goToPage(1));
    $("prev").addEventListener("click", () => goToPage(state.page - 1));
    $("next").addEventListener("click", () => goToPage(state.page + 1));
    $("last").addEventListener("click", () => goToPage(lastPage()));
    $("clear").addEventListener("click", () => {
      state.filters.clear();
      state.find = "";
      state.timelimit = "";
      state.page = 1;
      for (const input of $("filters").querySelectorAll("input")) input.value = "";
      load();
    });
    $("csv").addEventListener("click", downloadCsv);
    $("tab-table").addEventListener("click", () => {
      absorbInputs();
      state.view = "table";
      load();
    });
    $("tab-stats").addEventListener("click", () => {
      absorbInputs();
      state.view = "stats";
      load();
    });
    window.addEventListener("hashchange", () => {
      state = parseState(location.hash);
      if (token()) load();
    });
    syncControls();
    if (token()) {
      showViewer();
      load();
    } else {
      showLogin("");
    }
  }

  start();
})();
