// What tests/ui and tests/browser check of the colours a page draws;
// run in the page: page.evaluate(contrastProblems).

// WCAG 2.1 contrast of what the page draws, read from the computed styles
// in the page: the colour of each visible text against the backgrounds
// behind it (1.4.3: 4.5:1, 3:1 for large text), and the edge of each
// field against what it sits on (1.4.11: 3:1), the shared .nb-form input
// of the platform's forms among them.  [] when all pass.
export function contrastProblems() {
    const rgba = (s) => {
        const m = /rgba?\(([^)]+)\)/.exec(s);
        if (!m) return null;
        const p = m[1].split(/[\s,/]+/).filter(Boolean).map(Number);
        return [p[0], p[1], p[2], p[3] ?? 1];
    };
    const lum = (c) => {
        const [r, g, b] = c.map((v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; });
        return 0.2126 * r + 0.7152 * g + 0.0722 * b;
    };
    const ratio = (a, b) => { const [x, y] = [lum(a), lum(b)].sort((p, q) => p - q); return (y + 0.05) / (x + 0.05); };
    const over = (top, under) => under.map((v, i) => top[i] * top[3] + v * (1 - top[3]));
    // the opaque colour behind el (el's own background when self)
    const behind = (el, self) => {
        const layers = [];
        for (let e = self ? el : el.parentElement; e; e = e.parentElement) {
            const c = rgba(getComputedStyle(e).backgroundColor);
            if (c && c[3] > 0) { layers.push(c); if (c[3] >= 1) break; }
        }
        return layers.reverse().reduce((base, c) => over(c, base), [255, 255, 255]);
    };
    const shown = (el) => el.getClientRects().length > 0 && getComputedStyle(el).visibility !== 'hidden'
        && !el.closest('.nbm-visually-hidden');
    const out = [];
    const seen = new Set();
    const walk = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
    for (let n = walk.nextNode(); n; n = walk.nextNode()) {
        const el = n.parentElement;
        if (!n.data.trim() || seen.has(el) || !shown(el)) continue;
        seen.add(el);
        const cs = getComputedStyle(el);
        const bg = behind(el, true);
        const r = ratio(over(rgba(cs.color), bg), bg);
        const size = parseFloat(cs.fontSize);
        const need = size >= 24 || (Number(cs.fontWeight) >= 700 && size >= 18.66) ? 3 : 4.5;
        if (r < need) out.push(`text "${n.data.trim().slice(0, 30)}" (${el.className}) ${r.toFixed(2)}:1 < ${need}`);
    }
    for (const el of document.querySelectorAll('input:not([type=hidden]):not([type=file]):not([type=checkbox]):not([type=radio]), select, textarea')) {
        if (!shown(el)) continue;
        const r = ratio(over(rgba(getComputedStyle(el).borderTopColor), behind(el, false)), behind(el, false));
        if (r < 3) out.push(`field edge ${el.tagName.toLowerCase()}.${el.className || el.name} ${r.toFixed(2)}:1 < 3`);
    }
    return out;
}
