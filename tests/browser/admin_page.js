// The admin page in a real browser: Debian's chromium, headless, driven by
// playwright-core. Run by tests/e2e/test_admin_page.py, which starts the
// server:
//   node admin_page.js <base-url> <screenshot-dir> <users-client> <grpc-target>
// Exits 0 when every step passed; prints the step that failed otherwise.
"use strict";

const { chromium } = require("playwright-core");
const { execFileSync } = require("child_process");
const fs = require("fs");
const os = require("os");
const path = require("path");

const [base, shots, clientBin, grpcTarget] = process.argv.slice(2);
const TIMEOUT = 15000;

async function api(method, route, body) {
  const init = { method, headers: {} };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const r = await fetch(base + route, init);
  const json = await r.json();
  if (!r.ok) throw new Error(`${method} ${route}: ${r.status} ${JSON.stringify(json)}`);
  return json;
}

function step(name) {
  console.log(`step: ${name}`);
}

async function main() {
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    headless: true,
    // Chromium's sandbox needs user namespaces, which CI containers (and
    // root) do not have; the page it loads is our own.
    args: ["--no-sandbox", "--disable-dev-shm-usage"],
  });
  try {
    const page = await browser.newPage({ viewport: { width: 1360, height: 900 } });
    page.setDefaultTimeout(TIMEOUT);
    const pageErrors = [];
    page.on("pageerror", (e) => pageErrors.push(e.message));
    page.on("dialog", (d) => d.accept());

    step("the page loads and shows the server's status");
    await page.goto(base + "/");
    await page.locator("#status", { hasText: "SERVING" }).waitFor();
    await page.locator("#feed-state", { hasText: "· live" }).waitFor();

    step("create a user");
    await page.fill("#f-name", "grace");
    await page.fill("#f-email", "grace@example.com");
    await page.fill("#f-displayName", "Grace H.");
    await page.click("#save");
    await page.locator("#editor-message", { hasText: "Created #" }).waitFor();
    const row = page.locator("#users tbody tr", { hasText: "grace@example.com" });
    await row.waitFor();

    step("field errors appear beside their fields");
    await page.click("#new-user");
    await page.fill("#f-name", "");
    await page.fill("#f-email", "not-an-address");
    await page.click("#save");
    await page.locator("#err-email", { hasText: "local@domain" }).waitFor();
    await page.locator("#err-name", { hasText: "required" }).waitFor();

    step("edit with a stale version and see the conflict");
    await row.locator("button", { hasText: "Edit" }).click();
    await page.locator("#editor-title", { hasText: "version 1" }).waitFor();
    const id = (await row.getAttribute("data-id"));
    // Another client changes the user while it is open here.
    await api("PATCH", `/v1/users/${id}?updateMask=displayName`,
      { displayName: "Grace Hopper", version: "1" });
    await page.fill("#f-email", "grace.h@example.com");
    await page.click("#save");
    await page.locator("#editor-message.conflict", { hasText: "stale" }).waitFor();
    await page.screenshot({ path: path.join(shots, "admin-conflict.png") });
    await page.click("#reload-user");
    await page.locator("#editor-title", { hasText: "version 2" }).waitFor();
    await page.fill("#f-email", "grace.h@example.com");
    await page.click("#save");
    await page.locator("#editor-message", { hasText: "now version 3" }).waitFor();

    step("delete");
    await page.click("#delete");
    await page.locator("#editor-message", { hasText: `Deleted #${id}` }).waitFor();
    await page.locator(`#users tbody tr[data-id="${id}"]`).waitFor({ state: "detached" });

    step("search by name prefix");
    for (const name of ["search-ann", "search-ben", "other-cat"]) {
      await api("POST", "/v1/users", { name, email: `${name}@example.com` });
    }
    await page.fill("#search", "search-");
    await page.click("#search-form button");
    await page.waitForFunction(() => {
      const names = [...document.querySelectorAll("#users tbody tr td:nth-child(2)")]
        .map((td) => td.textContent);
      return names.length === 2 && names.every((n) => n.startsWith("search-"));
    });

    step("import a CSV and watch the progress");
    const csv = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "admin-import-")), "users.csv");
    // 3,000 rows: enough to watch the upload, few enough that the page's
    // feed (slow under ASan) never falls --watch-queue-limit behind.
    const lines = ["name,email,display_name"];
    for (let i = 0; i < 3000; i++) lines.push(`bulk-${i},bulk-${i}@example.com,Bulk ${i}`);
    lines.push("bulk-bad,no-address,");
    lines.push("bulk-0,again@example.com,");  // a duplicate name
    fs.writeFileSync(csv, lines.join("\n") + "\n");
    await page.setInputFiles("#import-file", csv);
    const sawProgress = page.waitForFunction(
      () => !document.getElementById("import-progress").hidden, null, { polling: 10 });
    await page.click("#import-start");
    await sawProgress;
    await page.locator("#import-summary", { hasText: "Created 3000, failed 2." })
      .waitFor({ timeout: 60000 });
    const progress = await page.locator("#import-progress").evaluate((p) => p.value);
    if (progress !== 100) throw new Error(`progress ended at ${progress}`);
    await page.locator("#import-errors li", { hasText: "row 3001 (bulk-bad)" }).waitFor();
    await page.locator("#import-errors li", { hasText: "row 3002 (bulk-0)" }).waitFor();
    await page.screenshot({ path: path.join(shots, "admin-import.png") });

    step("a change made by users-client appears live");
    await page.fill("#search", "live-");
    await page.click("#search-form button");
    await page.waitForFunction(
      () => document.querySelectorAll("#users tbody tr").length === 0);
    execFileSync(clientBin, ["--target", grpcTarget, "create", "--name", "live-from-cli",
      "--email", "cli@example.com", "--display-name", "From the CLI"]);
    await page.locator("#feed li", { hasText: "created live-from-cli" }).waitFor();
    await page.locator("#users tbody tr", { hasText: "From the CLI" }).waitFor();
    await page.fill("#search", "");
    await page.click("#search-form button");
    await page.locator("#users tbody tr").first().waitFor();
    await page.screenshot({ path: path.join(shots, "admin.png") });

    if (pageErrors.length) throw new Error(`errors in the page: ${pageErrors.join("; ")}`);
    console.log("admin page: every step passed");
  } finally {
    await browser.close();
  }
}

main().catch((e) => {
  console.error(`admin page test failed: ${e.stack || e}`);
  process.exit(1);
});
