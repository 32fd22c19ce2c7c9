/* The settings page (GET /settings): the profile (name, picture), the
 * password (a first one for a user who signs in only with Google or
 * GitHub), the sessions, connected accounts, the data export and account
 * deletion (without a password for such a user), each over its
 * /api/account/* call (docs/PLATFORM.md).  Plain ES module, no build
 * step; user text only ever goes in as text. */

import { h, call, callJSON, when, safeUrl, explain, showError, ApiError, Balance, checkedDownload } from './module.js';

const MIB = 1024 * 1024;
const AVATAR_MAX = 5 * MIB;

const $ = (sel, root = document) => root.querySelector(sel);

/* What GET /api/account/connections said: until it answers, the page is
 * the one for a user with a password and nothing connected. */
const account = { hasPassword: true, connections: [], providers: [] };

function providerName(id) {
    const p = account.providers.find((x) => x.id === id);
    return p ? p.name : id.charAt(0).toUpperCase() + id.slice(1);
}

/* A refusal for want of a fresh sign-in: with a way to sign in again
 * with each connected account (it comes back here). */
function reauthWords() {
    const ids = account.connections.map((c) => c.provider)
        .filter((id, i, all) => all.indexOf(id) === i && account.providers.some((p) => p.id === id));
    const names = ids.map(providerName);
    const who = names.length ? names.join(' or ') : 'a connected account';
    return {
        text: `For this you need a recent sign-in: sign in again with ${who}, then do it within 10 minutes.`,
        links: ids.map((id) => ({
            href: `/api/auth/signin/${encodeURIComponent(id)}?callbackUrl=%2Fsettings`,
            text: `Sign in again with ${providerName(id)}`,
        })),
    };
}

/* A server's lower-case message ("the name must be ...") as a sentence. */
const sentence = (s) => s.charAt(0).toUpperCase() + s.slice(1) + (/[.!?]$/.test(s) ? '' : '.');

/* What an account call's refusal means here, in words. */
function words(e) {
    if (e instanceof ApiError) {
        if (e.code === 'image_too_large') {
            /* "the image is WxH pixels; at most 25000000 pixels and 16384 on a side are accepted" */
            const m = /(\d+)x(\d+) pixels/.exec(e.detail);
            return {
                text: `That picture is too large${m ? ` (${m[1]} × ${m[2]} pixels)` : ''}: pictures can have at most 25 megapixels and 16,384 pixels on a side.`,
            };
        }
        if (e.code === 'invalid_password' && /72 bytes/.test(e.detail)) {
            return { text: 'That password is too long: use at most 72 bytes (72 plain letters or digits; accented letters and emoji take more).' };
        }
        if (e.code === 'invalid_name' || e.code === 'invalid_password' || e.code === 'invalid_image') {
            return { text: e.detail ? sentence(e.detail) : 'That was not accepted.' };
        }
        if (e.code === 'last_sign_in_method') {
            return { text: 'This is your only way to sign in, so it cannot be unlinked: set a password or connect another account first.' };
        }
        if (e.code === 'not_linked') return { text: 'That account is no longer connected. Reload the page.' };
        if (e.code === 'reauth_required') return reauthWords();
        if (e.code === 'wrong_password') return { text: 'That password is not correct.' };
        if (e.code === 'busy') return { text: 'Too many pictures are being processed right now. Try again in a few seconds.' };
        if (e.status === 413) return { text: 'That picture is too large: up to 5 MB.' };
        if (e.status === 415) return { text: 'That file is not a PNG, JPEG or WebP picture.' };
        if (e.status === 404) return { text: 'That is already gone. Reload the page.' };
    }
    return explain(e);
}

/* The field a refusal is about: marked aria-invalid with the form's
 * error as its message, and focused, so that a screen reader tells which
 * field and the person types there at once; the mark goes with the next
 * change of the field or the next try. */
const FIELDS = { invalid_name: ['name'], invalid_password: ['newPassword'], wrong_password: ['currentPassword', 'password'] };

function fieldOf(form, e) {
    for (const n of (e instanceof ApiError && FIELDS[e.code]) || []) {
        const el = form.elements[n];
        if (el && !el.disabled) return el;
    }
    return null;
}

let errorIds = 0;

function markInvalid(form, el) {
    const err = $('[data-nbs-error]', form);
    if (!err.id) err.id = `nbs-error-${++errorIds}`;
    el.setAttribute('aria-invalid', 'true');
    el.setAttribute('aria-errormessage', err.id);
    el.addEventListener(el.type === 'checkbox' || el.type === 'file' ? 'change' : 'input', () => clearInvalid(el), { once: true });
    el.focus();
}

function clearInvalid(el) {
    el.removeAttribute('aria-invalid');
    el.removeAttribute('aria-errormessage');
}

/* A form's error, said before anything is sent, about field el. */
function refuse(form, el, info) {
    showError($('[data-nbs-error]', form), info);
    markInvalid(form, el);
}

/* A disabled button drops the focus to the body, where a keyboard or
 * screen-reader user loses their place.  Called as the button is
 * disabled; the function returned puts the focus on el (the button
 * again, or, when the button is gone, its section's heading) if the
 * button had it and nothing took it meanwhile. */
function keepPlace(button) {
    const had = document.activeElement === button;
    return (el = button) => {
        const now = document.activeElement;
        if (!had || (now && now !== document.body) || !el || !el.isConnected) return;
        if (!el.matches('button, a, input, select, textarea') && !el.hasAttribute('tabindex')) el.setAttribute('tabindex', '-1');
        el.focus();
    };
}

/* showError, with each of info.links after the text. */
function say(el, info) {
    showError(el, info && info.links ? { text: info.text } : info);
    for (const l of (info && info.links) || []) el.append(' ', h('a', { href: l.href, text: l.text }));
}

/* Runs a form's call with its button busy, its status and its error.
 * after(result) shows what changed before the status says done, so
 * that "Saved." means the page is up to date. */
async function busy(form, fn, done, after) {
    const button = $('button[type="submit"]', form) || form;
    const status = $('[data-nbs-status]', form);
    const err = $('[data-nbs-error]', form);
    showError(err, null);
    for (const el of form.querySelectorAll('[aria-invalid]')) clearInvalid(el);
    if (status) status.textContent = '';
    const back = keepPlace(button);
    button.disabled = true;
    try {
        const out = await fn();
        if (after) after(out);
        if (status && done) status.textContent = done;
        return out;
    } catch (e) {
        say(err, words(e));
        const field = fieldOf(form, e);
        button.disabled = false;     /* before the focus moves */
        if (field) markInvalid(form, field);
        return undefined;
    } finally {
        button.disabled = false;
        back();
    }
}

/* The header shows the name and picture the re-issued cookie carries;
 * this page's own header is made before the change, so it follows. */
function showUser(user) {
    for (const el of document.querySelectorAll('header .nb-user-name, [data-nbs-who]')) {
        el.textContent = user.name || '';
    }
    /* the header cuts a long name short; its title has it whole */
    document.querySelector('header .nb-user-name')?.setAttribute('title', user.name || '');
    const who = document.querySelector('header .nb-who');
    let img = who && $('img.nb-avatar', who);
    const src = user.image && user.image.startsWith('/api/account/avatar/') ? safeUrl(user.image) : null;
    if (who && src && !img) {
        img = h('img', { class: 'nb-avatar', alt: '', width: 28, height: 28 });
        who.prepend(img);
    }
    if (img && src) img.src = src;
    if (img && !src) img.remove();
    const big = $('[data-nbs-avatar-img]');
    big.src = src || '/ui/logo.svg';
    $('[data-nbs-avatar-remove]').hidden = !src;
}

/* set once a profile change answered: the session read at start is
 * older than it then */
let profileSaved = false;

function showSaved(user) {
    profileSaved = true;
    showUser(user);
}

function profile() {
    const nameForm = $('[data-nbs-name]');
    nameForm.addEventListener('submit', async (ev) => {
        ev.preventDefault();
        const name = nameForm.elements.name.value.trim();
        if (!name) {
            refuse(nameForm, nameForm.elements.name, { text: 'Enter a name.' });
            return;
        }
        await busy(nameForm, () => callJSON('/api/account/profile', { method: 'POST', json: { name } }), 'Saved.',
            (user) => {
                nameForm.elements.name.value = user.name;
                showSaved(user);
            });
    });

    const avatarForm = $('[data-nbs-avatar]');
    avatarForm.addEventListener('submit', async (ev) => {
        ev.preventDefault();
        const file = avatarForm.elements.image.files[0];
        if (!file) {
            refuse(avatarForm, avatarForm.elements.image, { text: 'Choose a picture first.' });
            return;
        }
        if (file.size > AVATAR_MAX) {
            refuse(avatarForm, avatarForm.elements.image, { text: 'That picture is too large: up to 5 MB.' });
            return;
        }
        const form = new FormData();
        form.append('image', file);
        await busy(avatarForm, () => callJSON('/api/account/avatar', { method: 'POST', form }), 'Picture saved.',
            (user) => {
                avatarForm.reset();
                showSaved(user);
            });
    });
    $('[data-nbs-avatar-remove]').addEventListener('click', async () => {
        await busy(avatarForm, () => callJSON('/api/account/avatar', { method: 'DELETE' }), 'Picture removed.', showSaved);
    });
}

/* The password form: a change, or for a user without one a first
 * password (no current one asked). */
function passwordMode() {
    const form = $('[data-nbs-password]');
    const first = !account.hasPassword;
    $('[data-nbs-current]', form).hidden = first;
    form.elements.currentPassword.disabled = first;
    $('[data-nbs-first-password]').hidden = !first;
    $('button[type="submit"]', form).textContent = first ? 'Set password' : 'Change password';
}

function password() {
    const form = $('[data-nbs-password]');
    form.addEventListener('submit', async (ev) => {
        ev.preventDefault();
        const first = !account.hasPassword;
        const body = first ? { newPassword: form.elements.newPassword.value }
            : { currentPassword: form.elements.currentPassword.value, newPassword: form.elements.newPassword.value };
        await busy(form, () => callJSON('/api/account/password', { method: 'POST', json: body }),
            first ? 'Password set: you can sign in with your email and this password too. Your other sessions were signed out.'
                : 'Password changed. Your other sessions were signed out.',
            () => {
                form.reset();
                loadSessions();
                if (first) {
                    account.hasPassword = true;
                    passwordMode();
                    removalMode();
                }
            });
    });
}

/* A browser's name from its User-Agent, roughly: enough to tell them apart. */
function agentText(ua) {
    if (!ua) return 'Unknown browser';
    const b = /(Edg|OPR|Firefox|Chrome|Chromium|Safari)\/[\d.]+/.exec(ua);
    const os = /(Windows|Android|iPhone|iPad|Mac OS X|Linux)/.exec(ua);
    const name = b ? { Edg: 'Edge', OPR: 'Opera' }[b[1]] || b[1] : ua.slice(0, 60);
    return os ? `${name} on ${os[1] === 'Mac OS X' ? 'macOS' : os[1]}` : name;
}

/* The sessions come a page at a time, newest sign-in first (a script
 * that signs in leaves thousands); Show more adds the next page.  One
 * page at a time: a second press before its page came would ask for the
 * same page again; and a reload from the first page (after "Sign out
 * this one") wins over a page still on its way. */
const sessionPages = { cursor: null, busy: false, seq: 0 };

function sessionRow(s, err) {
    return h('tr', { 'data-session': s.id, class: s.current ? 'nbs-current' : null },
        h('td', {}, h('span', { text: agentText(s.userAgent), title: s.userAgent || '' }),
            s.current ? h('span', { class: 'nbm-badge nbm-badge-succeeded', text: 'This browser' }) : null),
        /* data-label: the column's head, shown on a phone's stacked rows */
        h('td', { 'data-label': 'Address', text: s.ipAddress || '—' }),
        h('td', { 'data-label': 'Signed in' }, h('time', { datetime: s.createdAt, text: when(s.createdAt) })),
        h('td', { 'data-label': 'Last seen' }, h('time', { datetime: s.lastSeenAt, text: when(s.lastSeenAt) })),
        h('td', {}, h('button', {
            type: 'button',
            class: 'nbm-button-quiet',
            text: s.current ? 'Sign out' : 'Sign out this one',
            onclick: async (ev) => {
                const button = ev.currentTarget;
                const back = keepPlace(button);
                button.disabled = true;
                try {
                    await call(`/api/account/sessions/${encodeURIComponent(s.id)}`, { method: 'DELETE' });
                    if (s.current) location.assign('/');
                    else {
                        await loadSessions();
                        back($('#nbs-sessions-h'));
                    }
                } catch (e) {
                    say(err, words(e));
                    button.disabled = false;
                    back();
                }
            },
        })));
}

async function loadSessions(more = false) {
    if (more && sessionPages.busy) return;
    const seq = ++sessionPages.seq;
    const box = $('[data-nbs-sessions]');
    const err = $('[data-nbs-sessions-error]');
    const moreButton = $('[data-nbs-sessions-more]');
    const back = keepPlace(moreButton);
    const q = new URLSearchParams({ limit: '50' });
    if (more && sessionPages.cursor) q.set('cursor', sessionPages.cursor);
    let page;
    sessionPages.busy = true;
    moreButton.disabled = true;
    try {
        page = await callJSON(`/api/account/sessions?${q}`);
    } catch (e) {
        if (seq !== sessionPages.seq) return;
        say(err, words(e));
        moreButton.disabled = false;
        back();
        return;
    } finally {
        if (seq === sessionPages.seq) sessionPages.busy = false;
    }
    if (seq !== sessionPages.seq) return;
    showError(err, null);
    let body = more ? $('tbody', box) : null;
    if (!body) {
        body = h('tbody', {});
        box.replaceChildren(h('table', { class: 'nbs-sessions' },
            h('thead', {}, h('tr', {}, ['Browser', 'Address', 'Signed in', 'Last seen', ''].map((t) => h('th', { scope: 'col', text: t })))),
            body));
    }
    const rows = page.sessions.map((s) => sessionRow(s, err));
    body.append(...rows);
    sessionPages.cursor = page.nextCursor || null;
    moreButton.hidden = !sessionPages.cursor;
    moreButton.disabled = false;
    /* the button gone with the last page: the first new row's */
    back(sessionPages.cursor ? moreButton : rows.length ? $('button', rows[0]) : $('#nbs-sessions-h'));
    box.removeAttribute('aria-busy');
}

function sessions() {
    $('[data-nbs-signout-all]').addEventListener('click', async (ev) => {
        const button = ev.currentTarget;
        const back = keepPlace(button);
        button.disabled = true;
        try {
            await call('/api/account/signout-all', { method: 'POST', json: {} });
            location.assign('/api/auth/signin?callbackUrl=%2Fsettings');
        } catch (e) {
            say($('[data-nbs-sessions-error]'), words(e));
            button.disabled = false;
            back();
        }
    });
    $('[data-nbs-sessions-more]').addEventListener('click', () => loadSessions(true));
    loadSessions();
}

/* Connected accounts: each with Unlink, a "Connect <Name>" link for each
 * configured provider not connected (its sign-in page starts the link and
 * comes back here).  Hidden when no provider is configured and nothing
 * is connected, or when the call fails; its answer also says whether
 * the user has a password, for the password and deletion forms. */
async function connections() {
    const section = $('[data-nbs-connections]');
    let data;
    try {
        data = await callJSON('/api/account/connections');
    } catch {
        return;
    }
    if (!data || !Array.isArray(data.connections) || !Array.isArray(data.providers)) return;
    account.hasPassword = data.hasPassword !== false;
    account.connections = data.connections;
    account.providers = data.providers;
    passwordMode();
    removalMode();

    const err = $('[data-nbs-connections-error]');
    const status = $('[data-nbs-connections-status]');
    const list = account.connections;
    $('[data-nbs-connections-list]').replaceChildren(list.length
        ? h('ul', { class: 'nbs-connections' }, list.map((c) => {
            const name = providerName(c.provider);
            return h('li', { 'data-provider': c.provider },
                h('strong', { text: name }), ' ', h('span', { class: 'nbm-muted', text: c.providerAccountId || '' }), ' ',
                h('button', {
                    type: 'button',
                    class: 'nbm-button-quiet',
                    text: 'Unlink',
                    'aria-label': `Unlink ${name}`,
                    onclick: async (ev) => {
                        const button = ev.currentTarget;
                        const back = keepPlace(button);
                        button.disabled = true;
                        showError(err, null);
                        status.textContent = '';
                        try {
                            await call(`/api/account/connections/${encodeURIComponent(c.provider)}`, { method: 'DELETE' });
                            status.textContent = `${name} unlinked.`;
                            await connections();
                            back($('#nbs-connections-h'));
                        } catch (e) {
                            say(err, words(e));
                            button.disabled = false;
                            back();
                        }
                    },
                }));
        }))
        : h('p', { class: 'nbm-muted', text: 'No account is connected.' }));
    const linked = new Set(list.map((c) => c.provider));
    $('[data-nbs-connect]').replaceChildren(...account.providers.filter((p) => !linked.has(p.id)).map((p) => h('a', {
        class: 'nb-button',
        href: `/api/auth/signin/${encodeURIComponent(p.id)}?link=1&callbackUrl=%2Fsettings`,
        'data-provider': p.id,
        text: `Connect ${p.name}`,
    })));
    section.hidden = list.length === 0 && account.providers.length === 0;
}

/* Deletion asks for the password, or for a user without one nothing
 * (the server wants a fresh sign-in with a connected account then). */
function removalMode() {
    const form = $('[data-nbs-delete]');
    $('[data-nbs-delete-password]', form).hidden = !account.hasPassword;
    form.elements.password.disabled = !account.hasPassword;
    $('[data-nbs-delete-oauth]', form).hidden = account.hasPassword;
}

function removal() {
    const form = $('[data-nbs-delete]');
    form.addEventListener('submit', async (ev) => {
        ev.preventDefault();
        if (!form.elements.confirm.checked) {
            refuse(form, form.elements.confirm, { text: 'Tick the box to confirm.' });
            return;
        }
        const body = account.hasPassword ? { password: form.elements.password.value } : {};
        const ok = await busy(form, () => callJSON('/api/account', { method: 'DELETE', json: body }));
        if (ok) location.assign('/');
    });
}

/* "Download my data" asks first whether this page's account is still
 * the one signed in, and the export's HEAD whether it would be written
 * now (checkedDownload). */
function dataExport() {
    const err = $('[data-nbs-export-error]');
    checkedDownload($('[data-nbs-export]'), (e) => {
        /* one export at a time per user (export_in_progress), or the
         * platform writing as many as it takes: a HEAD's refusal does
         * not say which */
        showError(err, e && (e.status === 429
            ? { text: 'An export of your data is already being prepared, or too many exports are being written at the moment. Wait for yours to finish, then try again in a few seconds.' }
            : explain(e)));
        return !e;
    }, { head: true });
}

async function start() {
    /* the header's balance chip, as on the other pages */
    new Balance().refresh();
    dataExport();
    profile();
    password();
    sessions();
    removal();
    /* body[data-nbs-ready]: the connections (and so the forms' mode) are in */
    connections().finally(() => document.body.setAttribute('data-nbs-ready', ''));
    try {
        const s = await callJSON('/api/auth/session');
        /* a late answer must not undo what the person typed or saved
         * meanwhile (a slow one once put the old name back in the field
         * just before Save sent it) */
        const input = $('[data-nbs-name]').elements.name;
        if (s && s.user && !profileSaved) {
            if (input.value === input.defaultValue) input.value = s.user.name || '';
            showUser(s.user);
        }
    } catch {
        /* the page still works from what the server rendered */
    }
    /* body[data-nbs-session]: the session's answer is in (or failed) */
    document.body.setAttribute('data-nbs-session', '');
}

if (document.querySelector('[data-nb-settings]')) start();
