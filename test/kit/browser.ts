/**
 * A real browser for the dashboard's tests: Debian's Chromium driven by playwright-core, headless,
 * talking only to the platform on 127.0.0.1. Without Chromium the tests skip with NO_BROWSER as the
 * reason; CI sets PALISADE_REQUIRE_BROWSER=1 so that a missing browser fails the run instead.
 */
import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { type Browser, chromium, type Page } from "playwright-core";

/** Where Debian's `chromium` package puts the browser. */
export const CHROMIUM = "/usr/bin/chromium";

const ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

/** Why browser tests cannot run here (a skip reason), or undefined when they can. */
export const NO_BROWSER: string | undefined = browserMissing();

function browserMissing(): string | undefined {
  if (existsSync(CHROMIUM)) return undefined;
  const reason = `${CHROMIUM} is not installed (apt-get install chromium)`;
  if (process.env.PALISADE_REQUIRE_BROWSER === "1")
    throw new Error(`Browser tests must run here (PALISADE_REQUIRE_BROWSER=1) but cannot: ${reason}`);
  return reason;
}

export function launchBrowser(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM, args: ARGS });
}

/** Where screenshots go: `test-artifacts/dashboard/` in the repository (git-ignored). */
export const SCREENSHOT_DIR = fileURLToPath(new URL("../../test-artifacts/dashboard/", import.meta.url));

/** Saves a full-page screenshot of `page` as `<name>.png` in SCREENSHOT_DIR; resolves to its path. */
export async function saveScreenshot(page: Page, name: string): Promise<string> {
  mkdirSync(SCREENSHOT_DIR, { recursive: true });
  const path = join(SCREENSHOT_DIR, `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  return path;
}

/** Set by the init script below for every Content-Security-Policy violation the page reports. */
const VIOLATIONS = "__cspViolations";

/**
 * Watches `page` for what a broken page shows: uncaught exceptions, console errors and CSP violations
 * (reported by the browser's `securitypolicyviolation` event, which a refused inline style or script
 * fires). A failed request for a 4xx status is the only console error allowed: the page makes those
 * on purpose (`/whoami` before login is 401) and handles them.
 */
export async function watchPage(page: Page): Promise<{ problems: () => Promise<string[]> }> {
  const problems: string[] = [];
  page.on("pageerror", (err) => problems.push(`uncaught: ${err.message}`));
  page.on("console", (message) => {
    if (message.type() !== "error") return;
    const text = message.text();
    if (/^Failed to load resource: the server responded with a status of 4\d\d\b/.test(text)) return;
    problems.push(`console error: ${text}`);
  });
  // Playwright's init scripts are not subject to the page's CSP: this listener is there before the page's own.
  await page.addInitScript({
    content: `window.${VIOLATIONS} = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.${VIOLATIONS}.push(e.violatedDirective + " blocked " + (e.blockedURI || "inline") + " at " + e.sourceFile + ":" + e.lineNumber);
});`,
  });
  return {
    async problems() {
      const violations = (await page.evaluate(`window.${VIOLATIONS} ?? []`)) as string[];
      return [...problems, ...violations.map((v) => `CSP violation: ${v}`)];
    },
  };
}
