// What several browser tests share: the stack's address, Debian's
// chromium in a throwaway profile (playwright-core, never a browser
// download), screenshots, steps that stop at the first failure, the
// packs of packs.conf, a page's settling, and signing up, paying on the
// fake Stripe's page and signing out the way a person does.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

export const BASE = (process.env.NANO_TEST_BASE || 'http://127.0.0.1:18080').replace(/\/$/, '');
export const ORIGIN = new URL(BASE).origin;
export const CHROMIUM = process.env.NANO_TEST_CHROMIUM || '/usr/bin/chromium';
export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const SHOTS = path.join(ROOT, 'build/tests/screenshots');
export const url = (p) => `${BASE}${p}`;

// packs.conf: id credits price currency label...
export const PACKS = fs.readFileSync(path.join(ROOT, 'packs.conf'), 'utf8').split('\n')
    .map((l) => l.replace(/#.*/, '').trim()).filter(Boolean)
    .map((l) => {
        const [id, credits, price, currency, ...label] = l.split(/\s+/);
        return { id, credits: Number(credits), price: Number(price), currency, label: label.join(' ') };
    });

/* A headless chromium context in a profile of its own; close() also
 * removes the profile.  opts: viewport, acceptDownloads, timeout (the
 * default for actions and navigations), and a device's isMobile, hasTouch
 * and deviceScaleFactor. */
export async function launch({ viewport = { width: 1100, height: 720 }, acceptDownloads = false, timeout = 15000, ...device } = {}) {
    assert.ok(fs.existsSync(CHROMIUM), `${CHROMIUM} is missing: install Debian's chromium (scripts/deps.sh does)`);
    fs.mkdirSync(SHOTS, { recursive: true });
    const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'nano-chromium-'));
    const context = await chromium.launchPersistentContext(profile, {
        executablePath: CHROMIUM,
        headless: true,
        args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
            '--disable-background-networking', '--disable-component-update', '--disable-sync'],
        viewport,
        locale: 'en-US',
        acceptDownloads,
        ...device,
        timeout: 30000,
    });
    context.setDefaultTimeout(timeout);
    context.setDefaultNavigationTimeout(timeout);
    const close = context.close.bind(context);
    context.close = async () => {
        await close().catch(() => {});
        fs.rmSync(profile, { recursive: true, force: true });
    };
    return context;
}

/* shot(page, name) saves build/tests/screenshots/<prefix>-<name>.png. */
export const shooter = (prefix) => (page, name) => page.screenshot({ path: path.join(SHOTS, `${prefix}-${name}.png`), fullPage: true });

/* Waits until the page open now has settled: no request for playwright's
 * 500 ms ("networkidle"), no region its script fills still aria-busy, and
 * its fonts loaded, so that what is measured or shot is what a person
 * sees, on a host of any speed (not after a fixed pause). */
export async function settled(page) {
    await page.waitForLoadState('networkidle');
    await page.waitForFunction(() => !document.querySelector('[aria-busy="true"]') && document.fonts.status === 'loaded');
}

/* Subtests of t that build on each other: after a failure the rest say
 * so at once instead of each waiting for its own timeout. */
export function steps(t) {
    let failed = null;
    return (name, fn) => t.test(name, async () => {
        if (failed) throw new Error(`not run: the step "${failed}" failed`);
        try {
            await fn();
        } catch (e) {
            failed = name;
            throw e;
        }
    });
}

export function newUser(tag = 'browser') {
    const id = crypto.randomBytes(5).toString('hex');
    return { id, email: `${tag}-${id}@example.com`, name: `${tag[0].toUpperCase()}${tag.slice(1)} ${id}`, password: `pw-${id}-long-enough` };
}

/* Fills the sign-up form the page shows (/signup, or the sign-in page's
 * "Create one") and waits to be at `landing` on our origin; should the
 * sign-up end on the sign-in page instead, signs in there. */
export async function signUp(page, user, landing) {
    const f = page.locator('form#nb-signup');
    await f.getByLabel('Name').fill(user.name);
    await f.getByLabel('Email').fill(user.email);
    await f.getByLabel('Password').fill(user.password);
    await f.getByRole('button', { name: 'Create account' }).click();
    await page.waitForURL((u) => u.origin === ORIGIN && (u.pathname === landing || u.pathname === '/api/auth/signin'));
    if (new URL(page.url()).pathname !== landing) await signIn(page, user, landing);
}

/* Signs in with the sign-in page's email form, which the page shows;
 * tap: the button is tapped (a touch device), not clicked. */
export async function signIn(page, user, landing, { tap = false } = {}) {
    await page.getByLabel('Email').fill(user.email);
    await page.getByLabel('Password').fill(user.password);
    const button = page.getByRole('button', { name: 'Sign in' });
    await (tap ? button.tap() : button.click());
    await page.waitForURL((u) => u.origin === ORIGIN && u.pathname === landing);
}

/* On the fake Stripe's checkout page: Pay, and back on /billing once the
 * signed webhook's credits arrived (the page's notice says so). */
export async function payOnFakeStripe(page) {
    await page.getByRole('button', { name: 'Pay' }).click();
    await page.waitForURL((u) => u.origin === ORIGIN && u.pathname === '/billing');
    await page.locator('[data-nbb-notice]').waitFor({ state: 'visible' });
    await page.waitForFunction(() => document.querySelector('[data-nbb-notice]')?.dataset.kind === 'done', null, { timeout: 30000 });
}

/* The header's Sign out, then the sign-out page's button. */
export async function signOut(page) {
    await page.locator('header').getByRole('link', { name: 'Sign out' }).click();
    await page.waitForURL((u) => u.origin === ORIGIN && u.pathname === '/api/auth/signout');
    await page.locator('main form').getByRole('button', { name: 'Sign out' }).click();
    await page.waitForURL((u) => u.origin === ORIGIN && u.pathname !== '/api/auth/signout');
    await page.waitForLoadState('load');
}
