// The observer's dashboard: the node's JSON API (/api/…) and its WebSocket (/ws,
// an update a second), drawn with the DOM and <canvas> only (docs/observer.md).
"use strict";

const token = new URLSearchParams(location.search).get("token");
const history = [];          // samples, oldest first (/api/history, then the WebSocket)
const historyLength = 600;   // ten minutes, as the node keeps
const palette = ["#2f6fdb", "#e07b39", "#2e9b57", "#9b59b6", "#c93a3a", "#17a2b8", "#8c6d31", "#e377c2"];
const table = { sort: "reductions", order: "desc", offset: 0, limit: 50, filter: "", matched: 0 };
let manage = false;
let selected = null;         // the pid shown in the detail panel

const $ = (id) => document.getElementById(id);

async function api(path, options = {}) {
  const headers = Object.assign({}, options.headers || {});
  if (token) headers.Authorization = "Bearer " + token;
  const response = await fetch(path, Object.assign({}, options, { headers }));
  const body = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(body.error || response.status + " " + response.statusText);
  return body;
}

// ---- formatting

function count(n) {
  if (n >= 1e9) return (n / 1e9).toFixed(1) + "G";
  if (n >= 1e6) return (n / 1e6).toFixed(1) + "M";
  if (n >= 1e4) return (n / 1e3).toFixed(1) + "k";
  return String(Math.round(n));
}

function bytes(n) {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; ++i; }
  return (i ? n.toFixed(1) : String(n)) + " " + units[i];
}

function duration(ms) {
  let s = Math.floor(ms / 1000);
  const d = Math.floor(s / 86400); s -= d * 86400;
  const h = Math.floor(s / 3600); s -= h * 3600;
  const m = Math.floor(s / 60); s -= m * 60;
  const two = (x) => String(x).padStart(2, "0");
  return (d ? d + "d " : "") + h + ":" + two(m) + ":" + two(s);
}

function element(tag, props = {}, children = []) {
  const e = document.createElement(tag);
  Object.assign(e, props);
  for (const c of children) e.append(c);
  return e;
}

// ---- the timeline (/api/timeline): a lane per worker, a box per run

const timeline = { data: null, paused: false, lane: 22, top: 14, left: 64 };

function colorOf(pid) {
  let h = 0;
  for (const c of pid) h = (h * 31 + c.charCodeAt(0)) >>> 0;
  return "hsl(" + (h % 360) + ", 60%, " + (45 + (h >> 9) % 20) + "%)";
}

function drawTimeline() {
  const t = timeline.data;
  const canvas = $("timeline");
  if (!t) return;
  const ratio = window.devicePixelRatio || 1;
  const height = timeline.top + t.lanes.length * timeline.lane + 4;
  canvas.style.height = height + "px";
  const width = canvas.clientWidth;
  if (canvas.width !== width * ratio || canvas.height !== height * ratio) {
    canvas.width = width * ratio;
    canvas.height = height * ratio;
  }
  const g = canvas.getContext("2d");
  g.setTransform(ratio, 0, 0, ratio, 0, 0);
  g.clearRect(0, 0, width, height);
  const w = width - timeline.left - 4;
  const x = (ms) => timeline.left + (w * ms) / t.window_ms;
  g.font = "10px system-ui, sans-serif";
  g.fillStyle = "#6b7580";
  for (let i = 0; i <= 5; ++i) {
    const ms = (t.window_ms * i) / 5;
    g.fillText("-" + ((t.window_ms - ms) / 1000).toFixed(1) + " s", x(ms) - (i === 5 ? 28 : 0), 10);
  }
  let runs = 0;
  t.lanes.forEach((lane, i) => {
    const y = timeline.top + i * timeline.lane;
    g.fillStyle = "#6b7580";
    g.fillText("worker " + lane.worker, 2, y + 14);
    g.fillStyle = "#eceff3";
    for (const [from, to] of lane.parked) g.fillRect(x(from), y + 2, Math.max(1, x(to) - x(from)), timeline.lane - 4);
    for (const [from, to, pid, , handedOff] of lane.runs) {
      const x0 = x(from), width0 = Math.max(1, x(to) - x0);
      g.fillStyle = colorOf(pid);
      g.fillRect(x0, y + 2, width0, timeline.lane - 4);
      if (handedOff) { g.fillStyle = "#c93a3a"; g.fillRect(x0 + width0 - 2, y + 2, 2, timeline.lane - 4); }
      ++runs;
    }
    g.fillStyle = "#1d232b";
    for (const [at] of lane.steals) {
      const sx = x(at);
      g.beginPath(); g.moveTo(sx - 3, y); g.lineTo(sx + 3, y); g.lineTo(sx, y + 5); g.fill();
    }
  });
  canvas.dataset.runs = String(runs);
}

// The run under the pointer: its lane's runs are in time order.
function runAt(event) {
  const t = timeline.data;
  if (!t) return null;
  const canvas = $("timeline");
  const box = canvas.getBoundingClientRect();
  const lane = t.lanes[Math.floor((event.clientY - box.top - timeline.top) / timeline.lane)];
  if (!lane) return null;
  const w = box.width - timeline.left - 4;
  const ms = ((event.clientX - box.left - timeline.left) * t.window_ms) / w;
  const slack = t.window_ms / w;  // a pixel
  let lo = 0, hi = lane.runs.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const [from, to] = lane.runs[mid];
    if (to + slack < ms) lo = mid + 1;
    else if (from - slack > ms) hi = mid - 1;
    else return lane.runs[mid];
  }
  return null;
}

async function refreshTimeline() {
  if (timeline.paused) return;
  const ms = $("timeline-window").value;
  try {
    timeline.data = await api("/api/timeline?ms=" + ms);
  } catch (e) {
    $("timeline-hover").textContent = e.message;
    return;
  }
  drawTimeline();
}

function setupTimeline() {
  const link = () => "/api/timeline?format=trace&ms=" + $("timeline-window").value +
    (token ? "&token=" + encodeURIComponent(token) : "");
  $("timeline-download").href = link();
  $("timeline-window").addEventListener("change", () => {
    $("timeline-download").href = link();
    refreshTimeline();
  });
  $("timeline-pause").addEventListener("click", () => {
    timeline.paused = !timeline.paused;
    $("timeline-pause").textContent = timeline.paused ? "resume" : "pause";
    if (!timeline.paused) refreshTimeline();
  });
  $("timeline").addEventListener("mousemove", (event) => {
    const run = runAt(event);
    if (!run) { $("timeline-hover").innerHTML = "&nbsp;"; return; }
    const [from, to, pid, n, handedOff] = run;
    const label = timeline.data.labels[pid];
    $("timeline-hover").textContent = pid + (label ? " " + label : "") + ": " +
      ((to - from) >= 1 ? (to - from).toFixed(2) + " ms" : Math.round((to - from) * 1000) + " µs") +
      (n > 1 ? ", " + n + " runs drawn as one (the longest shown)" : "") +
      (handedOff ? ", then preempted or blocked: the worker was handed over" : "");
  });
  $("timeline").addEventListener("click", (event) => {
    const run = runAt(event);
    if (run) showDetail(run[2]);
  });
  setInterval(() => { if (!document.hidden) refreshTimeline(); }, 1000);
}

// ---- charts

// Draws `series` ({label, color, values}) over the samples kept, newest at the right.
function chart(id, series, format, fixedMax) {
  const canvas = $(id);
  const ratio = window.devicePixelRatio || 1;
  const width = canvas.clientWidth, height = canvas.clientHeight;
  if (canvas.width !== width * ratio) { canvas.width = width * ratio; canvas.height = height * ratio; }
  const g = canvas.getContext("2d");
  g.setTransform(ratio, 0, 0, ratio, 0, 0);
  g.clearRect(0, 0, width, height);
  let max = fixedMax || 0;
  if (!fixedMax) for (const s of series) for (const v of s.values) max = Math.max(max, v);
  if (max <= 0) max = 1;
  const left = 48, right = 4, top = 6, bottom = 14;
  const w = width - left - right, h = height - top - bottom;
  g.font = "10px system-ui, sans-serif";
  g.fillStyle = "#6b7580";
  g.strokeStyle = "#e1e5ea";
  g.lineWidth = 1;
  for (let i = 0; i <= 4; ++i) {
    const y = top + h - (h * i) / 4;
    g.beginPath(); g.moveTo(left, y); g.lineTo(left + w, y); g.stroke();
    g.fillText(format((max * i) / 4), 2, y + 3);
  }
  const n = history.length;
  const seconds = n ? Math.round((history[n - 1].uptime_ms - history[0].uptime_ms) / 1000) : 0;
  g.fillText("last " + seconds + " s", left, height - 2);
  for (const s of series) {
    g.strokeStyle = s.color;
    g.lineWidth = 1.5;
    g.beginPath();
    s.values.forEach((v, i) => {
      const x = left + (n <= 1 ? w : (w * i) / (n - 1));
      const y = top + h - (h * Math.min(v, max)) / max;
      if (i === 0) g.moveTo(x, y); else g.lineTo(x, y);
    });
    g.stroke();
  }
  canvas.dataset.points = String(n);
}

function legend(id, series) {
  $(id).replaceChildren(...series.map((s) =>
    element("span", {}, [element("i", { style: "background:" + s.color }), s.label])));
}

function drawCharts() {
  const workers = history.length ? history[history.length - 1].utilization.length : 0;
  const utilization = [];
  for (let w = 0; w < workers; ++w)
    utilization.push({ label: "worker " + w, color: palette[w % palette.length],
                       values: history.map((s) => 100 * (s.utilization[w] || 0)) });
  // The whole program, in % of one core: above 100 when more than one core is busy,
  // as with processes running on the threads preemption gives them.
  utilization.push({ label: "whole program", color: "#1d232b",
                     values: history.map((s) => 100 * (s.program_cores || 0)) });
  const peak = Math.max(1, ...utilization[utilization.length - 1].values.map((v) => v / 100));
  chart("chart-utilization", utilization, (v) => v.toFixed(0), 100 * Math.ceil(peak));
  legend("legend-utilization", utilization);
  const queues = [];
  const lanes = history.length ? (history[history.length - 1].run_queues || []).length : 0;
  for (let q = 0; q < lanes; ++q)
    queues.push({ label: q === lanes - 1 ? "global" : "worker " + q,
                  color: q === lanes - 1 ? "#1d232b" : palette[q % palette.length],
                  values: history.map((s) => (s.run_queues || [])[q] || 0) });
  chart("chart-queues", queues, count);
  legend("legend-queues", queues);
  chart("chart-reductions", [{ color: palette[0], values: history.map((s) => s.reductions_per_second) }], count);
  const processes = [
    { label: "processes", color: palette[0], values: history.map((s) => s.processes) },
    { label: "runnable", color: palette[1], values: history.map((s) => s.runnable) }];
  chart("chart-processes", processes, count);
  legend("legend-processes", processes);
  chart("chart-messages", [{ color: palette[3], values: history.map((s) => s.messages_queued) }], count);
  const memory = [
    { label: "resident", color: palette[0], values: history.map((s) => s.memory_resident) },
    { label: "processes", color: palette[2], values: history.map((s) => s.memory_processes) }];
  chart("chart-memory", memory, bytes);
  legend("legend-memory", memory);
  chart("chart-spawns", [{ color: palette[5], values: history.map((s) => s.spawns_per_second) }], count);
  const io = [
    { label: "in", color: palette[0], values: history.map((s) => s.io_in_per_second || 0) },
    { label: "out", color: palette[1], values: history.map((s) => s.io_out_per_second || 0) }];
  chart("chart-io", io, bytes);
  legend("legend-io", io);
  chart("chart-dist", [{ color: palette[4], values: history.map((s) => s.dist_messages_per_second || 0) }], count);
}

function addSample(sample) {
  if (!sample) return;
  if (history.length && sample.uptime_ms <= history[history.length - 1].uptime_ms) return;
  history.push(sample);
  while (history.length > historyLength) history.shift();
  drawCharts();
}

// ---- summary, alarms, nodes

function showSummary(s) {
  manage = s.manage;
  $("node").textContent = s.node;
  $("uptime").textContent = "up " + duration(s.uptime_ms);
  const utilization = s.workers.map((w) => Math.round(100 * w.utilization) + "%").join(" ");
  const figures = [
    ["Processes", count(s.processes) + " / " + count(s.process_limit)],
    ["Runnable", count(s.runnable)],
    ["Waiting", count(s.waiting)],
    ["Messages queued", count(s.messages_queued)],
    ["Reductions", count(s.reductions)],
    ["Memory (resident)", bytes(s.memory.resident)],
    ["Memory (processes)", bytes(s.memory.processes)],
    ["Preemptions", count(s.preemptions)],
    ["Atoms", count(s.atoms)],
    ["Workers", s.schedulers + ": " + utilization],
    ["CPU (whole program)", (s.program_cores || 0).toFixed(2) + " cores"],
    ["IO in / out", bytes(s.io.bytes_in) + " / " + bytes(s.io.bytes_out)],
    ["Distribution messages in / out",
     count(s.distribution.messages_in) + " / " + count(s.distribution.messages_out)],
  ];
  $("figures").replaceChildren(...figures.map(([label, value]) =>
    element("div", { className: "figure" }, [
      element("div", { className: "label", textContent: label }),
      element("div", { className: "value", textContent: value })])));
}

function showAlarms(alarms, uptime) {
  const rows = alarms.map((a) => element("tr", {}, [
    element("td", { className: "pid", textContent: a.pid }),
    element("td", { textContent: a.name || a.initial_call }),
    element("td", { className: "num", textContent: count(a.message_queue_len) }),
    element("td", { className: "num", textContent: (a.growth_per_second >= 0 ? "+" : "") + count(a.growth_per_second) }),
    element("td", { className: "num", textContent: count(a.peak) }),
    element("td", { textContent: duration(Math.max(0, uptime - a.raised_uptime_ms)) + " ago" })]));
  for (const [row, a] of rows.map((r, i) => [r, alarms[i]])) row.onclick = () => showDetail(a.pid);
  $("alarms").tBodies[0].replaceChildren(...rows);
  $("alarms-empty").hidden = alarms.length > 0;
}

function showNodes(nodes) {
  $("nodes").replaceChildren(...nodes.map((n) => element("li", { textContent: n })));
  $("nodes-empty").hidden = nodes.length > 0;
}

// ---- the hogs: the processes preempted most

async function refreshHogs() {
  let page;
  try {
    page = await api("/api/processes?sort=preemptions&order=desc&limit=10");
  } catch (e) {
    return;
  }
  const hogs = page.rows.filter((r) => r.preemptions > 0);
  $("hogs").tBodies[0].replaceChildren(...hogs.map((r) => element("tr", {}, [
    element("td", {}, [pidLink(r.pid)]),
    element("td", { className: "call", textContent: r.name || r.initial_call }),
    element("td", { className: "num", textContent: count(r.preemptions) }),
    element("td", { textContent: r.last_preempted_ms === null ? "" : duration(r.last_preempted_ms) + " ago" })])));
  $("hogs-empty").hidden = hogs.length > 0;
}

// ---- the supervision trees

function pidLink(pid) {
  const link = element("span", { className: "pid", textContent: pid });
  link.onclick = () => showDetail(pid);
  return link;
}

function supervisorItem(sup) {
  const title = element("div", {}, [
    element("span", { className: "sup", textContent: sup.name || "supervisor" }), pidLink(sup.pid)]);
  if (!sup.answered) {
    title.append(element("span", { className: "down", textContent: "not answering" }));
    return element("li", {}, [title]);
  }
  title.append(element("span", { className: "meta" + (sup.restarts_in_period ? " restarted" : ""),
    textContent: sup.strategy + ", " + sup.restarts_in_period + " of " + sup.intensity +
                 " restarts in " + sup.period_s + " s, " + sup.restarts + " in all" }));
  const children = element("ul", {}, sup.children.map((c) => {
    if (c.tree) return supervisorItem(Object.assign({}, c.tree, { name: c.tree.name || c.id }));
    const item = element("li", {}, [element("span", { textContent: c.id })]);
    if (c.pid) item.append(pidLink(c.pid));
    else item.append(element("span", { className: "down", textContent: c.restarting ? "restarting" : "not running" }));
    if (c.type === "supervisor") item.append(element("span", { className: "meta", textContent: "supervisor" }));
    if (c.restarts) item.append(element("span", { className: "meta restarted", textContent: "restarted " + c.restarts + "×" }));
    return item;
  }));
  return element("li", { }, [title, children]);
}

async function refreshSupervision() {
  let all;
  try {
    all = await api("/api/supervisors");
  } catch (e) {
    return;
  }
  $("supervision").replaceChildren(element("ul", {}, all.roots.map(supervisorItem)));
  $("supervision-empty").hidden = all.roots.length > 0;
}

// ---- the process table

async function refreshTable() {
  const query = new URLSearchParams({ sort: table.sort, order: table.order, offset: table.offset,
                                      limit: table.limit, filter: table.filter });
  let page;
  try {
    page = await api("/api/processes?" + query);
  } catch (e) {
    $("page").textContent = "error: " + e.message;
    return;
  }
  table.matched = page.matched;
  const rows = page.rows.map((r) => {
    const row = element("tr", {}, [
      element("td", { className: "pid", textContent: r.pid }),
      element("td", { textContent: r.name || "" }),
      element("td", { className: "call", textContent: r.initial_call }),
      element("td", { className: "status", textContent: r.status }),
      element("td", { className: "num", textContent: count(r.reductions) }),
      element("td", { className: "num", textContent: count(r.reductions_per_second) }),
      element("td", { className: "num", textContent: count(r.message_queue_len) }),
      element("td", { className: "num", textContent: bytes(r.memory) }),
      element("td", { className: "num", textContent: count(r.messages_in) }),
      element("td", { className: "num", textContent: count(r.messages_out) }),
      element("td", { className: "num", textContent: count(r.preemptions) })]);
    row.dataset.pid = r.pid;
    if (r.pid === selected) row.classList.add("selected");
    row.onclick = () => showDetail(r.pid);
    return row;
  });
  $("processes").tBodies[0].replaceChildren(...rows);
  const last = Math.min(table.offset + page.rows.length, page.matched);
  $("page").textContent = page.matched ? (table.offset + 1) + "–" + last + " of " + page.matched : "none";
  $("prev").disabled = table.offset === 0;
  $("next").disabled = last >= page.matched;
  for (const th of document.querySelectorAll("#processes th[data-sort]")) {
    th.classList.toggle("sorted", th.dataset.sort === table.sort);
    th.classList.toggle("desc", table.order === "desc");
    th.classList.toggle("asc", table.order === "asc");
  }
}

function setupTable() {
  for (const th of document.querySelectorAll("#processes th[data-sort]")) {
    th.onclick = () => {
      if (table.sort === th.dataset.sort) table.order = table.order === "desc" ? "asc" : "desc";
      else { table.sort = th.dataset.sort; table.order = th.dataset.sort === "pid" || th.dataset.sort === "name" ? "asc" : "desc"; }
      table.offset = 0;
      refreshTable();
    };
  }
  let typing;
  $("filter").oninput = () => {
    clearTimeout(typing);
    typing = setTimeout(() => { table.filter = $("filter").value; table.offset = 0; refreshTable(); }, 250);
  };
  $("prev").onclick = () => { table.offset = Math.max(0, table.offset - table.limit); refreshTable(); };
  $("next").onclick = () => { table.offset += table.limit; refreshTable(); };
  setInterval(() => { if (!document.hidden) refreshTable(); }, 2000);
}

// ---- one process

async function showDetail(pid) {
  selected = pid;
  for (const row of document.querySelectorAll("#processes tbody tr"))
    row.classList.toggle("selected", row.dataset.pid === pid);
  $("detail").hidden = false;
  $("detail-title").textContent = "Process " + pid;
  $("detail-note").textContent = "";
  let p;
  try {
    p = await api("/api/processes/" + encodeURIComponent(pid));
  } catch (e) {
    $("detail-fields").replaceChildren();
    $("detail-actions").hidden = true;
    $("detail-messages").textContent = "";
    $("detail-note").textContent = e.message;
    return;
  }
  if (selected !== pid) return;
  const fields = [
    ["Name", p.name || "—"], ["Initial call", p.initial_call], ["Status", p.status],
    ["Reductions", String(p.reductions)], ["Queue", String(p.message_queue_len)],
    ["Messages in / out", p.messages_in + " / " + p.messages_out], ["Memory", bytes(p.memory)],
    ["Priority", p.priority], ["Trap exit", String(p.trap_exit)],
    ["Links", p.links.join(" ") || "—"], ["Monitors", p.monitors.join(" ") || "—"],
    ["Monitored by", p.monitored_by.join(" ") || "—"]];
  $("detail-fields").replaceChildren(...fields.flatMap(([k, v]) =>
    [element("dt", { textContent: k }), element("dd", { textContent: v })]));
  $("detail-actions").hidden = !manage;
  $("detail-messages").textContent = p.messages === null
    ? "Reading messages needs the manage permission (--observer-manage)."
    : (p.messages.length ? p.messages.join("\n") : "(none)");
}

async function act(action, body) {
  const pid = selected;
  try {
    await api("/api/processes/" + encodeURIComponent(pid) + "/" + action, {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
    $("detail-note").textContent = action === "kill" ? "Killed." : "Exit signal sent.";
  } catch (e) {
    $("detail-note").textContent = e.message;
  }
  refreshTable();
  setTimeout(refreshSupervision, 300);
}

function setupDetail() {
  $("detail-close").onclick = () => { $("detail").hidden = true; selected = null; refreshTable(); };
  $("kill").onclick = () => { if (confirm("Kill " + selected + "?")) act("kill", {}); };
  $("exit").onclick = () => act("exit", { reason: $("exit-reason").value });
}

// ---- the live connection

function connect() {
  const url = (location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/ws" +
              (token ? "?token=" + encodeURIComponent(token) : "");
  const socket = new WebSocket(url);
  socket.onopen = () => { $("link").className = "link up"; $("link").textContent = "live"; };
  socket.onmessage = (event) => {
    const update = JSON.parse(event.data);
    if (update.type !== "update") return;
    showSummary(update.summary);
    addSample(update.sample);
    showAlarms(update.alarms, update.summary.uptime_ms);
    showNodes(update.nodes);
  };
  socket.onclose = () => {
    $("link").className = "link down";
    $("link").textContent = "disconnected: retrying";
    setTimeout(connect, 2000);
  };
}

async function start() {
  $("alarm-rule").textContent = "";
  setupTable();
  setupDetail();
  setupTimeline();
  try {
    const alarms = await api("/api/alarms");
    $("alarm-rule").textContent = "Raised at " + alarms.raise + " queued messages, cleared under " + alarms.clear + ".";
    const past = await api("/api/history");
    for (const s of past.samples) addSample(s);
  } catch (e) {
    $("link").textContent = e.message;
  }
  refreshTable();
  refreshTimeline();
  refreshSupervision();
  refreshHogs();
  setInterval(() => {
    if (document.hidden) return;
    refreshSupervision();
    refreshHogs();
  }, 5000);
  connect();
}

window.addEventListener("resize", () => { drawCharts(); drawTimeline(); });
start();
