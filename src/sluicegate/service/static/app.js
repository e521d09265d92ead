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
      const p = await api("GET", "/v1/parties/" + encodeURIComponent(id));
      const chain = (p.chain || []).map((c) => "<li>" + esc(c.name) + " (" + esc(c.id) + "), headquarters " +
        esc(c.headquarters || "unknown") + (c.percent !== null && c.percent !== undefined ? ", held " + esc(c.percent) + "% by the next link" :
        "") + (c.source ? " — source: " + esc(c.source) : "") + "</li>").join("");
      const owners = (p.listed_owners || []).map((o) => "<li>" + esc(o.name) + ": " + esc(o.percent) + "% (" + esc(o.status) + ")</li>").join("");
      out.innerHTML = '<div class="card" id="party-card" tabindex="-1"><p><strong>' + esc(p.name) + "</strong> (" + esc(p.party_id) + ")</p>" +
        "<p>Headquarters " + esc(p.headquarters || "unknown") + " (" + esc(p.headquarters_basis) + "); ultimate parent " +
        esc(p.ultimate_parent_name || p.ultimate_parent || "—") + "; treated as listed: " + esc(p.treated_as_listed) + "</p>" +
        "<p>Listed on: " + esc((p.listed_on || []).join(", ") || "none") + "</p>" +
        "<h3>Ownership chain</h3><ol>" + (chain || "<li>none recorded</li>") + "</ol>" +
        (owners ? "<h3>Listed owners</h3><ul>" + owners + "</ul>" : "") +
        (p.ownership_rule_citation ? "<p>Citation: " + esc(p.ownership_rule_citation) + "</p>" : "") + "</div>";
      out.querySelector(".card").focus();
    } catch (e) { fail(out, e); }
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
})();
