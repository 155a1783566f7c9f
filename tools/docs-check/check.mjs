// Drives /docs of a running gatehouse in headless Chromium, as a person
// would: load the page, Authorize with the OAuth2 password flow, "Try it
// out" on GET /v1/users/me. It fails (exit 1) on any CSP violation,
// console error, uncaught exception, failed request or request to another
// origin, and saves a screenshot either way.
//
//   GATEHOUSE_URL=http://127.0.0.1:8080 DOCS_USER=alice DOCS_PASSWORD=... \
//   SCREENSHOT=.artifacts/docs/docs.png node check.mjs
//
// scripts/docs-check starts the server, registers the user and runs this.
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { chromium } from "playwright-core";

const base = process.env.GATEHOUSE_URL;
const user = process.env.DOCS_USER;
const pass = process.env.DOCS_PASSWORD;
const shot = process.env.SCREENSHOT || ".artifacts/docs/docs.png";
const chromiumPath = process.env.CHROMIUM || "/usr/bin/chromium";
if (!base || !user || !pass) {
  console.error("docs-check: set GATEHOUSE_URL, DOCS_USER and DOCS_PASSWORD");
  process.exit(2);
}
const origin = new URL(base).origin;
const timeout = 20_000;

const problems = [];
const problem = (what) => {
  problems.push(what);
  console.error("docs-check: " + what);
};
const step = (what) => console.log("docs-check: " + what);

const browser = await chromium.launch({
  executablePath: chromiumPath,
  headless: true,
  // Without the background-networking flags Chromium keeps trying to
  // reach Google's services, which floods a closed network.
  args: [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
  ],
});
let failed = false;
try {
  const context = await browser.newContext({ viewport: { width: 1280, height: 1600 } });
  // The page must work offline: any request beyond the server is refused
  // and counted.
  await context.route("**/*", (route) => {
    const url = route.request().url();
    if (url.startsWith("data:") || new URL(url).origin === origin) {
      return route.continue();
    }
    problem(`request to another origin: ${url}`);
    return route.abort("blockedbyclient");
  });
  const page = await context.newPage();
  page.setDefaultTimeout(timeout);
  // CSP violations are reported to the page as events (and to the
  // console); the listener is installed before any page script runs.
  await page.addInitScript(() => {
    window.__cspViolations = [];
    document.addEventListener("securitypolicyviolation", (e) => {
      window.__cspViolations.push(`${e.effectiveDirective} blocked ${e.blockedURI || "inline"} (${e.sourceFile}:${e.lineNumber})`);
    });
  });
  page.on("console", (m) => {
    if (m.type() === "error") problem(`console error: ${m.text()}`);
    else if (m.type() === "warning") step(`console warning (not a failure): ${m.text()}`);
  });
  page.on("pageerror", (e) => problem(`uncaught exception: ${e.message}`));
  page.on("requestfailed", (r) => problem(`request failed: ${r.method()} ${r.url()}: ${r.failure()?.errorText}`));
  page.on("response", (r) => {
    if (r.status() >= 400) problem(`HTTP ${r.status()} for ${r.request().method()} ${r.url()}`);
  });

  step(`loading ${base}/docs`);
  const resp = await page.goto(`${base}/docs`, { waitUntil: "load" });
  if (resp.status() !== 200) throw new Error(`GET /docs: ${resp.status()}`);
  const csp = resp.headers()["content-security-policy"] || "";
  if (!csp.includes("script-src 'self'") || csp.includes("unsafe-")) {
    problem(`unexpected CSP on /docs: ${csp}`);
  }
  await page.locator(".information-container .title").waitFor();
  const title = (await page.locator(".information-container .title").innerText()).trim();
  step(`rendered: ${title}`);
  // Swagger UI shows problems with the document (parse errors, unsupported
  // fields) in a box at the top.
  const specErrors = page.locator(".errors-wrapper");
  if ((await specErrors.count()) > 0) problem(`Swagger UI reports problems with the document: ${await specErrors.first().innerText()}`);

  step("Authorize: OAuth2 password flow");
  await page.locator(".auth-wrapper button.authorize").click();
  const dialog = page.locator(".modal-ux");
  await dialog.waitFor();
  const oauth = dialog.locator(".auth-container").filter({ hasText: "(OAuth2, password)" });
  await oauth.locator("#oauth_username").fill(user);
  await oauth.locator("#oauth_password").fill(pass);
  // RFC 6749 §2.3.1/§3.2.1: a public client sends client_id in the body.
  await oauth.locator("#password_type").selectOption("request-body");
  const tokenResp = page.waitForResponse((r) => r.url().endsWith("/v1/auth/token") && r.request().method() === "POST");
  await oauth.locator("button.authorize").click();
  const tr = await tokenResp;
  const sent = new URLSearchParams(tr.request().postData() || "");
  step(`token endpoint: ${tr.status()} (sent grant_type=${sent.get("grant_type")}, client_id=${sent.get("client_id")})`);
  if (tr.status() !== 200) throw new Error(`token endpoint answered ${tr.status()}: ${await tr.text()}`);
  await oauth.locator("button", { hasText: "Logout" }).waitFor();
  await dialog.locator("button.close-modal").click();
  await dialog.waitFor({ state: "detached" });

  step("Try it out: GET /v1/users/me");
  const op = page.locator('[id$="-getV1UsersMe"]');
  await op.locator(".opblock-summary").first().click();
  await op.locator("button.try-out__btn").click();
  const meResp = page.waitForResponse((r) => r.url().endsWith("/v1/users/me"));
  await op.locator("button.execute").click();
  const mr = await meResp;
  const auth = mr.request().headers()["authorization"] || "";
  if (!auth.startsWith("Bearer ")) problem(`GET /v1/users/me was sent without a bearer token (${auth ? "other scheme" : "none"})`);
  const live = op.locator(".live-responses-table .response").first();
  await live.waitFor();
  const status = (await live.locator(".response-col_status").innerText()).trim();
  const body = await live.locator(".response-col_description").innerText();
  step(`response shown: ${status}`);
  if (status !== "200") problem(`GET /v1/users/me: the page shows status ${status}, want 200`);
  if (!body.includes(`"username": "${user}"`)) problem(`GET /v1/users/me: the page's response body does not show the username ${user}`);
  await live.scrollIntoViewIfNeeded();

  const violations = await page.evaluate(() => window.__cspViolations);
  for (const v of violations) problem(`CSP violation: ${v}`);

  mkdirSync(dirname(shot), { recursive: true });
  await page.screenshot({ path: shot, fullPage: false });
  step(`screenshot: ${shot}`);
} catch (e) {
  failed = true;
  console.error(`docs-check: FAILED: ${e.message}`);
  try {
    const pages = browser.contexts().flatMap((c) => c.pages());
    if (pages.length > 0) {
      mkdirSync(dirname(shot), { recursive: true });
      await pages[0].screenshot({ path: shot, fullPage: true });
      console.error(`docs-check: screenshot of the failure: ${shot}`);
    }
  } catch {
    // the screenshot is a courtesy; the failure is already reported
  }
} finally {
  await browser.close();
}
if (failed || problems.length > 0) {
  console.error(`docs-check: FAILED with ${problems.length} problem(s)`);
  process.exit(1);
}
step("OK");
