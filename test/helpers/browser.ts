import { existsSync, mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';

/** Debian's Chromium (scripts/test.sh installs the `chromium` package); no browser is downloaded. */
export const CHROMIUM = process.env.MAILPORT_TEST_CHROMIUM ?? '/usr/bin/chromium';

/**
 * Flags for a closed network: without the background-networking ones Chromium keeps trying to
 * reach Google's services at every start. Playwright gives every launch a fresh, empty profile
 * (its own temporary --user-data-dir).
 */
const FLAGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'];

/**
 * Headless Chromium driven by playwright-core.
 *
 * @example
 *   const browser = await launchChromium();
 *   const page = await browser.newPage({ viewport: { width: 375, height: 800 } });
 */
export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: run "bash scripts/ensure-debs.sh chromium" (npm test does it)`);
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: FLAGS });
}

export const SCREENSHOTS = resolve('test-artifacts/screenshots');

/** A full-page screenshot at each width, as test-artifacts/screenshots/<name>-<width>.png; the page keeps its first width. */
export async function screenshots(page: Page, name: string, widths: number[] = [375, 1280], fullPage = true): Promise<void> {
  mkdirSync(SCREENSHOTS, { recursive: true });
  const original = page.viewportSize() ?? { width: 1280, height: 900 };
  for (const width of widths) {
    await page.setViewportSize({ width, height: original.height });
    await page.screenshot({ path: `${SCREENSHOTS}/${name}-${width}.png`, fullPage });
  }
  await page.setViewportSize(original);
}
