// ugnos web console: runs SQL through /api/v1/query and shows the result
// as a table and, for time series, as an SVG line chart. No libraries and
// no build step; everything is served by ugnos itself.
//
// The query API answers {"columns":[{"name","type"}],"rows":[[…]]} with
// timestamps as RFC 3339 text; errors are JSON with a SQLSTATE and a
// message.
"use strict";

(function () {
  const MAX_TABLE_ROWS = 2000;  // rows rendered in the result table
  const MAX_LINES = 24;         // lines drawn in the chart
  const COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b",
    "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"];
  const SVG = "http://www.w3.org/2000/svg";

  const $ = (id) => document.getElementById(id);
  const els = {
    db: $("db"), dbform: $("dbform"), dblist: $("dblist"), sql: $("sql"), editor: $("editor"),
    run: $("run"), status: $("status"), error: $("error"), errorCode: $("error-code"),
    errorMessage: $("error-message"), tables: $("tables"), refresh: $("refresh"),
    resultSection: $("result-section"), result: $("result"), note: $("result-note"),
    chartSection: $("chart-section"), chart: $("chart"), legend: $("legend"),
  };

  // query runs one statement and returns {columns, rows}; it throws an
  // Error with .sqlstate on failure.
  async function query(db, q) {
    const params = new URLSearchParams({ db: db, q: q });
    let resp;
    if (q.length < 4000) {
      resp = await fetch("/api/v1/query?" + params, { headers: { Accept: "application/json" } });
    } else {
      resp = await fetch("/api/v1/query?" + new URLSearchParams({ db: db }), {
        method: "POST",
        headers: { Accept: "application/json", "Content-Type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams({ db: db, q: q }),
      });
    }
    const text = await resp.text();
    let body = null;
    try { body = text ? JSON.parse(text) : null; } catch (e) { body = null; }
    if (!resp.ok || !body || body.error) {
      const src = (body && typeof body.error === "object" && body.error) || body || {};
      const err = new Error(src.message || (typeof body?.error === "string" ? body.error : "") ||
        text.trim() || resp.status + " " + resp.statusText);
      err.sqlstate = src.sqlstate || src.code || "";
      err.status = resp.status;
      throw err;
    }
    return { columns: body.columns || [], rows: body.rows || [] };
  }

  function showError(err) {
    els.errorCode.textContent = err.sqlstate ? err.sqlstate : (err.status ? "HTTP " + err.status : "");
    els.errorMessage.textContent = err.message;
    els.error.hidden = false;
  }

  function clearError() {
    els.error.hidden = true;
    els.errorCode.textContent = "";
    els.errorMessage.textContent = "";
  }

  function db() { return els.db.value.trim() || "postgres"; }

  // Column kinds from the API's type names (PostgreSQL's), with a look at
  // the values when the name says nothing.
  function kindOf(col, rows, i) {
    const t = String(col.type || "").toLowerCase();
    if (/^timestamp|timestamptz|^date$/.test(t)) return "time";
    if (/int|float|double|numeric|decimal|real|serial|number/.test(t)) return "number";
    if (/text|char|string|utf8|name|uuid/.test(t)) return "text";
    if (/bool/.test(t)) return "bool";
    for (const r of rows) {
      const v = r[i];
      if (v === null || v === undefined) continue;
      if (typeof v === "number") return "number";
      if (typeof v === "boolean") return "bool";
      if (typeof v === "string" && /^\d{4}-\d\d-\d\dT\d\d:\d\d/.test(v)) return "time";
      return "text";
    }
    return "text";
  }

  function renderTable(res, kinds) {
    const thead = els.result.tHead, tbody = els.result.tBodies[0];
    thead.replaceChildren();
    tbody.replaceChildren();
    const hr = thead.insertRow();
    res.columns.forEach((c) => {
      const th = document.createElement("th");
      th.scope = "col";
      th.textContent = c.name;
      if (c.type) {
        const ty = document.createElement("span");
        ty.className = "type";
        ty.textContent = c.type;
        th.appendChild(ty);
      }
      hr.appendChild(th);
    });
    const n = Math.min(res.rows.length, MAX_TABLE_ROWS);
    const frag = document.createDocumentFragment();
    for (let r = 0; r < n; r++) {
      const tr = document.createElement("tr");
      res.rows[r].forEach((v, i) => {
        const td = document.createElement("td");
        if (v === null || v === undefined) {
          td.textContent = "NULL";
          td.className = "null";
        } else {
          td.textContent = typeof v === "object" ? JSON.stringify(v) : String(v);
          if (kinds[i] === "number") td.className = "num";
        }
        tr.appendChild(td);
      });
      frag.appendChild(tr);
    }
    tbody.appendChild(frag);
    els.note.textContent = res.rows.length > n
      ? "Showing " + n + " of " + res.rows.length + " rows." : "";
    els.resultSection.hidden = false;
  }

  // seriesOf groups the rows into lines: one per numeric column, or per
  // group of the first text column and numeric column.
  function seriesOf(res, kinds) {
    const ti = kinds.indexOf("time");
    if (ti < 0) return [];
    const nums = kinds.map((k, i) => (k === "number" ? i : -1)).filter((i) => i >= 0);
    if (nums.length === 0) return [];
    const gi = kinds.indexOf("text");
    const lines = new Map();
    for (const row of res.rows) {
      const t = Date.parse(row[ti]);
      if (!Number.isFinite(t)) continue;
      const group = gi >= 0 ? String(row[gi]) : null;
      for (const ni of nums) {
        const v = typeof row[ni] === "number" ? row[ni] : Number(row[ni]);
        if (row[ni] === null || !Number.isFinite(v)) continue;
        const name = group === null ? res.columns[ni].name
          : (nums.length > 1 ? group + " · " + res.columns[ni].name : group);
        let line = lines.get(name);
        if (!line) {
          if (lines.size >= MAX_LINES) continue;
          line = { name: name, points: [] };
          lines.set(name, line);
        }
        line.points.push([t, v]);
      }
    }
    const out = [...lines.values()];
    out.forEach((l) => l.points.sort((a, b) => a[0] - b[0]));
    return out;
  }

  function svgEl(name, attrs) {
    const e = document.createElementNS(SVG, name);
    for (const k in attrs) e.setAttribute(k, attrs[k]);
    return e;
  }

  function fmtNum(v) {
    const a = Math.abs(v);
    if (a !== 0 && (a >= 1e6 || a < 1e-3)) return v.toExponential(2);
    return String(Math.round(v * 1000) / 1000);
  }

  function fmtTime(ms, span) {
    const iso = new Date(ms).toISOString();
    if (span > 2 * 86400e3) return iso.slice(0, 10) + " " + iso.slice(11, 16);
    return iso.slice(11, 19);
  }

  function renderChart(res, kinds) {
    const lines = seriesOf(res, kinds);
    els.chart.replaceChildren();
    els.legend.replaceChildren();
    if (lines.length === 0) {
      els.chartSection.hidden = true;
      return;
    }
    const W = 900, H = 280, L = 64, R = 12, T = 12, B = 28;
    let t0 = Infinity, t1 = -Infinity, v0 = Infinity, v1 = -Infinity;
    for (const l of lines) for (const [t, v] of l.points) {
      if (t < t0) t0 = t; if (t > t1) t1 = t;
      if (v < v0) v0 = v; if (v > v1) v1 = v;
    }
    if (t0 === t1) { t0 -= 1000; t1 += 1000; }
    if (v0 === v1) { v0 -= 1; v1 += 1; }
    const x = (t) => L + ((t - t0) / (t1 - t0)) * (W - L - R);
    const y = (v) => T + (1 - (v - v0) / (v1 - v0)) * (H - T - B);
    const svg = svgEl("svg", {
      viewBox: "0 0 " + W + " " + H, preserveAspectRatio: "none", role: "img",
      "aria-label": "Line chart of " + lines.map((l) => l.name).join(", ") + " over time",
    });
    svg.appendChild(svgEl("line", { class: "axis", x1: L, y1: H - B, x2: W - R, y2: H - B }));
    svg.appendChild(svgEl("line", { class: "axis", x1: L, y1: T, x2: L, y2: H - B }));
    for (let k = 0; k <= 4; k++) {
      const v = v0 + ((v1 - v0) * k) / 4;
      const ty = svgEl("text", { x: L - 6, y: y(v) + 4, "text-anchor": "end" });
      ty.textContent = fmtNum(v);
      svg.appendChild(ty);
      const t = t0 + ((t1 - t0) * k) / 4;
      const tx = svgEl("text", { x: x(t), y: H - 8, "text-anchor": k === 0 ? "start" : k === 4 ? "end" : "middle" });
      tx.textContent = fmtTime(t, t1 - t0);
      svg.appendChild(tx);
    }
    lines.forEach((l, i) => {
      const color = COLORS[i % COLORS.length];
      const d = l.points.map(([t, v], j) => (j ? "L" : "M") + x(t).toFixed(1) + " " + y(v).toFixed(1)).join(" ");
      const path = svgEl("path", { class: "line", d: d, stroke: color, "data-series": l.name });
      const title = svgEl("title", {});
      title.textContent = l.name;
      path.appendChild(title);
      svg.appendChild(path);
      if (l.points.length === 1) {
        svg.appendChild(svgEl("circle", { cx: x(l.points[0][0]), cy: y(l.points[0][1]), r: 3, fill: color }));
      }
      const li = document.createElement("li");
      const sw = document.createElement("span");
      sw.className = "swatch";
      sw.style.background = color;
      li.append(sw, l.name);
      els.legend.appendChild(li);
    });
    els.chart.appendChild(svg);
    els.chartSection.hidden = false;
  }

  let running = false;
  async function run() {
    const q = els.sql.value.trim();
    if (!q || running) return;
    running = true;
    els.run.disabled = true;
    els.status.textContent = "Running…";
    clearError();
    const started = performance.now();
    try {
      const res = await query(db(), q);
      const kinds = res.columns.map((c, i) => kindOf(c, res.rows, i));
      renderTable(res, kinds);
      renderChart(res, kinds);
      const ms = Math.round(performance.now() - started);
      els.status.textContent = res.rows.length + (res.rows.length === 1 ? " row" : " rows") + " in " + ms + " ms";
      save();
      if (/^\s*(create|drop|alter)\b/i.test(q)) loadTables();
    } catch (err) {
      els.status.textContent = "Failed";
      els.resultSection.hidden = true;
      els.chartSection.hidden = true;
      showError(err);
    } finally {
      running = false;
      els.run.disabled = false;
    }
  }

  function quoteIdent(s) {
    return /^[a-z_][a-z0-9_]*$/.test(s) ? s : '"' + s.replace(/"/g, '""') + '"';
  }

  async function loadTables() {
    try {
      const res = await query(db(), "SELECT table_name FROM information_schema.tables WHERE table_schema='public' ORDER BY table_name");
      els.tables.replaceChildren();
      for (const [name] of res.rows) {
        const li = document.createElement("li");
        const b = document.createElement("button");
        b.type = "button";
        b.textContent = name;
        b.title = "Show the latest rows of " + name;
        b.addEventListener("click", () => {
          els.sql.value = "SELECT * FROM " + quoteIdent(name) + " ORDER BY time DESC LIMIT 100";
          run();
        });
        li.appendChild(b);
        els.tables.appendChild(li);
      }
      if (res.rows.length === 0) {
        const li = document.createElement("li");
        li.className = "hint";
        li.textContent = "No tables";
        els.tables.appendChild(li);
      }
    } catch (err) {
      els.tables.replaceChildren();
      const li = document.createElement("li");
      li.className = "hint";
      li.textContent = "Tables unavailable: " + err.message;
      els.tables.appendChild(li);
    }
  }

  async function loadDatabases() {
    try {
      const res = await query("postgres", "SELECT datname FROM pg_database ORDER BY datname");
      els.dblist.replaceChildren(...res.rows.map(([n]) => {
        const o = document.createElement("option");
        o.value = n;
        return o;
      }));
    } catch (err) { /* the field still takes any name */ }
  }

  function save() {
    try {
      localStorage.setItem("ugnos.db", db());
      localStorage.setItem("ugnos.sql", els.sql.value);
    } catch (e) { /* storage may be off */ }
  }

  function restore() {
    try {
      const params = new URLSearchParams(location.search);
      const d = params.get("db") || localStorage.getItem("ugnos.db");
      const q = params.get("q") || localStorage.getItem("ugnos.sql");
      if (d) els.db.value = d;
      if (q) els.sql.value = q;
    } catch (e) { /* storage may be off */ }
  }

  els.editor.addEventListener("submit", (e) => { e.preventDefault(); run(); });
  els.sql.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) {
      e.preventDefault();
      run();
    }
  });
  els.dbform.addEventListener("submit", (e) => { e.preventDefault(); save(); loadTables(); });
  els.db.addEventListener("change", () => { save(); loadTables(); });
  els.refresh.addEventListener("click", loadTables);

  restore();
  loadTables();
  loadDatabases();
})();
