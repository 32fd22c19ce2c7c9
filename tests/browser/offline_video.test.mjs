// The offline providers' media in a real browser: build/bin/nano-offline
// writes a WebM (VP8 from libvpx in our own WebM writer) and a PNG, a
// tiny node http server (with byte ranges, as media elements ask) serves
// them, and headless Debian Chromium plays the video in a <video>
// element: a duration, readyState >= 2 (HAVE_CURRENT_DATA), the right
// size, playback that advances, and a seek that lands.  The PNG shows
// in an <img> at its size.  Needs no stack.
//
// Run by scripts/test.sh with the browser tests, or alone:
//   node --test tests/browser/offline_video.test.mjs
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const CLI = path.join(ROOT, 'build/bin/nano-offline');
const CHROMIUM = process.env.NANO_TEST_CHROMIUM || '/usr/bin/chromium';
const OUT = path.join(ROOT, 'build/tests/offline');
const SHOTS = path.join(ROOT, 'build/tests/screenshots');

let browser;
let server;
let base;
let info;

const PAGE = `<!doctype html><meta charset="utf-8"><title>offline media</title>
<video id="v" src="/clip.webm" muted playsinline preload="auto" width="640" height="360"></video>
<img id="i" src="/still.png" alt="offline still">`;

before(async () => {
    assert.ok(fs.existsSync(CLI), `${CLI} is missing: run make`);
    assert.ok(fs.existsSync(CHROMIUM), `${CHROMIUM} is missing: install Debian's chromium (scripts/deps.sh does)`);
    fs.mkdirSync(OUT, { recursive: true });
    fs.mkdirSync(SHOTS, { recursive: true });
    info = JSON.parse(execFileSync(CLI, ['video', '--prompt', 'a paper boat on a river', '--model', 'wan2.5-t2v-preview',
        '--seed', '3', '--seconds', '3', '--out', path.join(OUT, 'clip.webm')], { encoding: 'utf8' }));
    execFileSync(CLI, ['image', '--prompt', 'a banana', '--size', '320x200', '--out', path.join(OUT, 'still.png')]);

    const files = {
        '/': ['text/html; charset=utf-8', Buffer.from(PAGE)],
        '/clip.webm': ['video/webm', fs.readFileSync(path.join(OUT, 'clip.webm'))],
        '/still.png': ['image/png', fs.readFileSync(path.join(OUT, 'still.png'))],
    };
    server = http.createServer((req, res) => {
        const f = files[new URL(req.url, 'http://x').pathname];
        if (!f) {
            res.writeHead(404);
            res.end();
            return;
        }
        const [type, data] = f;
        const m = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range || '');
        if (m) {
            const start = Number(m[1]);
            const end = m[2] ? Math.min(Number(m[2]), data.length - 1) : data.length - 1;
            res.writeHead(206, { 'Content-Type': type, 'Content-Length': end - start + 1, 'Content-Range': `bytes ${start}-${end}/${data.length}`, 'Accept-Ranges': 'bytes' });
            res.end(data.subarray(start, end + 1));
            return;
        }
        res.writeHead(200, { 'Content-Type': type, 'Content-Length': data.length, 'Accept-Ranges': 'bytes' });
        res.end(data);
    });
    await new Promise((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${server.address().port}`;
    browser = await chromium.launch({
        executablePath: CHROMIUM,
        headless: true,
        args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking',
            '--disable-component-update', '--disable-sync', '--autoplay-policy=no-user-gesture-required'],
        timeout: 30000,
    });
});

after(async () => {
    await browser?.close().catch(() => {});
    await new Promise((r) => (server ? server.close(r) : r()));
});

test('browser: the offline WebM plays in <video> (duration, readyState, size, playback, seek)', async () => {
    assert.equal(info.frames, 72);
    assert.equal(info.durationMs, 3000);
    const page = await browser.newPage();
    try {
        await page.goto(`${base}/`);
        const canPlay = await page.evaluate(() => document.createElement('video').canPlayType('video/webm; codecs="vp8"'));
        assert.ok(canPlay === 'probably' || canPlay === 'maybe', `canPlayType: ${canPlay}`);
        const state = await page.evaluate(() => new Promise((resolve, reject) => {
            const v = document.getElementById('v');
            const t = setTimeout(() => reject(new Error(`no data: readyState ${v.readyState}, error ${v.error?.code} ${v.error?.message}`)), 15000);
            const check = () => {
                if (v.error) {
                    clearTimeout(t);
                    reject(new Error(`media error ${v.error.code}: ${v.error.message}`));
                } else if (v.readyState >= 2) {
                    clearTimeout(t);
                    resolve({ duration: v.duration, readyState: v.readyState, w: v.videoWidth, h: v.videoHeight });
                }
            };
            v.addEventListener('loadeddata', check);
            v.addEventListener('error', check);
            check();
        }));
        assert.ok(state.duration > 2.9 && state.duration < 3.1, `duration ${state.duration}`);
        assert.ok(state.readyState >= 2, `readyState ${state.readyState}`);
        assert.deepEqual([state.w, state.h], [640, 360]);

        const played = await page.evaluate(() => new Promise((resolve, reject) => {
            const v = document.getElementById('v');
            const t = setTimeout(() => reject(new Error(`did not advance: currentTime ${v.currentTime}, paused ${v.paused}`)), 10000);
            v.addEventListener('timeupdate', () => {
                if (v.currentTime > 0.3) {
                    clearTimeout(t);
                    v.pause();
                    resolve(v.currentTime);
                }
            });
            v.play().catch(reject);
        }));
        assert.ok(played > 0.3);

        const seeked = await page.evaluate(() => new Promise((resolve, reject) => {
            const v = document.getElementById('v');
            const t = setTimeout(() => reject(new Error('seek did not land')), 10000);
            v.addEventListener('seeked', () => {
                clearTimeout(t);
                resolve({ at: v.currentTime, seekable: v.seekable.length ? v.seekable.end(0) : 0 });
            }, { once: true });
            v.currentTime = 2.0;
        }));
        assert.ok(Math.abs(seeked.at - 2.0) < 0.1, `seeked to ${seeked.at}`);
        assert.ok(seeked.seekable > 2.9, `seekable to ${seeked.seekable}`);

        const img = await page.evaluate(() => {
            const i = document.getElementById('i');
            return i.complete ? [i.naturalWidth, i.naturalHeight] : null;
        });
        assert.deepEqual(img, [320, 200]);
        await page.screenshot({ path: path.join(SHOTS, 'offline-media.png') });
    } finally {
        await page.close();
    }
});
