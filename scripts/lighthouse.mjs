// Lighthouse (npm lighthouse@12.2.3, Node 20) over the web interface's main pages, signed in.
// Usage: node scripts/lighthouse.mjs BASE_URL TOKEN_JSON OUT_DIR PRESET PATH...
// (run by scripts/lighthouse.py, which starts a registry, seeds it and prints the table).
import { createRequire } from "node:module";
import { writeFileSync } from "node:fs";
import path from "node:path";

const [base, sessionJson, outDir, preset, ...pages] = process.argv.slice(2);
const require = createRequire(path.resolve(".web-tools/node_modules/x.js"));
const lighthouse = (await import(require.resolve("lighthouse"))).default;
const chromeLauncher = await import(require.resolve("chrome-launcher"));
const puppeteer = (await import(require.resolve("puppeteer-core"))).default;
const desktop = (await import(require.resolve("lighthouse/core/config/desktop-config.js"))).default;

const chrome = await chromeLauncher.launch({
  chromePath: process.env.CHROME_PATH || "/usr/bin/chromium",
  chromeFlags: ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
});
const results = [];
try {
  const browser = await puppeteer.connect({ browserURL: `http://127.0.0.1:${chrome.port}` });
  const page = await browser.newPage();
  const session = JSON.parse(sessionJson);
  for (const p of pages) {
    // A signed-in tab: the token lives in sessionStorage, which survives navigations in one tab.
    await page.goto(`${base}/#/signin`);
    if (p !== "/#/signin") {
      await page.evaluate((s) => {
        sessionStorage.setItem("tmr.token", s.token);
        sessionStorage.setItem("tmr.user", JSON.stringify(s.user));
      }, session);
    } else {
      await page.evaluate(() => sessionStorage.clear());
    }
    const flags = { port: chrome.port, output: "json", logLevel: "error", disableStorageReset: true,
      onlyCategories: ["performance", "accessibility"] };
    const config = preset === "desktop" ? desktop : undefined;
    const runner = await lighthouse(`${base}${p}`, flags, config, page);
    const lhr = runner.lhr;
    const name = p.replace(/[^a-z0-9]+/gi, "_").replace(/^_+|_+$/g, "") || "root";
    writeFileSync(path.join(outDir, `${name}.json`), runner.report);
    const failed = Object.values(lhr.audits)
      .filter((a) => a.score !== null && a.score < 1 && lhr.categories.accessibility.auditRefs.some((r) => r.id === a.id && r.weight > 0))
      .map((a) => a.id);
    results.push({
      page: p,
      performance: Math.round(lhr.categories.performance.score * 100),
      accessibility: Math.round(lhr.categories.accessibility.score * 100),
      lcp_ms: Math.round(lhr.audits["largest-contentful-paint"].numericValue),
      tbt_ms: Math.round(lhr.audits["total-blocking-time"].numericValue),
      cls: Number(lhr.audits["cumulative-layout-shift"].numericValue.toFixed(3)),
      accessibility_failures: failed,
    });
  }
  await browser.disconnect();
} finally {
  await chrome.kill();
}
console.log(JSON.stringify(results));
