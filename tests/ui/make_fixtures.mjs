// Makes tests/ui/fixtures/clip.webm, the short video the mock module API
// serves for wan-2.5: headless Debian chromium records a canvas animation
// with MediaRecorder (VP8 in WebM, what the offline provider also makes).
// Run once when the fixture should change; the file is committed:
//   node tests/ui/make_fixtures.mjs
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(path.join(HERE, '../browser/package.json'));
const { chromium } = require('playwright-core');

const browser = await chromium.launch({
    executablePath: process.env.NANO_TEST_CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--no-first-run'],
});
const page = await browser.newPage();
const b64 = await page.evaluate(async () => {
    const c = document.createElement('canvas');
    c.width = 320;
    c.height = 180;
    document.body.append(c);
    const g = c.getContext('2d');
    const rec = new MediaRecorder(c.captureStream(25), { mimeType: 'video/webm;codecs=vp8', videoBitsPerSecond: 150000 });
    const parts = [];
    rec.ondataavailable = (e) => parts.push(e.data);
    const t0 = performance.now();
    rec.start();
    await new Promise((done) => {
        (function frame() {
            const t = (performance.now() - t0) / 1000;
            g.fillStyle = '#1f1d17';
            g.fillRect(0, 0, 320, 180);
            g.fillStyle = '#f2c200';
            g.beginPath();
            g.arc(40 + t * 160, 90 + Math.sin(t * 6) * 40, 24, 0, Math.PI * 2);
            g.fill();
            if (t < 1.5) requestAnimationFrame(frame);
            else done();
        })();
    });
    rec.stop();
    await new Promise((r) => { rec.onstop = r; });
    const buf = new Uint8Array(await new Blob(parts).arrayBuffer());
    let s = '';
    for (const x of buf) s += String.fromCharCode(x);
    return btoa(s);
});
await browser.close();
const out = path.join(HERE, 'fixtures/clip.webm');
fs.writeFileSync(out, Buffer.from(b64, 'base64'));
console.log(`${out}: ${fs.statSync(out).size} bytes`);
