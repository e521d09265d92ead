/* sluicegate dashboard script (vendored, no dependencies but the offline plotly bundle).
   Calls the JSON API with the session cookie; state-changing calls carry X-Sluice-Request. */
"use strict";
(function () {
  const $ = (sel) => document.querySelector(sel);
  const esc = (v) => String(v === null || v === undefined ? "" : v)
    .replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");

  async function api(method, path, body, isForm) {
    const opts = { method, credentials: "same-origin", headers: { "X-Sluice-Request": "1" } };
    if (body !== undefined) {
      if (isForm) { opts.body = body; } else {
        opts.headers["Content-Type"] = "application/json";
        opts.body = JSON.stringify(body);
      }
    }
    const res = await fetch(path, opts);
    let data = null;
    try { data = await res.json(); } catch (e) { data = null; }
    if (!res.ok) {
      const err = (data && data.error) || { field: null, message: res.statusText };
      throw new Error((err.field ? err.field + ": " : "") + err.message);
    }
    return data;
  }
  const fail = (target, e) => { target.innerHTML = '<p class="error" role="alert">' + esc(e.message) + "</p>"; };

  async function fillRegimes(selects) {
    try {
      const regimes = await api("GET", "/v1/regimes");
      for (const sel of selects) {
        if (!sel) continue;
        for (const r of regimes) {
          const o = document.createElement("option");
          o.value = r.id; o.textContent = r.id + (r.binding ? "" : " (what-if)");
          sel.appendChild(o);
        }
      }
      return regimes;
    } catch (e) { return []; }
  }
  async function fillChips() {
    const list = $("#chip-list");
    if (!list) return;
    try {
      for (const c of await api("GET", "/v1/chips")) {
        const o = document.createElement("option"); o.value = c.id; list.appendChild(o);
      }
    } catch (e) { /* chips are a convenience */ }
  }
  function toCsv(columns, rows) {
    const cell = (v) => {
      const s = v === null || v === undefined ? "" : (typeof v === "object" ? JSON.stringify(v) : String(v));
      return /[",\n]/.test(s) ? '"' + s.replace(/"/g, '""') + '"' : s;
    };
    return [columns.map(cell).join(",")].concat(rows.map((r) => columns.map((c) => cell(r[c])).join(","))).join("\n");
  }
  function downloadLink(text, name, label) {
    const a = document.createElement("a");
    a.href = URL.createObjectURL(new Blob([text], { type: "text/csv" }));
    a.download = name; a.textContent = label; a.id = "download-csv";
    return a;
  }

  // ---------------------------------------------------------------- overview
  const TIER_TEXT = { 1: "Tier 1", 2: "Tier 2", 3: "Tier 3" };
  async function overview() {
    const regimes = await fillRegimes([$("#map-regime")]);
    fillChips();
    drawTimeline(regimes);
    const tbody = $("#regime-table tbody");
    tbody.innerHTML = regimes.map((r) => "<tr><td>" + esc(r.id) + "</td><td>" + esc(r.title) + "</td><td>" +
      esc(r.citation) + "</td><td>" + esc(r.effective) + "</td><td>" + esc(r.end || "—") + "</td><td>" +
      esc(r.status_today) + "</td></tr>").join("");
    $("#map-form").addEventListener("submit", (ev) => { ev.preventDefault(); drawMap(); });
    drawMap();
  }
  async function drawMap() {
    const params = new URLSearchParams({ date: $("#map-date").value, chip: $("#map-chip").value });
    if ($("#map-regime").value) params.set("regime", $("#map-regime").value);
    const caption = $("#map-caption");
    try {
      const m = await api("GET", "/v1/tiers?" + params);
      let z, text, colorscale, title;
      if (m.has_tiers) {
        z = m.countries.map((c) => c.tier || 2);
        text = m.countries.map((c) => c.name + ": " + TIER_TEXT[c.tier] + " — " + c.authorization + (c.review_policy ? " (" + c.review_policy + ")" : ""));
        colorscale = [[0, "#2b7a0b"], [0.5, "#f5a300"], [1, "#a4161a"]];
        title = "AI Diffusion tier";
      } else {
        const code = { NLR: 0, LICENSE: 2 };
        z = m.countries.map((c) => (c.authorization in code ? code[c.authorization] : 1));
        text = m.countries.map((c) => c.name + ": " + c.authorization + (c.review_policy ? " (" + c.review_policy + ")" : ""));
        colorscale = [[0, "#2b7a0b"], [0.5, "#f5a300"], [1, "#a4161a"]];
        title = "licence for " + m.chip;
      }
      const groups = {};
      m.countries.forEach((c, i) => {
        const label = m.has_tiers ? TIER_TEXT[c.tier] || "no tier" : c.authorization + (c.review_policy ? " (" + c.review_policy + ")" : "");
        (groups[label] = groups[label] || []).push(c.name);
      });
      $("#map-groups").innerHTML = Object.keys(groups).sort().map((g) => "<h3>" + esc(g) + " (" + groups[g].length + ")</h3><p>" +
        groups[g].map(esc).join(", ") + "</p>").join("");
      caption.textContent = m.regime + " as of " + m.date + (m.has_tiers ? ": tiers (green 1, amber 2, red 3)" :
        ": no tiers in this regime; colour = licence needed for one " + m.chip + " (green none, amber exception, red licence)");
      Plotly.react("map", [{
        type: "choropleth", locationmode: "ISO-3", locations: m.countries.map((c) => c.alpha_3),
        z, text, hoverinfo: "text", colorscale, zmin: m.has_tiers ? 1 : 0, zmax: m.has_tiers ? 3 : 2,
        showscale: false, marker: { line: { color: "#fff", width: 0.4 } },
      }], { title: { text: title }, geo: { projection: { type: "natural earth" }, showframe: false },
        margin: { l: 0, r: 0, t: 40, b: 0 } }, { displaylogo: false, responsive: true, topojsonURL: "/static/vendor/topojson/" });
    } catch (e) { caption.textContent = "Error: " + e.message; }
  }
  function drawTimeline(regimes) {
    const today = new Date().toISOString().slice(0, 10);
    const traces = regimes.map((r, i) => ({
      type: "scatter", mode: "lines", x: [r.effective, r.end || today], y: [r.id, r.id],
      line: { width: 14, color: r.binding ? "#0b5cad" : "#98a2ad" }, name: r.id,
      hovertext: r.title + " (" + r.citation + ")", hoverinfo: "text+x",
    }));
    Plotly.react("timeline", traces, { showlegend: false, margin: { l: 260, r: 20, t: 10, b: 40 },
      xaxis: { type: "date" }, yaxis: { autorange: "reversed" } }, { displaylogo: false, responsive: true }).then((el) => {
      el.on("plotly_click", (ev) => {
        const r = regimes[ev.points[0].curveNumber];
        $("#map-regime").value = r.id;
        $("#map-date").value = r.effective;
        drawMap();
      });
    });
  }

  // ---------------------------------------------------------------- decide
  function renderDecision(d) {
    const ok = d.authorization === "LICENSE" ? "LICENSE" : "ok";
    const rows = (d.trace || []).map((t) => '<tr class="holds-' + t.holds + '"><td>' + esc(t.rule) + "</td><td>" +
      (t.holds ? "holds" : "—") + "</td><td>" + esc(t.cite) + "</td><td>" + esc(t.note) + "</td></tr>").join("");
    return '<div class="card"><p class="verdict ' + ok + '" id="verdict">' + esc(d.authorization) +
      (d.review_policy ? " — " + esc(d.review_policy) : "") + "</p>" +
      "<p>Regime " + esc(d.regime && d.regime.id) + " (" + esc(d.regime && d.regime.status) + "); classification " +
      esc(d.classification) + "; tier " + esc(d.tier === null ? "—" : d.tier) + "; " + esc(d.h100_equivalents) + " H100-equivalents</p>" +
      (d.quota ? "<p>Quota " + esc(d.quota.pool) + ": " + esc(d.quota.remaining_after) + " TPP left after this</p>" : "") +
      (d.screening ? "<p>Screening: <strong>" + esc(d.screening.decision) + "</strong></p>" : "") +
      "<h3>Citations</h3><ul>" + (d.citations || []).map((c) => "<li>" + esc(c) + "</li>").join("") + "</ul>" +
      '<table class="data"><caption>Trace: every rule evaluated, in order</caption><thead><tr><th scope="col">rule</th>' +
      '<th scope="col">holds</th><th scope="col">cite</th><th scope="col">note</th></tr></thead><tbody>' + rows + "</tbody></table></div>";
  }
  function decidePage() {
    fillRegimes([$("#d-regime"), $("#csv-regime")]);
    fillChips();
    $("#decide-form").addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const f = new FormData(ev.target);
      const txn = { id: f.get("id") || undefined, date: f.get("date"), destination: String(f.get("destination")).toUpperCase(),
        item: { chip: f.get("chip") }, quantity: Number(f.get("quantity")) };
      if (f.get("consignee_name") || f.get("consignee_headquarters")) {
        txn.consignee = {};
        if (f.get("consignee_name")) txn.consignee.name = f.get("consignee_name");
        if (f.get("consignee_headquarters")) txn.consignee.headquarters = String(f.get("consignee_headquarters")).toUpperCase();
      }
      const q = new URLSearchParams();
      if (f.get("regime")) q.set("regime", f.get("regime"));
      if (f.get("screen")) q.set("screen", "true");
      const out = $("#decision");
      try {
        const d = await api("POST", "/v1/decisions?" + q, txn);
        out.innerHTML = renderDecision(d);
        const cols = ["id", "authorization", "review_policy", "classification", "tier", "citations"];
        out.appendChild(downloadLink(toCsv(cols, [Object.assign({}, d, { citations: (d.citations || []).join("; ") })]), "decision.csv", "Download as CSV"));
      } catch (e) { fail(out, e); }
    });
    $("#csv-form").addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const f = new FormData(ev.target);
      const q = new URLSearchParams();
      if (f.get("regime")) q.set("regime", f.get("regime"));
      f.delete("regime");
      const out = $("#csv-result");
      try {
        const r = await api("POST", "/v1/decisions/csv?" + q, f, true);
        const show = ["id", "regime_id", "tier", "classification", "authorization", "review_policy", "citations", "error_field", "error_message"];
        out.innerHTML = '<table class="data" id="csv-table"><caption>' + r.rows.length + " rows decided</caption><thead><tr>" +
          show.map((c) => '<th scope="col">' + esc(c) + "</th>").join("") + "</tr></thead><tbody>" +
          r.rows.map((row) => "<tr>" + show.map((c) => "<td>" + esc(row[c]) + "</td>").join("") + "</tr>").join("") +
          "</tbody></table>";
        out.appendChild(downloadLink(toCsv(r.columns, r.rows), "decisions.csv", "Download decisions as CSV"));
      } catch (e) { fail(out, e); }
    });
  }

  // ---------------------------------------------------------------- screening
  function screeningPage() {
    $("#screen-form").addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const f = new FormData(ev.target);
      const query = { id: "dashboard", name: f.get("name") };
      if (f.get("country")) query.country = String(f.get("country")).toUpperCase();
      const out = $("#screen-result");
      try {
        const r = await api("POST", "/v1/screen", query);
        const items = (r.matches || []).map((m, i) => '<li class="card"><strong>' + esc(m.name) + "</strong> — " + esc(m.list) +
          ", score " + esc(Number(m.score).toFixed(2)) + " (" + esc(m.band || m.decision) + ")<br>" + esc(m.effect || "") +
          (m.citation ? "<br>Citation: " + esc(m.citation) : "") +
          "<details><summary>Why it matched</summary><pre>" + esc(JSON.stringify(m.explanation, null, 1)) + "</pre></details>" +
          '<button type="button" class="chain" data-id="' + esc(m.entity_id) + '" aria-label="Ownership chain of ' +
          esc(m.name) + " (" + esc(m.list) + ')">Ownership chain</button></li>').join("");
        out.innerHTML = '<p class="verdict" id="screen-decision">Decision: ' + esc(r.decision) + "</p><ol>" + items + "</ol>";
        for (const b of out.querySelectorAll("button.chain")) {
          b.addEventListener("click", () => { $("#p-id").value = b.dataset.id; resolveParty(b.dataset.id); });
        }
      } catch (e) { fail(out, e); }
    });
    $("#party-form").addEventListener("submit", (ev) => { ev.preventDefault(); resolveParty($("#p-id").value); });
  }
  async function resolveParty(id) {
    const out = $("#party-result");
    try {
      const r = await api("GET", "/v1/parties/resolve?" + new URLSearchParams({ party: id }));
      const p = r.results[0];
      if (p.error) throw new Error(p.error.field + ": " + p.error.message);
      const chain = (p.chain || []).map((c) => "<li>" + esc(c.name) + " (" + esc(c.id) + "), headquarters " +
        esc(c.headquarters || "unknown") + (c.percent !== null && c.percent !== undefined ? ", held " + esc(c.percent) + "% by the next link" :
        "") + (c.source ? " — source: " + esc(c.source) : "") + "</li>").join("");
      const owners = (p.listed_owners || []).map((o) => "<li>" + esc(o.name) + ": " + esc(o.percent) + "% (" + esc(o.status) + ")</li>").join("");
      const steps = (p.chain || []).map((c) => '<li><span class="party">' + esc(c.name) + "</span> " + esc(c.headquarters || "?") + "</li>").join("");
      out.innerHTML = '<div class="card" id="party-card" tabindex="-1"><p><strong>' + esc(p.name) + "</strong> (" + esc(p.party_id) + ")</p>" +
        (p.chain && p.chain.length > 1 ? '<ol class="chain-steps" aria-label="From the party up to its ultimate parent">' + steps + "</ol>" : "") +
        "<p>Headquarters " + esc(p.headquarters || "unknown") + " (" + esc(p.headquarters_basis) + "); ultimate parent " +
        esc(p.ultimate_parent_name || p.ultimate_parent || "—") + "; treated as listed: " + esc(p.treated_as_listed) + "</p>" +
        "<p>Listed on: " + esc((p.listed_on || []).join(", ") || "none") + "</p>" +
        "<h3>Ownership chain</h3><ol>" + (chain || "<li>none recorded</li>") + "</ol>" +
        (owners ? "<h3>Listed owners</h3><ul>" + owners + "</ul>" : "") +
        (p.ownership_rule_citation ? "<p>Citation: " + esc(p.ownership_rule_citation) + "</p>" : "") + "</div>";
      out.querySelector(".card").focus();
    } catch (e) { fail(out, e); }
  }

  // ---------------------------------------------------------------- ledger
  const fmt = (v) => (v === null || v === undefined ? "—" : Number(v).toLocaleString("en-US", { maximumFractionDigits: 0 }));
  function ledgerPage() {
    const regimeSel = $("#r-regime");
    fillRegimes([regimeSel]).then(() => { if (regimeSel.dataset.default) regimeSel.value = regimeSel.dataset.default; });
    fillChips();
    const bf = $("#balance-form");
    if (bf.querySelector("fieldset").disabled) return;
    bf.addEventListener("submit", (ev) => { ev.preventDefault(); showPools(); });
    $("#reserve-form").addEventListener("submit", reserve);
    const tf = $("#transition-form");
    if (tf) {
      tf.addEventListener("submit", async (ev) => {
        ev.preventDefault();
        const verb = (ev.submitter && ev.submitter.value) || "release";
        await transition(verb, $("#t-id").value.trim());
      });
    }
    const vb = $("#verify-button");
    if (vb) vb.addEventListener("click", verify);
    showPools();
  }
  async function showPools() {
    const f = new FormData($("#balance-form"));
    const q = new URLSearchParams();
    for (const k of ["consignee", "kind", "country", "as_of"]) { const v = String(f.get(k) || "").trim(); if (v) q.set(k, k === "country" ? v.toUpperCase() : v); }
    const section = $("#pools");
    try {
      const b = await api("GET", "/v1/ledger/balance?" + q);
      const rows = b.pools.map((p) => {
        const share = p.limit ? Math.min(1, p.used / p.limit) : 0;
        const meter = p.limit ? '<meter min="0" max="' + esc(p.limit) + '" value="' + esc(Math.min(p.used, p.limit)) + '" high="' + esc(0.9 * p.limit) +
          '" title="' + esc((share * 100).toFixed(1)) + '% used">' + esc((share * 100).toFixed(1)) + "%</meter> " + esc((share * 100).toFixed(1)) + "%" : (p.counter ? "counter" : "no limit");
        return "<tr><td>" + esc(p.pool) + "</td><td>" + esc(p.kind) + "</td><td>" + esc(p.consignee || "—") + "</td><td>" + esc(p.country || "—") +
          "</td><td>" + esc(p.period || "—") + "</td><td>" + meter + "</td><td>" + fmt(p.used) + "</td><td>" + fmt(p.limit) + "</td><td>" +
          fmt(p.remaining) + "</td><td>" + fmt(p.held) + "</td><td>" + fmt(p.confirmed) + "</td></tr>";
      }).join("");
      $("#pool-table tbody").innerHTML = rows || '<tr><td colspan="11">No pool holds anything yet.</td></tr>';
      const withLimit = b.pools.filter((p) => p.limit);
      const names = withLimit.map((p) => p.pool);
      const pct = (v, p) => (100 * v) / p.limit;
      Plotly.react("pool-plot", [
        { type: "bar", orientation: "h", name: "confirmed", y: names, x: withLimit.map((p) => pct(p.confirmed, p)), marker: { color: "#0b5cad" },
          hovertext: withLimit.map((p) => fmt(p.confirmed) + " TPP confirmed"), hoverinfo: "text" },
        { type: "bar", orientation: "h", name: "held", y: names, x: withLimit.map((p) => pct(Math.max(0, p.used - p.confirmed), p)), marker: { color: "#f5a300" },
          hovertext: withLimit.map((p) => fmt(p.used - p.confirmed) + " TPP held"), hoverinfo: "text" },
        { type: "bar", orientation: "h", name: "remaining", y: names, x: withLimit.map((p) => pct(Math.max(0, p.remaining), p)), marker: { color: "#dde1e6" },
          hovertext: withLimit.map((p) => fmt(p.remaining) + " TPP remaining of " + fmt(p.limit)), hoverinfo: "text" },
      ], { barmode: "stack", height: 120 + 34 * names.length, margin: { l: 300, r: 20, t: 30, b: 50 },
        xaxis: { title: { text: "% of the pool's limit" }, range: [0, 100] }, yaxis: { automargin: true }, legend: { orientation: "h", x: 0, y: 1.02, yanchor: "bottom" } },
      { displaylogo: false, responsive: true });
    } catch (e) { fail(section.querySelector("tbody") ? $("#pool-table tbody") : section, e); }
    showHistory();
  }
  async function showHistory() {
    const tbody = $("#history-table tbody");
    if (!tbody) return;
    try {
      const events = await api("GET", "/v1/ledger/history?limit=200");
      const state = {};
      for (const e of events) {
        if (e.kind === "reserve") state[e.reservation_id] = "held";
        else if (e.kind === "confirm") state[e.reservation_id] = "confirmed";
        else if (e.kind === "release") state[e.reservation_id] = "released";
      }
      const manage = !!$("#transition-form");
      tbody.innerHTML = events.slice().reverse().map((e) => {
        const drawn = (e.draws || []).reduce((a, d) => a + Number(d.amount || 0), 0);
        let st = e.kind === "reserve" ? state[e.reservation_id] : "";
        if (st === "held" && manage) {
          st = 'held <button type="button" class="small act" data-verb="confirm" data-id="' + esc(e.reservation_id) + '" aria-label="Confirm ' + esc(e.reservation_id) +
            '">Confirm</button> <button type="button" class="small act" data-verb="release" data-id="' + esc(e.reservation_id) + '" aria-label="Release ' + esc(e.reservation_id) + '">Release</button>';
        } else st = esc(st);
        return "<tr><td>" + esc(e.seq) + "</td><td>" + esc(String(e.recorded_at).slice(0, 19).replace("T", " ")) + "</td><td>" + esc(e.kind) +
          (e.reason ? " (" + esc(e.reason) + ")" : "") + "</td><td>" + esc(e.reservation_id || "—") + "</td><td>" + esc(e.consignee || "—") + "</td><td>" +
          esc(e.transaction_id || "—") + (e.destination ? " → " + esc(e.destination) : "") + "</td><td>" + esc(e.authorization || "—") + "</td><td>" +
          fmt(drawn) + "</td><td>" + esc(e.actor) + "</td><td>" + st + "</td></tr>";
      }).join("") || '<tr><td colspan="10">No ledger event yet.</td></tr>';
      for (const b of tbody.querySelectorAll("button.act")) b.addEventListener("click", () => transition(b.dataset.verb, b.dataset.id));
    } catch (e) { fail(tbody, e); }
  }
  async function reserve(ev) {
    ev.preventDefault();
    const f = new FormData(ev.target);
    const txn = { id: f.get("id"), date: f.get("date"), destination: String(f.get("destination")).toUpperCase(),
      item: { chip: f.get("chip") }, quantity: Number(f.get("quantity")), consignee: { id: String(f.get("consignee")).trim() } };
    const q = new URLSearchParams();
    if (f.get("regime")) q.set("regime", f.get("regime"));
    const out = $("#reserve-result");
    const opts = { method: "POST", credentials: "same-origin", headers: { "X-Sluice-Request": "1", "Content-Type": "application/json" }, body: JSON.stringify(txn) };
    if (String(f.get("idempotency_key") || "").trim()) opts.headers["Idempotency-Key"] = String(f.get("idempotency_key")).trim();
    try {
      const res = await fetch("/v1/ledger/reservations?" + q, opts);
      const d = await res.json();
      if (res.status === 409 && d.decisions) {
        out.innerHTML = '<div class="card"><p class="verdict LICENSE" id="reserve-verdict">Refused: nothing held</p><p>' + esc(d.error.message) + "</p></div>";
      } else if (!res.ok) {
        throw new Error((d.error && d.error.field ? d.error.field + ": " : "") + ((d.error && d.error.message) || res.statusText));
      } else {
        out.innerHTML = '<div class="card"><p class="verdict ' + (d.authorization === "LICENSE" ? "LICENSE" : "ok") + '" id="reserve-verdict">' + esc(d.authorization) +
          (d.review_policy ? " — " + esc(d.review_policy) : "") + ": reservation " + esc(d.reservation.id) + " " + esc(d.reservation.state) + "</p>" +
          (d.quota ? "<p>Pool " + esc(d.quota.pool) + ": " + fmt(d.quota.used_before) + " used before, " + fmt(d.quota.this) + " for this order, " +
            fmt(d.quota.remaining_after) + " TPP remaining of " + fmt(d.quota.limit) + "</p>" : "<p>No quota pool applies to this order.</p>") +
          "<p>Citations: " + esc((d.citations || []).join("; ")) + "</p></div>";
        if ($("#t-id")) $("#t-id").value = d.reservation.id;
      }
      showPools();
    } catch (e) { fail(out, e); }
  }
  async function transition(verb, id) {
    const out = $("#transition-result");
    try {
      const r = await api("POST", "/v1/ledger/reservations/" + encodeURIComponent(id) + "/" + verb);
      out.innerHTML = '<p class="card" id="transition-done">' + esc(r.reservation.id) + " is now " + esc(r.reservation.state) + " (" +
        esc((r.draws || []).map((d) => d.pool + ": " + fmt(d.amount) + " TPP").join(", ") || "no pool") + ")</p>";
      showPools();
    } catch (e) { fail(out, e); }
  }
  async function verify() {
    const out = $("#verify-result");
    out.textContent = "verifying…";
    try {
      const r = await api("GET", "/v1/audit/verify");
      out.innerHTML = '<div class="card"><p class="verdict ' + (r.intact ? "ok" : "LICENSE") + '" id="verify-verdict">' + (r.intact ? "Intact" : "BROKEN") +
        ": " + esc(r.records) + " records, head #" + esc(r.head.seq) + " " + esc(String(r.head.hash).slice(0, 16)) + "…</p>" +
        (r.problems.length ? "<ul>" + r.problems.map((p) => "<li>" + esc(p.seq === null ? p.pool || "" : "#" + p.seq) + ": " + esc(p.problem) + "</li>").join("") + "</ul>" : "") + "</div>";
    } catch (e) { fail(out, e); }
  }

  // ---------------------------------------------------------------- cloud
  const OUTCOME_CLASS = { approve: "ok", "enhanced-due-diligence": "warn", report: "warn", refuse: "LICENSE" };
  function traceTable(trace) {
    return '<table class="data"><thead><tr><th scope="col">rule</th><th scope="col">held</th><th scope="col">outcome</th><th scope="col">detail</th><th scope="col">citation</th></tr></thead><tbody>' +
      (trace || []).map((t) => '<tr class="holds-' + t.held + '"><td>' + esc(t.rule) + "</td><td>" + (t.held ? "holds" : "—") + "</td><td>" + esc(t.outcome || "") +
        "</td><td>" + esc(t.detail) + "</td><td>" + esc(t.citation || "") + "</td></tr>").join("") + "</tbody></table>";
  }
  function cloudPage() {
    const kf = $("#kyc-form");
    if (!kf.querySelector("fieldset").disabled) {
      kf.addEventListener("submit", checkCustomers);
      $("#telemetry-form").addEventListener("submit", uploadTelemetry);
    }
    const af = $("#alert-form");
    if (af) {
      af.addEventListener("submit", (ev) => { ev.preventDefault(); showAlerts(); });
      showCustomers();
      showAlerts();
    }
  }
  function parseRecords(text) {
    const t = text.trim();
    if (!t) return [];
    if (t.startsWith("[")) return JSON.parse(t);
    return t.split(/\r?\n/).filter((l) => l.trim()).map((l, i) => {
      try { return JSON.parse(l); } catch (e) { throw new Error("line " + (i + 1) + " is not JSON: " + e.message); }
    });
  }
  async function checkCustomers(ev) {
    ev.preventDefault();
    const out = $("#kyc-result");
    try {
      const file = $("#kyc-file").files[0];
      const text = file ? await file.text() : $("#kyc-text").value;
      const customers = parseRecords(text);
      if (!customers.length) throw new Error("customers: give a file or paste the records");
      const body = { customers };
      if ($("#kyc-asof").value) body.as_of = $("#kyc-asof").value;
      const r = await api("POST", "/v1/cloud/kyc", body);
      out.innerHTML = '<table class="data" id="kyc-table"><caption>' + r.results.length + " customers checked</caption><thead><tr>" +
        '<th scope="col">account</th><th scope="col">outcome</th><th scope="col">reasons</th><th scope="col">citations</th></tr></thead><tbody>' +
        r.results.map((x) => x.error ? "<tr><td>" + esc(x.account || "—") + '</td><td class="error">invalid</td><td colspan="2">' + esc(x.error.field) + ": " + esc(x.error.message) + "</td></tr>" :
          "<tr><td>" + esc(x.account) + '</td><td class="outcome ' + (OUTCOME_CLASS[x.outcome] || "") + '">' + esc(x.outcome) + "</td><td>" +
          "<ul>" + x.reasons.map((y) => "<li>" + esc(y) + "</li>").join("") + "</ul><details><summary>Trace of " + esc(x.account) + "</summary>" + traceTable(x.trace) + "</details></td><td>" +
          esc(x.citations.join("; ")) + "</td></tr>").join("") + "</tbody></table>";
      showCustomers();
    } catch (e) { fail(out, e); }
  }
  async function showCustomers() {
    const tbody = $("#customer-table tbody");
    if (!tbody) return;
    try {
      const rows = await api("GET", "/v1/cloud/customers");
      tbody.innerHTML = rows.map((c) => "<tr><td>" + esc(c.account) + "</td><td>" + esc(c.name) + "</td><td>" + esc(c.country) + '</td><td class="outcome ' +
        (OUTCOME_CLASS[c.outcome] || "") + '">' + esc(c.outcome) + "</td><td><details><summary>" + esc((c.result.reasons || [])[0] || "") + "</summary>" +
        "<p>Citations: " + esc((c.result.citations || []).join("; ")) + "</p>" + traceTable(c.result.trace) + "</details></td><td>" +
        esc(c.checked_at.slice(0, 16).replace("T", " ")) + " by " + esc(c.checked_by) + "</td></tr>").join("") || '<tr><td colspan="6">No customer checked yet.</td></tr>';
    } catch (e) { fail(tbody, e); }
  }
  async function uploadTelemetry(ev) {
    ev.preventDefault();
    const out = $("#telemetry-result");
    const f = new FormData(ev.target);
    try {
      const res = await fetch("/v1/cloud/telemetry", { method: "POST", credentials: "same-origin", headers: { "X-Sluice-Request": "1" }, body: f });
      const d = await res.json();
      if (!res.ok) throw new Error((d.error && d.error.field ? d.error.field + ": " : "") + ((d.error && d.error.message) || res.statusText));
      if (res.status === 202) { await followTelemetry(d.job); return; }
      showTelemetry(d);
    } catch (e) { fail(out, e); }
  }
  async function followTelemetry(id) {
    const box = $("#telemetry-status"), bar = $("#telemetry-progress"), state = $("#telemetry-state"), cancel = $("#telemetry-cancel");
    box.hidden = false;
    cancel.onclick = async () => { await api("DELETE", "/v1/cloud/telemetry/jobs/" + id); };
    for (;;) {
      const j = await api("GET", "/v1/cloud/telemetry/jobs/" + id);
      bar.value = j.progress; bar.textContent = Math.round(j.progress * 100) + "%";
      state.textContent = j.state + (j.error ? ": " + j.error : "") + " (" + Math.round(j.progress * 100) + "%)";
      cancel.disabled = !(j.state === "running" || j.state === "queued");
      if (j.state === "done") { showTelemetry(await api("GET", "/v1/cloud/telemetry/jobs/" + id + "/result")); return; }
      if (j.state === "failed" || j.state === "cancelled") return;
      await new Promise((r) => setTimeout(r, 500));
    }
  }
  function showTelemetry(d) {
    const s = d.summary;
    $("#telemetry-result").innerHTML = '<div class="card" id="telemetry-summary"><p>' + esc(s.file) + ": " + esc(s.rows_read) + " rows read, " + esc(s.rows_accepted) +
      " accepted, " + esc(s.rows_rejected) + " rejected, " + esc(s.rows_duplicate) + " already seen; " + esc(s.jobs) + " jobs in " + esc(s.accounts) +
      " accounts so far; " + esc(s.alerts) + " alerts.</p>" + (d.rejects.length ? "<details><summary>Rejected rows (" + esc(d.rejects_total) + ")</summary><ul>" +
      d.rejects.map((r) => "<li>row " + esc(r.row) + ": " + esc(r.reason) + "</li>").join("") + "</ul></details>" : "") + "</div>";
    showAlerts();
  }
  function evidenceList(ev) {
    return "<dl>" + Object.keys(ev || {}).map((k) => "<dt>" + esc(k.replace(/_/g, " ")) + "</dt><dd>" +
      esc(typeof ev[k] === "object" ? JSON.stringify(ev[k]) : (typeof ev[k] === "number" ? Number(ev[k]).toPrecision(4) : ev[k])) + "</dd>").join("") + "</dl>";
  }
  async function showAlerts() {
    const list = $("#alert-list");
    if (!list) return;
    const q = new URLSearchParams();
    if ($("#alert-kind").value) q.set("kind", $("#alert-kind").value);
    try {
      const r = await api("GET", "/v1/cloud/alerts?" + q);
      $("#alert-caption").textContent = r.alerts.length + " alerts over " + r.jobs + " jobs in " + r.accounts + " accounts (all telemetry so far)";
      list.innerHTML = r.alerts.map((a, i) => '<li class="card alert"><p><strong>' + esc(a.kind) + "</strong>: " + esc(a.accounts.join(", ")) +
        (a.owner ? " (beneficial owner " + esc(a.owner) + ")" : "") + " — " + esc(Number(a.operations).toExponential(2)) + " vs " + esc(a.threshold_id) + " " +
        esc(Number(a.threshold_ops).toExponential(0)) + "</p><p>Jobs: " + esc(a.jobs.join(", ")) + "</p><details><summary>Evidence of alert " + (i + 1) +
        "</summary>" + evidenceList(a.evidence) + "</details></li>").join("") || "<li>No alert.</li>";
      const labels = r.alerts.map((a, i) => (i + 1) + ". " + a.kind + " " + a.accounts.slice(0, 2).join(",") + (a.accounts.length > 2 ? "…" : ""));
      Plotly.react("alert-plot", [
        { type: "bar", orientation: "h", name: "estimated operations", y: labels, x: r.alerts.map((a) => a.operations), marker: { color: "#a4161a" } },
        { type: "scatter", mode: "markers", name: "threshold", y: labels, x: r.alerts.map((a) => a.threshold_ops), marker: { symbol: "line-ns-open", size: 18, color: "#1d2430" } },
      ], { height: 120 + 34 * labels.length, margin: { l: 320, r: 20, t: 30, b: 50 }, xaxis: { type: "log", title: { text: "operations (OP/s for clusters)" } },
        yaxis: { automargin: true, autorange: "reversed" }, legend: { orientation: "h", x: 0, y: 1.02, yanchor: "bottom" } }, { displaylogo: false, responsive: true });
    } catch (e) { fail(list, e); }
  }

  // ---------------------------------------------------------------- simulate
  const ACTORS = ["CN", "RU", "IN", "AE", "SA", "IR"];
  const COLORS = ["#a4161a", "#6a4c93", "#0b5cad", "#2b7a0b", "#f5a300", "#5b6472"];
  async function simulatePage() {
    const sel = $("#sim-scenario");
    try { for (const s of await api("GET", "/v1/scenarios")) { const o = document.createElement("option"); o.value = s; o.textContent = s; sel.appendChild(o); } } catch (e) { /* */ }
    let current = null;
    const jobsList = $("#sim-jobs");
    async function listJobs() {
      if (!jobsList) return;
      try {
        const jobs = await api("GET", "/v1/simulations");
        jobsList.innerHTML = jobs.map((j) => '<li><button type="button" class="show-job" data-id="' + esc(j.job) + '">' +
          esc(j.params.scenario) + " (" + esc(j.state) + ", " + esc(j.params.draws) + " draws)</button></li>").join("") || "<li>none yet</li>";
        for (const b of jobsList.querySelectorAll("button.show-job")) b.addEventListener("click", () => follow(b.dataset.id));
      } catch (e) { /* */ }
    }
    async function follow(id) {
      current = id;
      const bar = $("#sim-progress"), state = $("#sim-state"), cancel = $("#sim-cancel");
      for (;;) {
        let j;
        try { j = await api("GET", "/v1/simulations/" + id); } catch (e) { state.textContent = "error: " + e.message; return; }
        bar.value = j.progress; bar.textContent = Math.round(j.progress * 100) + "%";
        state.textContent = j.state + (j.error ? ": " + j.error : "") + " (" + Math.round(j.progress * 100) + "%)";
        if (cancel && !cancel.closest("fieldset").disabled) cancel.disabled = !(j.state === "running" || j.state === "queued");
        if (j.state === "done") { await show(id); listJobs(); return; }
        if (j.state === "failed" || j.state === "cancelled") { listJobs(); return; }
        if (current !== id) return;
        await new Promise((r) => setTimeout(r, 500));
      }
    }
    async function show(id) {
      const [summary, cmp] = await Promise.all([api("GET", "/v1/simulations/" + id + "/result"), api("GET", "/v1/simulations/" + id + "/comparison")]);
      const traces = [];
      ACTORS.forEach((a, i) => {
        const lag = summary.actors[a] && summary.actors[a].lag_months;
        if (!lag) return;
        const years = Object.keys(lag);
        traces.push({ x: years, y: years.map((y) => lag[y].p90), mode: "lines", line: { width: 0 }, showlegend: false, hoverinfo: "skip", legendgroup: a });
        traces.push({ x: years, y: years.map((y) => lag[y].p10), mode: "lines", line: { width: 0 }, fill: "tonexty",
          fillcolor: COLORS[i] + "33", showlegend: false, hoverinfo: "skip", legendgroup: a });
        traces.push({ x: years, y: years.map((y) => lag[y].p50), mode: "lines+markers", name: a, line: { color: COLORS[i] }, legendgroup: a });
      });
      $("#sim-result").hidden = false;
      Plotly.react("lag-plot", traces, { yaxis: { title: { text: "months behind the frontier" } }, margin: { t: 10 } }, { displaylogo: false, responsive: true });
      const rows = (cmp.frontier || []).map((r) => "<tr><td>" + esc(r.policy) + "</td><td>" + esc(r.actor) + "</td><td>" +
        esc(Number(r.delay_months_2030_p50).toFixed(2)) + "</td><td>" + esc(Number(r.compute_change_2030_p50 * 100).toFixed(1)) + "%</td><td>" +
        esc((Number(r.cost_usd_p50) / 1e9).toFixed(1)) + "</td></tr>").join("");
      $("#comparison").innerHTML = cmp.error ? '<p class="note">' + esc(cmp.error) + "</p>" : rows ?
        '<table class="data" id="comparison-table"><caption>Against ' + esc(cmp.reference) + " (paired draws)</caption><thead><tr>" +
        '<th scope="col">policy</th><th scope="col">actor</th><th scope="col">delay 2030, months (p50)</th>' +
        '<th scope="col">compute change 2030 (p50)</th><th scope="col">cost, US$ bn (p50)</th></tr></thead><tbody>' + rows + "</tbody></table>" :
        "<p>This is the baseline itself: nothing to compare.</p>";
      $("#sim-report").href = "/v1/simulations/" + id + "/report";
    }
    $("#sim-form").addEventListener("submit", async (ev) => {
      ev.preventDefault();
      $("#sim-result").hidden = true;
      try {
        const j = await api("POST", "/v1/simulations", { scenario: sel.value, draws: Number($("#sim-draws").value) });
        listJobs();
        follow(j.job);
      } catch (e) { $("#sim-state").textContent = "error: " + e.message; }
    });
    const cancel = $("#sim-cancel");
    if (cancel) cancel.addEventListener("click", async () => { if (current) { await api("DELETE", "/v1/simulations/" + current); } });
    listJobs();
  }

  const page = document.body.dataset.page;
  if (page === "overview") overview();
  else if (page === "decide") decidePage();
  else if (page === "screening") screeningPage();
  else if (page === "simulate") simulatePage();
  else if (page === "ledger") ledgerPage();
  else if (page === "cloud") cloudPage();
})();
