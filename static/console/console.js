/* The console's behaviour: one live socket per page, sparklines, uPlot charts, relative times. */
"use strict";
const Console = (() => {
  const $ = (sel, root = document) => root.querySelector(sel);
  const $$ = (sel, root = document) => Array.from(root.querySelectorAll(sel));
  const csrf = () => $('meta[name="csrf-token"]').content;
  const esc = (s) => String(s ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
  const css = (name) => getComputedStyle(document.documentElement).getPropertyValue(name).trim();
  const epoch = (iso) => Date.parse(iso) / 1000;
  const PALETTE = ["--accent", "--green", "--orange", "--purple", "--red", "--yellow", "--blue", "--grey"];

  /* One WebSocket to /api/ws/live with the page's subscriptions; answers heartbeats; reconnects with backoff. */
  function live(subscriptions, onFrame) {
    const state = $("#live-state");
    let delay = 1000;
    const url = `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/api/ws/live?defaults=none`;
    // pages without live updates (storage) never show the indicator
    const show = (cls, text) => { if (state) { state.hidden = false; state.className = `live-state ${cls}`; state.textContent = text; } };
    show("", "connecting…");
    function connect() {
      const ws = new WebSocket(url);
      ws.onopen = () => {
        delay = 1000;
        subscriptions.forEach((s) => ws.send(JSON.stringify({ type: "subscribe", ...s })));
        show("on", "live");
      };
      ws.onmessage = (event) => {
        let frame;
        try { frame = JSON.parse(event.data); } catch { return; }
        if (frame.type === "heartbeat") ws.send(JSON.stringify({ type: "heartbeat" }));  /* answered: never closed as silent */
        else if (frame.type === "error") console.warn("live:", frame.error);
        else onFrame(frame);
      };
      ws.onclose = () => { show("off", "reconnecting…"); setTimeout(connect, delay); delay = Math.min(delay * 2, 15000); };
    }
    connect();
  }

  function ago(seconds) {
    if (seconds < 5) return "just now";
    if (seconds < 60) return `${Math.round(seconds)}s ago`;
    if (seconds < 3600) return `${Math.round(seconds / 60)}m ago`;
    if (seconds < 86400) return `${Math.round(seconds / 3600)}h ago`;
    return `${Math.round(seconds / 86400)}d ago`;
  }
  function relativeTimes() {
    const now = Date.now() / 1000;
    $$("time[data-ts]").forEach((t) => {
      const ts = parseFloat(t.dataset.ts);
      if (!isNaN(ts)) { t.textContent = ago(now - ts); t.title = new Date(ts * 1000).toLocaleString(); }
    });
  }
  setInterval(relativeTimes, 5000);
  document.addEventListener("DOMContentLoaded", relativeTimes);
  document.addEventListener("htmx:afterSwap", relativeTimes);

  function spark(svg, values) {
    const line = $("polyline", svg);
    if (!values.length) { line.setAttribute("points", ""); return; }
    const lo = Math.min(...values, 0), hi = Math.max(...values, 100);
    const n = values.length;
    line.setAttribute("points", values.map((v, i) => `${n === 1 ? 100 : (i / (n - 1)) * 100},${24 - ((v - lo) / (hi - lo || 1)) * 22 - 1}`).join(" "));
  }
  const sparkValues = (svg) => (svg.dataset.values || "").split(",").filter((x) => x !== "").map(Number);

  function heat(cell, value) {
    cell.classList.toggle("hot", value >= 90);
    cell.classList.toggle("warm", value >= 75 && value < 90);
  }

  /* Fleet: headline figures and status move live; statuses age without a reload. */
  function fleetPage() {
    const table = $("#fleet");
    const stale = parseInt(table.dataset.stale, 10), down = parseInt(table.dataset.down, 10);
    $$(".figure", table).forEach((cell) => {
      const values = sparkValues($(".spark", cell));
      spark($(".spark", cell), values);
      if (values.length) heat(cell, values[values.length - 1]);
    });
    function restatus() {
      const now = Date.now() / 1000, counts = { up: 0, stale: 0, down: 0 };
      $$("tr[data-server]", table).forEach((row) => {
        const seen = parseFloat(row.dataset.lastSeen);
        const age = isNaN(seen) ? Infinity : now - seen;
        const status = age <= stale ? "up" : age <= down ? "stale" : "down";
        counts[status] += 1;
        const badge = $(".status-cell .badge", row);
        badge.className = `badge status-${status}`;
        badge.textContent = status[0].toUpperCase() + status.slice(1);
      });
      Object.entries(counts).forEach(([k, n]) => { const el = $(`[data-count="${k}"]`); if (el) el.textContent = n; });
    }
    setInterval(restatus, 5000);
    live([{ subscription_type: "fleet" }, { subscription_type: "alerts" }], (frame) => {
      if (frame.type === "server_update") {
        const row = $(`tr[data-server="${frame.server_id}"]`, table);
        if (!row) return;
        Object.entries(frame.latest).forEach(([kind, value]) => {
          const cell = $(`.figure[data-kind="${kind}"]`, row);
          if (!cell) return;
          $(".value", cell).innerHTML = `${value.toFixed(1)}<small>%</small>`;
          const svg = $(".spark", cell);
          const values = sparkValues(svg).concat([value]).slice(-30);
          svg.dataset.values = values.join(",");
          spark(svg, values);
          heat(cell, value);
        });
        row.classList.remove("fresh"); void row.offsetWidth; row.classList.add("fresh");
      } else if (frame.type === "health_update") {
        const row = $(`tr[data-server="${frame.data.server_id}"]`, table);
        if (!row) return;
        row.dataset.lastSeen = epoch(frame.data.last_seen);
        const t = $("time", row.lastElementChild);
        if (t) t.dataset.ts = row.dataset.lastSeen;
        restatus(); relativeTimes();
      } else if (frame.type === "alert_triggered") {
        prependAlert($("#alert-feed"), frame.data);
      }
    });
  }

  function prependAlert(list, a) {
    if (!list || !a) return;
    const empty = $(".empty", list); if (empty) empty.remove();
    const existing = $(`li[data-alert="${a.id}"]`, list); if (existing) existing.remove();
    const li = document.createElement("li");
    li.dataset.alert = a.id;
    li.innerHTML = `<span class="badge state-${esc(a.state)}">${esc(a.state)}</span> <span class="badge sev-${esc(a.severity)}">${esc(a.severity)}</span> <a href="/console/alerts/${esc(a.id)}">${esc(a.rule)}</a><div class="muted small">${esc(a.server || "fleet")} · ${esc(a.summary || "")}</div>`;
    list.prepend(li);
  }

  /* Charts: one uPlot per (metric type, name), one line per label set; extended by live frames. */
  function chartGrid(container, { liveServer = null } = {}) {
    const charts = new Map(); // key -> {plot, lines: [{series_id, points}], el}
    const bySeries = new Map(); // series_id -> [chart, line]
    let windowSeconds = parseFloat(container.dataset.window || "3600");
    let dataTo = null; // end of the range the server answered (seconds)
    let reloading = null;
    let annotations = []; // deploys and notes: [{ts, kind, title}], drawn as vertical marks

    function marks(u) {
      const ctx = u.ctx, right = u.bbox.left + u.bbox.width;
      annotations.forEach((a) => {
        const x = u.valToPos(a.ts, "x", true);
        if (x < u.bbox.left || x > right) return;
        ctx.save(); ctx.strokeStyle = css("--purple"); ctx.setLineDash([2, 3]); ctx.lineWidth = 1;
        ctx.beginPath(); ctx.moveTo(x, u.bbox.top); ctx.lineTo(x, u.bbox.top + u.bbox.height); ctx.stroke();
        ctx.fillStyle = css("--purple"); ctx.font = `10px ${css("--font")}`; const label = a.title.slice(0, 24), w = ctx.measureText(label).width;
        ctx.fillText(label, x + 3 + w > right ? x - 3 - w : x + 3, u.bbox.top + 10);
        ctx.restore();
      });
    }

    let lastGroup = null;
    let maxSeriesId = Infinity; // series above it are new since the load: reload to draw them
    const folded = new Set(); // series drawn inside an "other" line
    const pickedKey = `charts:${container.dataset.server || ""}`;
    const picked = new Set(JSON.parse(localStorage.getItem(pickedKey) || "[]"));
    function dataUrl() {
      const url = new URL(container.dataset.url, location.href);
      if (picked.size) url.searchParams.set("add", Array.from(picked).join(","));
      return url;
    }
    function picker(catalog) {
      if (!catalog || !catalog.length || !container.dataset.server) return;
      const box = document.createElement("div");
      box.className = "chart-picker";
      box.innerHTML = `<label>Add a chart <select><option value="">${catalog.length} more…</option>${catalog.map((c) => `<option value="${esc(c.key)}">${esc(c.key)} (${c.series})</option>`).join("")}</select></label>`;
      $("select", box).addEventListener("change", (event) => {
        if (!event.target.value) return;
        picked.add(event.target.value);
        localStorage.setItem(pickedKey, JSON.stringify(Array.from(picked)));
        load();
      });
      container.append(box);
    }

    // The x axis always shows the range asked for (15m … 30d): a series with one or two points
    // must not stretch it over years. Live frames slide it forward with the clock (extend).
    function xRange() {
      const to = dataTo || Date.now() / 1000;
      return [to - windowSeconds, to];
    }

    function axis() {
      return { stroke: css("--muted"), grid: { stroke: css("--line"), width: 1 }, ticks: { stroke: css("--line"), width: 1 }, font: `11px ${css("--font")}` };
    }
    function table(lines) {
      return uPlot.join(lines.map((l) => [l.points.map((p) => p[0]), l.points.map((p) => p[1])]));
    }
    function make(chart) {
      if (chart.group && chart.group !== lastGroup) {
        lastGroup = chart.group;
        const heading = document.createElement("h2");
        heading.className = "chart-group";
        heading.textContent = chart.group;
        container.append(heading);
      }
      const el = document.createElement("div");
      el.className = "chart";
      el.dataset.chart = chart.key;
      el.dataset.lines = chart.lines.length;
      el.innerHTML = `<h3><span>${esc(chart.key)}</span><span class="now"></span></h3><div class="plot"></div>`;
      container.append(el);
      const plotEl = $(".plot", el);
      const threshold = parseFloat(container.dataset.threshold);
      const opts = {
        width: plotEl.clientWidth || 400, height: 170,
        cursor: { drag: { x: true, y: false } },
        legend: { show: chart.lines.length > 1 },
        scales: { x: { time: true, range: xRange }, y: isNaN(threshold) ? {} : { range: (u, lo, hi) => [Math.min(lo ?? threshold, threshold) * 0.95, Math.max(hi ?? threshold, threshold) * 1.05] } },
        // the y axis is as wide as its longest tick label (uptime in seconds, bytes per second)
        axes: [axis(), { ...axis(), size: (u, values) => Math.max(46, 14 + 7 * Math.max(0, ...(values || []).map((v) => String(v).length))) }],
        series: [{}].concat(chart.lines.map((l, i) => ({
          label: l.label, stroke: css(PALETTE[i % PALETTE.length]), width: 1.5, spanGaps: true, // uPlot shows the points themselves when they are few
          fill: chart.lines.length === 1 ? `color-mix(in srgb, ${css("--accent")} 12%, transparent)` : undefined,
        }))),
        hooks: { draw: [marks].concat(isNaN(threshold) ? [] : [(u) => {
          const ctx = u.ctx;
          // the alert's span (started .. resolved or now), then the threshold
          const from = parseFloat(container.dataset.markFrom), to = parseFloat(container.dataset.markTo) || Date.now() / 1000;
          if (!isNaN(from)) {
            const x0 = Math.max(u.bbox.left, u.valToPos(from, "x", true)), x1 = Math.min(u.bbox.left + u.bbox.width, u.valToPos(to, "x", true));
            ctx.save(); ctx.fillStyle = `color-mix(in srgb, ${css("--red")} 10%, transparent)`;
            ctx.fillRect(x0, u.bbox.top, Math.max(0, x1 - x0), u.bbox.height); ctx.restore();
          }
          const y = u.valToPos(threshold, "y", true);
          ctx.save(); ctx.strokeStyle = css("--red"); ctx.setLineDash([5, 4]); ctx.lineWidth = 1;
          ctx.beginPath(); ctx.moveTo(u.bbox.left, y); ctx.lineTo(u.bbox.left + u.bbox.width, y); ctx.stroke(); ctx.restore();
        }]) },
      };
      const entry = { key: chart.key, lines: chart.lines, el };
      entry.plot = new uPlot(opts, table(chart.lines), plotEl);
      charts.set(chart.key, entry);
      chart.lines.forEach((line) => {
        if (line.other) line.folded.forEach((id) => folded.add(id)); // summed server-side; redrawn on reload
        else bySeries.set(line.series_id, [entry, line]);
      });
      showNow(entry);
    }
    function showNow(entry) {
      const line = entry.lines[0];
      const last = line && line.points[line.points.length - 1];
      $(".now", entry.el).textContent = last ? (+last[1]).toFixed(2) : "";
    }
    async function load() {
      const response = await fetch(dataUrl(), { credentials: "same-origin" });
      if (!response.ok) { container.innerHTML = `<div class="card empty">Could not load the charts (${response.status}).</div>`; return; }
      const data = await response.json();
      windowSeconds = data.to - data.from;
      dataTo = data.to;
      annotations = data.annotations || [];
      container.dataset.annotations = annotations.length;
      charts.forEach((c) => { c.plot.destroy(); c.el.remove(); });
      charts.clear(); bySeries.clear(); folded.clear();
      $$(".empty, .chart-group, .chart-picker", container).forEach((e) => e.remove());
      lastGroup = null;
      maxSeriesId = data.max_series_id ?? Infinity;
      if (!data.charts.length) container.innerHTML = `<div class="card empty">No data in this range.</div>`;
      data.charts.forEach(make);
      picker(data.catalog);
      container.dataset.loaded = "true";
    }
    function extend(frame) {
      const touched = new Set();
      let unknown = false;
      frame.series.forEach((s) => {
        const found = bySeries.get(s.series_id);
        if (!found) { if (!folded.has(s.series_id) && s.series_id > maxSeriesId) unknown = true; return; }
        const [entry, line] = found;
        s.points.forEach(([iso, v]) => line.points.push([epoch(iso), v]));
        line.points.sort((a, b) => a[0] - b[0]);
        const floor = Date.now() / 1000 - windowSeconds;
        while (line.points.length && line.points[0][0] < floor) line.points.shift();
        touched.add(entry);
      });
      if (touched.size) dataTo = Math.max(dataTo || 0, Date.now() / 1000);
      touched.forEach((entry) => { entry.plot.setData(table(entry.lines)); showNow(entry); entry.el.dataset.updated = Date.now(); });
      if (unknown && !reloading) reloading = setTimeout(() => { reloading = null; load(); }, 1500);
    }
    window.addEventListener("resize", () => charts.forEach((c) => c.plot.setSize({ width: $(".plot", c.el).clientWidth, height: 170 })));
    load();
    return { extend, load };
  }

  function prependRow(tbody, html, limit = 200) {
    const placeholder = $("tr.placeholder", tbody); if (placeholder) placeholder.remove();
    tbody.insertAdjacentHTML("afterbegin", html);
    const row = tbody.firstElementChild; if (row) row.classList.add("fresh");
    while (tbody.children.length > limit) tbody.lastElementChild.remove();
  }
  const logRow = (l, time) => `<tr><td class="nowrap muted">${esc(time)}</td><td><span class="lvl lvl-${esc(l.level)}">${esc(l.level)}</span></td><td class="muted">${esc(l.service)}</td><td class="logmsg">${esc(String(l.message).slice(0, 400))}</td></tr>`;
  const clock = (iso) => new Date(iso).toLocaleTimeString([], { hour12: false });

  /* The latest snapshot (GET /api/v1/servers/{id}/snapshot): seed 000 figures and the process table. */
  function figure(key, value) {
    if (typeof value !== "number") return esc(JSON.stringify(value));
    if (/_usage$|percent/.test(key)) return `${value.toFixed(1)} %`;
    if (/bytes_per_sec$/.test(key)) return `${bytes(value)}/s`;
    if (/bytes$/.test(key)) return bytes(value);
    if (key === "uptime_seconds") return `${Math.floor(value / 86400)}d ${Math.floor((value % 86400) / 3600)}h ${Math.floor((value % 3600) / 60)}m`;
    return value.toLocaleString();
  }
  function bytes(n) {
    const units = ["B", "KiB", "MiB", "GiB", "TiB"];
    let i = 0;
    while (Math.abs(n) >= 1024 && i < units.length - 1) { n /= 1024; i += 1; }
    return `${n.toFixed(i ? 1 : 0)} ${units[i]}`;
  }
  function renderSnapshot(s) {
    const facts = $("#snapshot-facts"), rows = $("#process-rows");
    if (!facts || !s) return;
    const p = s.payload || {};
    const head = [
      ["Received", `<time data-ts="${epoch(s.received_at)}"></time>`],
      ["Score", s.score == null ? '<span class="muted">–</span>' : `<span class="score" style="--score: ${+s.score}">${(+s.score).toFixed(2)}</span>`],
      ["Local alerts", (p.local_alerts || []).map((a) => `<span class="badge sev-warning">${esc(a)}</span>`).join(" ") || '<span class="muted">none</span>'],
    ];
    if (p.os || p.agent_version) head.push(["Agent", esc([p.os, p.agent_version && `agent ${p.agent_version}`].filter(Boolean).join(" · "))]);
    const metrics = Object.entries(p.metrics || {}).map(([k, v]) => [esc(k), figure(k, v)]);
    facts.innerHTML = head.concat(metrics).map(([k, v]) => `<dt>${k}</dt><dd>${v}</dd>`).join("");
    $("#process-count").textContent = (s.processes || []).length;
    rows.innerHTML = (s.processes || []).map((r) => `<tr><td class="muted">${esc(r.pid)}</td><td>${esc(r.name)}</td><td class="num">${(+r.cpu_percent).toFixed(1)}</td><td class="num">${(+r.memory_mb).toFixed(1)}</td></tr>`).join("")
      || '<tr><td colspan="4" class="empty">No process table received.</td></tr>';
    relativeTimes();
  }
  function snapshotCard() {
    const card = $("#snapshot");
    const data = $("#snapshot-data");
    renderSnapshot(data ? JSON.parse(data.textContent) : null);
    let last = 0;
    return async () => {
      if (!card || Date.now() - last < 5000) return;
      last = Date.now();
      const response = await fetch(card.dataset.url, { credentials: "same-origin" });
      if (response.ok) renderSnapshot(await response.json());
    };
  }

  function serverPage() {
    const container = $("#charts");
    const grid = chartGrid(container);
    const refreshSnapshot = snapshotCard();
    live([{ subscription_type: "server", server_id: container.dataset.server }], (frame) => {
      if (frame.type === "metrics") { grid.extend(frame); refreshSnapshot(); }
      else if (frame.type === "log_processed") frame.data.logs.forEach((l) => prependRow($("#server-logs"), logRow(l, clock(l.timestamp)), 40));
      else if (frame.type === "event_processed") {
        const e = frame.data, list = $("#server-events"); const empty = $(".empty", list); if (empty) empty.remove();
        // the same event again (an agent's local alert every report) counts up the newest line
        const key = [e.status, e.event_type, e.source, e.summary || ""].join("|"), top = list.firstElementChild;
        if (top && top.dataset.key === key) {
          const count = +top.dataset.count + 1, badge = $(".repeat", top);
          top.dataset.count = count; $(".n", badge).textContent = count; badge.hidden = false;
          const when = $("time", top);
          if (!$(".since", top)) when.insertAdjacentHTML("afterend", `<span class="since"> · since <time data-ts="${when.dataset.ts}"></time></span>`);
          when.dataset.ts = epoch(e.timestamp); relativeTimes();
          return;
        }
        list.insertAdjacentHTML("afterbegin", `<li data-key="${esc(key)}" data-count="1"><span class="badge ev-${esc(e.status)}">${esc(e.status)}</span> <b>${esc(e.event_type)}</b> <span class="muted">${esc(e.source)}</span>${e.summary ? " " + esc(e.summary) : ""} <span class="badge repeat" hidden>×<span class="n">1</span></span><div class="muted small"><time data-ts="${epoch(e.timestamp)}">${esc(clock(e.timestamp))}</time></div></li>`);
        relativeTimes();
      } else if (frame.type === "alert_triggered") prependAlert($("#server-alerts"), frame.data);
      else if (frame.type === "server_update") {
        const t = $("#last-seen"); if (t) { t.dataset.ts = epoch(frame.at); }
        const badge = $("#server-status"); badge.className = "badge status-up"; badge.textContent = "Up";
        relativeTimes();
        refreshSnapshot();
      }
    });
  }

  function alertsPage() {
    live([{ subscription_type: "alerts" }], (frame) => {
      if (frame.type !== "alert_triggered") return;
      const a = frame.data, row = $(`#alert-${a.id}`);
      if (row) { row.classList.remove("fresh"); void row.offsetWidth; row.classList.add("fresh"); return; }
      const tab = new URLSearchParams(location.search).get("state") || "firing";
      if (a.state !== tab) return;
      prependRow($("#alerts-table tbody"), `<tr id="alert-${esc(a.id)}"><td><span class="badge sev-${esc(a.severity)}">${esc(a.severity)}</span></td><td><a href="/console/alerts/${esc(a.id)}"><b>${esc(a.rule)}</b></a><div class="muted small">${esc(a.summary)}</div></td><td>${esc(a.server || "fleet")}</td><td class="num">${a.value == null ? "–" : (+a.value).toFixed(2)}</td><td class="muted">just now</td><td><a href="/console/alerts/${esc(a.id)}">open</a></td></tr>`);
      const empty = $("#alerts-table td.empty"); if (empty) empty.parentElement.remove();
    });
  }

  function alertPage() {
    const container = $("#charts");
    if (container) chartGrid(container);
    const button = $("#analyse");
    if (button) button.addEventListener("click", async () => {
      button.disabled = true; button.textContent = "Analysing…";
      const response = await fetch(button.dataset.url, { method: "POST", credentials: "same-origin", headers: { "X-CSRFToken": csrf(), "Content-Type": "application/json" }, body: "{}" });
      button.textContent = response.ok ? "Done — reloading" : `Failed (${response.status})`;
      if (response.ok) setTimeout(() => location.reload(), 800);
    });
    live([{ subscription_type: "alerts" }], (frame) => {
      if (frame.type === "alert_triggered" && String(frame.data.id) === location.pathname.split("/").pop()) {
        const badge = $("#alert-state"); badge.className = `badge state-${frame.data.state}`; badge.textContent = frame.data.state;
      }
    });
  }

  function logsPage() {
    const table = $("#log-table"), tbody = $("#log-rows"), tail = $("#tail");
    const service = table.dataset.service;
    const levels = table.dataset.levels ? table.dataset.levels.split(",") : [];
    const words = table.dataset.q.toLowerCase().split(/\s+/).filter((w) => w && !w.startsWith("-") && !w.startsWith('"'));
    const sub = service ? { subscription_type: "service_logs", service_name: service } : { subscription_type: "logs" };
    live([sub], (frame) => {
      if (frame.type !== "log_processed" || !tail.checked) return;
      frame.data.logs.forEach((l) => {
        if (levels.length && !levels.includes(l.level)) return;
        const text = String(l.message).toLowerCase();
        if (words.some((w) => !text.includes(w))) return;
        prependRow(tbody, logRow(l, clock(l.timestamp)), 500);
      });
    });
  }

  function servicesPage() {
    live([{ subscription_type: "logs" }], (frame) => {
      if (frame.type !== "log_processed") return;
      // a service belongs to its server: the row of this server's instance of it
      const row = $(`#services tr[data-service="${CSS.escape(frame.data.service)}"][data-server-id="${CSS.escape(frame.data.server_id || "")}"]`);
      if (!row) return;
      const add = (field, n) => { const el = $(`[data-field="${field}"]`, row); el.textContent = parseInt(el.textContent, 10) + n; };
      add("total", frame.data.count);
      add("errors", (frame.data.levels.ERROR || 0) + (frame.data.levels.CRITICAL || 0));
      const t = $("time", row); t.dataset.ts = Date.now() / 1000; relativeTimes();
      row.classList.remove("fresh"); void row.offsetWidth; row.classList.add("fresh");
    });
  }

  function eventsPage() {
    const status = new URLSearchParams(location.search).get("status");
    const list = (items) => `<ul class="plain">${(items && items.length ? items : ["–"]).map((x) => `<li>${esc(x)}</li>`).join("")}</ul>`;
    live([{ subscription_type: "events" }], (frame) => {
      if (frame.type !== "event_processed") return;
      const e = frame.data;
      if (status && e.status !== status) return;
      prependRow($("#event-rows"), `<tr><td class="nowrap muted">${esc(clock(e.timestamp))}</td><td><span class="badge ev-${esc(e.status)}">${esc(e.status)}</span></td><td><b>${esc(e.source)}</b><div class="muted small">${esc(e.event_type)}</div></td><td class="num">${(+e.severity).toFixed(2)}</td><td>${list(e.reasons)}</td><td>${list(e.suggestions)}</td><td><span class="tag dec-${esc(e.decision)}">${esc(e.decision)}</span></td></tr>`, 150);
    });
  }

  /* A server's timeline: the API's items, refetched when a frame about the server arrives. */
  function timelinePage() {
    const list = $("#timeline"), form = $("#timeline-kinds");
    const kinds = () => $$("input[name=kind]:checked", form).map((i) => i.value);
    const row = (i) => `<li class="tl-${esc(i.kind)}" data-kind="${esc(i.kind)}"><span class="badge tl-kind">${esc(i.kind)}</span> <time data-ts="${epoch(i.ts)}">${esc(new Date(i.ts).toLocaleString())}</time> ${i.link ? `<a href="${esc(i.link)}">${esc(i.title)}</a>` : `<b>${esc(i.title)}</b>`}${i.detail ? `<div class="muted small">${esc(i.detail)}</div>` : ""}</li>`;
    let pending = null, asked = 0;
    async function load() {
      const chosen = kinds(), mine = ++asked; // only the latest answer is shown
      history.replaceState(null, "", "?" + chosen.map((k) => `kind=${encodeURIComponent(k)}`).join("&"));
      if (!chosen.length) { list.innerHTML = `<li class="empty">Pick at least one kind.</li>`; return; }
      const response = await fetch(`${list.dataset.url}?kind=${chosen.join(",")}&limit=300`, { credentials: "same-origin" });
      if (!response.ok) return;
      const data = await response.json();
      if (mine !== asked) return;
      list.innerHTML = data.items.length ? data.items.map(row).join("") : `<li class="empty">Nothing happened in the last 24 hours.</li>`;
      list.dataset.loaded = Date.now();
    }
    const soon = () => { if (!pending) pending = setTimeout(() => { pending = null; load(); }, 400); };
    form.addEventListener("change", load);
    live([{ subscription_type: "server", server_id: list.dataset.server }, { subscription_type: "alerts" }], (frame) => {
      if (frame.type === "alert_triggered" && frame.data.server_id && frame.data.server_id !== list.dataset.server) return;
      if (["alert_triggered", "log_processed", "event_processed"].includes(frame.type)) soon();
    });
    setInterval(load, 15000); // deploy annotations come without a frame
  }

  return { live, fleetPage, serverPage, alertsPage, alertPage, logsPage, servicesPage, eventsPage, timelinePage };
})();
