// The observer's dashboard in a real headless browser: Debian's chromium driven by
// playwright-core, against observed_node (tests/observer/observed_node.cpp).
//
//   node dashboard_test.mjs OBSERVED_NODE [SCREENSHOT.png]
//
// Checks that the page loads from the node alone (every request goes to the node:
// it works offline), goes live over the WebSocket, draws its charts from samples
// that keep arriving, lists the processes and sorts, filters and pages them, raises
// a mailbox alarm for the flooded process, shows a process's detail with its queued
// messages, kills a process from the detail panel (and the process count changes),
// draws the supervision tree and shows a restart in it after a supervised worker
// is killed, lists the preempted process among the hogs,
// and works with a token on a non-loopback address, where manage is off: no Kill
// button, and a kill is refused. Reports every check; exits non-zero if one failed.
import { spawn } from "node:child_process";
import { chromium } from "playwright-core";

const [observedNode, screenshot] = process.argv.slice(2);
if (!observedNode) {
  console.error("usage: dashboard_test.mjs OBSERVED_NODE [SCREENSHOT.png]");
  process.exit(2);
}
const browserPath = process.env.CHROMIUM || "/usr/bin/chromium";
const timeout = 60000;
const nodes = [];
let failures = 0;

function check(ok, what) {
  console.log((ok ? "ok: " : "FAIL: ") + what);
  if (!ok) failures++;
}

// Starts observed_node; resolves with the URL it prints once it is ready.
function startNode(...args) {
  return new Promise((resolve, reject) => {
    const child = spawn(observedNode, ["--idle", "200", "--flood", "3000", ...args],
                        { stdio: ["ignore", "pipe", "pipe"] });
    nodes.push(child);
    let url = null, ready = false, err = "";
    const done = () => { if (url && ready) resolve(url); };
    child.stderr.on("data", (d) => {
      err += d;
      const m = /observer at (http:\/\/[^ \n]*)/.exec(err);
      if (m && !url) { url = m[1]; done(); }
    });
    child.stdout.on("data", (d) => { if (String(d).includes("observed_node: ready")) { ready = true; done(); } });
    child.on("exit", (code) => reject(new Error("observed_node exited with " + code + ": " + err)));
    setTimeout(() => reject(new Error("observed_node did not start: " + err)), timeout);
  });
}

async function tableNames(page) {
  return page.$$eval("#processes tbody tr", (rows) => rows.map((r) => r.children[1].textContent));
}

async function main() {
  const browser = await chromium.launch({ executablePath: browserPath, headless: true,
                                          args: ["--no-sandbox"] });
  try {
    // ---- loopback, manage on
    const url = await startNode("--observer", "0", "--observer-manage", "--supervisors", "--hog");
    const origin = new URL(url).origin;
    const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
    const foreign = [];
    const errors = [];
    page.on("request", (r) => { if (!r.url().startsWith(origin)) foreign.push(r.url()); });
    page.on("pageerror", (e) => errors.push(String(e)));
    page.on("dialog", (d) => d.accept());
    page.setDefaultTimeout(timeout);
    await page.goto(url);

    await page.waitForFunction(() => document.getElementById("node").textContent.includes("@"));
    check(true, "the summary shows the node: " + await page.textContent("#node"));
    await page.waitForFunction(() => document.getElementById("link").textContent === "live");
    check(true, "the WebSocket is live");
    await page.waitForFunction(
      () => Number(document.getElementById("chart-utilization").dataset.points || 0) >= 3);
    check(true, "the charts are drawn from samples that keep arriving");
    const figures = await page.textContent("#figures");
    check(figures.includes("Processes") && /\d/.test(figures), "the figures are shown");
    // The page's own requests and WebSocket are the node's IO.
    await page.waitForFunction(
      () => Number(document.getElementById("chart-io").dataset.points || 0) >= 3);
    const io = /IO in \/ out([\d.]+) (\w+) \/ ([\d.]+) (\w+)/.exec(figures);
    check(io && Number(io[1]) > 0 && Number(io[3]) > 0,
          "the node's IO so far, in and out: " + (io ? io[0] : figures));

    await page.waitForFunction(() => [...document.querySelectorAll("#processes tbody tr")]
      .some((r) => r.children[1].textContent === "busy"));
    check(true, "the process table lists `busy`");

    await page.click('th[data-sort="message_queue_len"]');
    await page.waitForFunction(() => {
      const first = document.querySelector("#processes tbody tr");
      return first && first.children[1].textContent === "flooded";
    });
    let names = await tableNames(page);
    check(names[0] === "flooded" && names[1] === "loaded",
          "sorted by queue: flooded, then loaded (" + names.slice(0, 2).join(", ") + ")");

    await page.click('th[data-sort="pid"]');
    await page.waitForFunction(() => document.querySelector("#processes th.sorted")?.dataset.sort === "pid");
    const page1 = await page.$$eval("#processes tbody tr", (rows) => rows.map((r) => r.dataset.pid));
    await page.click("#next");
    await page.waitForFunction((first) => document.querySelector("#processes tbody tr")?.dataset.pid !== first, page1[0]);
    const page2 = await page.$$eval("#processes tbody tr", (rows) => rows.map((r) => r.dataset.pid));
    check(page1.length === 50 && page2.length > 0 && !page2.some((p) => page1.includes(p)),
          "paging: the next 50 are other processes (" + (await page.textContent("#page")) + ")");
    await page.click("#prev");

    await page.waitForFunction(() => document.querySelector("#alarms tbody")?.textContent.includes("flooded"));
    check(true, "a mailbox alarm is raised for `flooded`");

    await page.fill("#filter", "loaded");
    await page.waitForFunction(() => {
      const rows = document.querySelectorAll("#processes tbody tr");
      return rows.length === 1 && rows[0].children[1].textContent === "loaded";
    });
    check(true, "the filter keeps only `loaded`");
    await page.click("#processes tbody tr");
    await page.waitForFunction(() => document.getElementById("detail-messages").textContent.includes("queued 4"));
    const detail = await page.textContent("#detail-fields");
    check(detail.includes("waiting") && detail.includes("observed_node.cpp"),
          "the detail shows the status with its source location");
    check(true, "the detail shows the queued messages");

    if (screenshot) await page.screenshot({ path: screenshot, fullPage: false });

    await page.fill("#filter", "victim");
    await page.waitForFunction(() => {
      const rows = document.querySelectorAll("#processes tbody tr");
      return rows.length === 1 && rows[0].children[1].textContent === "victim";
    });
    await page.click("#processes tbody tr");
    await page.waitForSelector("#detail-actions:not([hidden])");
    const processesFigure = () => document.querySelector("#figures .value").textContent;
    const before = await page.evaluate(processesFigure);
    await page.click("#kill");
    await page.waitForFunction(() => document.getElementById("detail-note").textContent === "Killed.");
    await page.waitForFunction(() => document.getElementById("page").textContent === "none");
    check(true, "Kill ends `victim`: the filter finds nothing");
    await page.waitForFunction((b) => document.querySelector("#figures .value").textContent !== b, before);
    check(true, "the process count changes: " + before + " -> " + await page.evaluate(processesFigure));

    await page.waitForFunction(() => {
      const tree = document.getElementById("supervision").textContent;
      return tree.includes("observed_sup") && tree.includes("one_for_all") && tree.includes("left") && tree.includes("right");
    });
    const nested = await page.$$eval("#supervision li li li", (items) => items.map((i) => i.textContent));
    check(nested.some((t) => t.startsWith("left")) && nested.some((t) => t.startsWith("right")),
          "the supervision tree: observed_sup > inner > left, right");
    await page.fill("#filter", "steady");
    await page.waitForFunction(() => {
      const rows = document.querySelectorAll("#processes tbody tr");
      return rows.length === 1 && rows[0].children[1].textContent === "steady";
    });
    await page.click("#processes tbody tr");
    await page.waitForSelector("#detail-actions:not([hidden])");
    await page.click("#kill");
    await page.waitForFunction(() => document.getElementById("supervision").textContent.includes("restarted 1×"));
    check(true, "killing a supervised worker: the tree shows its restart");

    await page.waitForFunction(() => document.querySelector("#hogs tbody")?.textContent.includes("hog"));
    check(true, "the hogs list the process preempted over and over");

    await page.waitForFunction(() => Number(document.getElementById("timeline").dataset.runs || 0) > 0);
    const download = await page.$eval("#timeline-download", (a) => a.href);
    const trace = await page.evaluate(async (url) => (await fetch(url)).json(), download);
    check(trace.traceEvents.some((e) => e.ph === "X" && e.cat === "run"),
      "the timeline draws the workers' runs, and its download is a Chrome trace of them");

    check(errors.length === 0, "no script errors" + (errors.length ? ": " + errors.join("; ") : ""));
    check(foreign.length === 0, "every request went to the node" + (foreign.length ? ": " + foreign.join(" ") : ""));
    await page.close();

    // ---- a non-loopback address: the token, taken from the page's address
    const tokenUrl = await startNode("--observer", "0", "--observer-address", "0.0.0.0");
    const at = new URL(tokenUrl);
    const local = "http://127.0.0.1:" + at.port + "/" + at.search;
    const tokenPage = await browser.newPage();
    tokenPage.setDefaultTimeout(timeout);
    await tokenPage.goto(local);
    await tokenPage.waitForFunction(() => document.getElementById("link").textContent === "live");
    await tokenPage.waitForFunction(() => document.querySelectorAll("#processes tbody tr").length > 0);
    check(true, "with the token in its address the page goes live and lists processes");
    const refused = await tokenPage.evaluate(async () => (await fetch("/api/summary")).status);
    check(refused === 401, "without the token the API answers 401 (" + refused + ")");
    await tokenPage.fill("#filter", "victim");
    await tokenPage.waitForFunction(() => {
      const rows = document.querySelectorAll("#processes tbody tr");
      return rows.length === 1 && rows[0].children[1].textContent === "victim";
    });
    await tokenPage.click("#processes tbody tr");
    await tokenPage.waitForFunction(() => document.getElementById("detail-messages").textContent.includes("manage"));
    check(await tokenPage.isHidden("#detail-actions"), "manage off: no Kill button, no messages");
    const victim = await tokenPage.$eval("#processes tbody tr", (r) => r.dataset.pid);
    const kill = await tokenPage.evaluate(async ([pid, t]) => (await fetch(
      "/api/processes/" + encodeURIComponent(pid) + "/kill",
      { method: "POST", headers: { "Content-Type": "application/json", Authorization: "Bearer " + t },
        body: "{}" })).status, [victim, at.searchParams.get("token")]);
    check(kill === 403, "manage off: a kill is refused with 403 (" + kill + ")");
    const still = await tokenPage.evaluate(async ([pid, t]) => (await fetch(
      "/api/processes/" + encodeURIComponent(pid), { headers: { Authorization: "Bearer " + t } })).status,
      [victim, at.searchParams.get("token")]);
    check(still === 200, "and the process is still there");
    await tokenPage.close();
  } finally {
    await browser.close();
  }
}

try {
  await main();
} catch (e) {
  console.log("FAIL: " + e.message);
  failures++;
} finally {
  for (const n of nodes) n.kill("SIGTERM");
}
console.log(failures ? failures + " check(s) failed" : "dashboard: all checks passed");
process.exit(failures ? 1 : 0);
