import fs from 'node:fs';
import path from 'node:path';
import { chromium, type Browser, type Frame, type Page } from 'playwright-core';
import { ROOT, UI_URL } from './system';

/**
 * Drives the Temporal Web UI (2.x, as served by `temporal server start-dev`) the way an
 * operator does: by roles and visible text, plus the few data-testids the UI ships.
 */

/**
 * A local run writes its screenshots to a scratch folder, so it never dirties the tree;
 * `UPDATE_SCREENSHOTS=1 npm run test:ui` refreshes the README's copies in docs/screenshots.
 */
export const SCREENSHOTS =
  process.env.UPDATE_SCREENSHOTS === '1'
    ? path.join(ROOT, 'docs', 'screenshots')
    : path.join(ROOT, 'test-results', 'screenshots');

export async function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
      '--disable-quic',
    ],
  });
}

export async function screenshot(page: Page, name: string): Promise<void> {
  fs.mkdirSync(SCREENSHOTS, { recursive: true });
  await page.screenshot({ path: path.join(SCREENSHOTS, name) });
}

export const listUrl = (query: string) =>
  `${UI_URL}/namespaces/default/workflows?query=${encodeURIComponent(query)}`;

export const workflowUrl = (workflowId: string) =>
  `${UI_URL}/namespaces/default/workflows/${encodeURIComponent(workflowId)}`;

/** The workflow ids the list page shows (the rows' Workflow ID links). */
export async function shownWorkflowIds(page: Page): Promise<string[]> {
  const texts = await page.locator('a[href*="/namespaces/default/workflows/"]').allTextContents();
  const ids = texts.map((text) => text.trim()).filter((text) => /^(order|transfer)-/.test(text));
  return [...new Set(ids)].sort();
}

/**
 * Opens the list filtered by `query` until it shows exactly `expected` (visibility is
 * eventually consistent), and returns what it showed last.
 */
export async function expectListShows(
  page: Page,
  query: string,
  expected: string[],
  timeoutMs = 60_000,
): Promise<string[]> {
  const want = [...expected].sort();
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    await page.goto(listUrl(query));
    // The filter is applied once its chips show; then give the table a moment to fill.
    await page.getByRole('button', { name: 'Clear all' }).waitFor({ timeout: 30_000 });
    if (want.length > 0) {
      await page
        .getByRole('link', { name: want[0], exact: true })
        .first()
        .waitFor({ timeout: 10_000 })
        .catch(() => undefined);
    }
    await page.waitForTimeout(1_000);
    const shown = await shownWorkflowIds(page);
    if (JSON.stringify(shown) === JSON.stringify(want) || Date.now() > deadline) return shown;
    await page.waitForTimeout(2_000);
  }
}

/** A tab of the workflow page (Timeline, Queries, User Metadata, ...). */
export async function openTab(page: Page, name: string): Promise<void> {
  await page.getByRole('tab', { name, exact: true }).click();
}

/**
 * Summary and details are markdown the UI renders in sandboxed iframes: the frame whose
 * text contains `text`, waited for.
 */
export async function frameShowing(page: Page, text: string, timeoutMs = 30_000): Promise<Frame> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    for (const frame of page.frames()) {
      if (frame === page.mainFrame()) continue;
      const body = await frame
        .locator('body')
        .innerText({ timeout: 1_000 })
        .catch(() => '');
      if (body.includes(text)) return frame;
    }
    if (Date.now() > deadline) {
      const seen = await Promise.all(
        page.frames().map((f) =>
          f
            .locator('body')
            .innerText({ timeout: 1_000 })
            .catch(() => ''),
        ),
      );
      throw new Error(`no frame shows "${text}"; frames show: ${JSON.stringify(seen.slice(1))}`);
    }
    await page.waitForTimeout(500);
  }
}

/** Queries tab → Query Type → Run Query; returns the rendered JSON, parsed. */
export async function runQuery(page: Page, queryType: string): Promise<Record<string, unknown>> {
  await openTab(page, 'Queries');
  await page.getByTestId('query-select-button').click();
  await page.getByRole('option', { name: queryType, exact: true }).click();
  await page.getByRole('button', { name: 'Run Query' }).click();
  const result = page.locator('.cm-content', { hasText: '"sagaType"' }).first();
  await result.waitFor({ timeout: 30_000 });
  return JSON.parse(await result.innerText()) as Record<string, unknown>;
}

/**
 * More Actions → Send a Signal: picks `signal`, types `input` (JSON) when given, lets the
 * caller look at the filled dialog, submits and waits for the UI's confirmation.
 */
export async function sendSignal(
  page: Page,
  signal: string,
  input?: unknown,
  beforeSubmit?: () => Promise<void>,
): Promise<void> {
  await page.getByRole('button', { name: 'More Actions' }).click();
  await page.getByRole('menuitem', { name: 'Send a Signal' }).click();
  const dialog = page.getByRole('dialog', { name: 'Send a Signal' });
  await dialog.getByTestId('signal-select-button').click();
  await dialog.getByRole('option', { name: signal, exact: true }).click();
  // Close the list (it stays open after a pick) so the dialog shows what will be sent.
  await dialog.getByRole('heading', { name: 'Send a Signal' }).click();
  if (input !== undefined) {
    await dialog.getByRole('textbox', { name: 'Data' }).click();
    await page.keyboard.insertText(JSON.stringify(input));
  }
  await beforeSubmit?.();
  await dialog.getByRole('button', { name: 'Submit' }).click();
  await page.getByText('Workflow signaled.').first().waitFor({ timeout: 30_000 });
}
