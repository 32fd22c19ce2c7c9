#!/usr/bin/env node
// A fake GitHub for OAuth apps: /login/oauth/authorize (auto-approving,
// or denied when asked), /login/oauth/access_token (GitHub's shapes:
// errors as 200 {"error": …}, JSON only with Accept: application/json,
// form-encoded otherwise), and the REST API under /api/v3 (GitHub
// Enterprise's prefix): /user (email null when private) and /user/emails
// (404 without the user:email scope), which, like GitHub, refuse a
// request without a User-Agent.  tests/fakes/README.md lists it all.
//
//   node tests/fakes/github.mjs --port 0 --client-id ID --client-secret S
//
// Prints {"port":N} when listening: GITHUB_BASE_URL=http://HOST:N and
// GITHUB_API_URL=http://HOST:N/api/v3.
import {
    parseOptions, readBody, sendJson, sendText, errorPage, redirectTo,
    clientAuth, timingSafeEqual, randomToken, Control, serve,
} from './oauth_lib.mjs';

const o = parseOptions(process.argv, process.env, {
    '--port': ['port', 'FAKE_GITHUB_PORT', 0],
    '--host': ['host', 'FAKE_GITHUB_HOST', '127.0.0.1'],
    '--client-id': ['clientId', 'FAKE_GITHUB_CLIENT_ID', 'Iv1.fakegithubclient'],
    '--client-secret': ['clientSecret', 'FAKE_GITHUB_CLIENT_SECRET', 'fake-github-secret'],
});

const DOCS = 'https://docs.github.com/apps/managing-oauth-apps/troubleshooting-oauth-app-access-token-request-errors';
const FAULTS = new Set(['access_denied', 'bad_verification_code']);
const CODE_TTL_MS = 10 * 60 * 1000;
let nextId = 5000001;

function makeUser(b) {
    const id = Number(b.id || nextId++);
    const login = b.login || `octo-${id}`;
    const email = b.email === undefined ? null : b.email;
    const emails = b.emails || (email ? [{ email, primary: true, verified: true, visibility: 'public' }] : []);
    return {
        login, id, name: b.name === undefined ? null : b.name, email, emails,
        avatar_url: b.avatar_url || `https://avatars.githubusercontent.example/u/${id}?v=4`,
        // a GitHub App's user tokens expire (8 hours) and come with a
        // refresh token; an OAuth app's do not
        expires_in: b.expires_in,
    };
}

const control = new Control((u) => u.login.toLowerCase());
// Someone whose profile shows their address, and someone who keeps it
// private (its primary address is not the first in the list).
const publicUser = control.addUser(makeUser({ login: 'octo-public', id: 1001, name: 'Octo Public', email: 'octo.public@users.example' }));
control.addUser(makeUser({
    login: 'octo-private', id: 1002, name: null, email: null,
    emails: [
        { email: 'octo.secondary@users.example', primary: false, verified: true, visibility: null },
        { email: 'octo.private@users.example', primary: true, verified: true, visibility: 'private' },
    ],
}));

const codes = new Map();
const tokens = new Map();    // token -> {user, scopes}

// GET /login/oauth/authorize
function authorize(req, res, url) {
    const q = url.searchParams;
    control.count('authorize', Object.fromEntries(q));
    if (q.get('client_id') !== o.clientId) {
        errorPage(res, 404, 'Not Found', 'There is no OAuth application with this client_id.');
        return;
    }
    const redirectUri = q.get('redirect_uri') || '';
    if (!/^https?:\/\//.test(redirectUri)) {
        errorPage(res, 400, 'redirect_uri_mismatch', 'The redirect_uri is not associated with this application.');
        return;
    }
    const state = q.get('state') ?? undefined;
    const next = control.next();
    const login = (q.get('login') || next.login || publicUser.login).toLowerCase();
    const fault = q.get('fake_fault') || next.fault;
    if (fault && !FAULTS.has(fault)) {
        errorPage(res, 400, 'fake: unknown fault', `faults: ${[...FAULTS].join(', ')}`);
        return;
    }
    const user = control.users.get(login);
    if (!user || fault === 'access_denied') {
        redirectTo(res, redirectUri, {
            error: 'access_denied',
            error_description: 'The user has denied your application access.',
            error_uri: `${DOCS}/#access-denied`, state,
        });
        return;
    }
    const scopes = (q.get('scope') || '').split(/[\s,]+/).filter(Boolean);
    const code = randomToken('', 10).replace(/[-_]/g, 'a');
    codes.set(code, { user, scopes, redirectUri, fault, expires: Date.now() + CODE_TTL_MS });
    redirectTo(res, redirectUri, { code, state });
}

// POST /login/oauth/access_token
async function accessToken(req, res) {
    const text = await readBody(req);
    const type = req.headers['content-type'] || '';
    let form;
    if (/^application\/json\b/i.test(type)) {
        try {
            form = new URLSearchParams(JSON.parse(text));
        } catch {
            form = new URLSearchParams();
        }
    } else {
        form = new URLSearchParams(text);
    }
    const client = clientAuth(req, form);
    const wantsJson = /application\/json/i.test(req.headers.accept || '');
    const answer = (obj) => (wantsJson ? sendJson(res, 200, obj)
        : sendText(res, 200, 'application/x-www-form-urlencoded; charset=utf-8', new URLSearchParams(obj).toString()));
    const shown = Object.fromEntries([...form].filter(([k]) => k !== 'client_secret'));
    control.count('token', { auth: client.method, form: shown, accept: req.headers.accept || '' });

    if (client.error || client.id !== o.clientId || !timingSafeEqual(client.secret, o.clientSecret)) {
        return answer({ error: 'incorrect_client_credentials', error_description: 'The client_id and/or client_secret passed are incorrect.', error_uri: `${DOCS}/#incorrect-client-credentials` });
    }
    const code = form.get('code') || '';
    const grant = codes.get(code);
    codes.delete(code);
    if (!grant || grant.expires < Date.now() || grant.fault === 'bad_verification_code') {
        return answer({ error: 'bad_verification_code', error_description: 'The code passed is incorrect or expired.', error_uri: `${DOCS}/#bad-verification-code` });
    }
    if (form.has('redirect_uri') && form.get('redirect_uri') !== grant.redirectUri) {
        return answer({ error: 'redirect_uri_mismatch', error_description: 'The redirect_uri MUST match the registered callback URL for this application.', error_uri: `${DOCS}/#redirect-uri-mismatch` });
    }
    const token = randomToken('gho_', 27).replace(/[-_]/g, 'A');
    tokens.set(token, { user: grant.user, scopes: grant.scopes });
    const expiring = grant.user.expires_in === undefined ? {}
        : { expires_in: grant.user.expires_in, refresh_token: randomToken('ghr_', 27).replace(/[-_]/g, 'A') };
    answer({ access_token: token, token_type: 'bearer', scope: grant.scopes.join(','), ...expiring });
}

function userJson(u) {
    return {
        login: u.login, id: u.id, node_id: `MDQ6VXNlcj${u.id}`, avatar_url: u.avatar_url, gravatar_id: '',
        url: `https://api.github.example/users/${u.login}`, html_url: `https://github.example/${u.login}`,
        type: 'User', site_admin: false, name: u.name, company: null, blog: '', location: null,
        email: u.email, hireable: null, bio: null, twitter_username: null, public_repos: 2,
        public_gists: 0, followers: 1, following: 0,
        created_at: '2011-01-25T18:44:36Z', updated_at: '2024-05-01T10:00:00Z',
    };
}

// GET /api/v3/user, /api/v3/user/emails
function api(req, res, path) {
    control.count(path === '/user' ? 'user' : 'emails', { authorization: (req.headers.authorization || '').split(' ')[0], userAgent: req.headers['user-agent'] || '' });
    if (!req.headers['user-agent']) {
        sendText(res, 403, 'text/plain; charset=utf-8', 'Request forbidden by administrative rules. Please make sure your request has a User-Agent header (https://docs.github.com/en/rest/overview/resources-in-the-rest-api#user-agent-required). Check https://developer.github.com for other possible causes.\n');
        return;
    }
    const m = /^(?:Bearer|token) (.+)$/i.exec(req.headers.authorization || '');
    const t = m && tokens.get(m[1]);
    if (!t) {
        sendJson(res, 401, { message: 'Bad credentials', documentation_url: 'https://docs.github.com/rest', status: '401' });
        return;
    }
    const scopeHeaders = { 'X-OAuth-Scopes': t.scopes.join(', '), 'X-Accepted-OAuth-Scopes': path === '/user' ? '' : 'user, user:email' };
    if (path === '/user') {
        sendJson(res, 200, userJson(t.user), scopeHeaders);
    } else if (!t.scopes.includes('user:email') && !t.scopes.includes('user')) {
        sendJson(res, 404, { message: 'Not Found', documentation_url: 'https://docs.github.com/rest/users/emails#list-email-addresses-for-the-authenticated-user', status: '404' }, scopeHeaders);
    } else {
        sendJson(res, 200, t.user.emails, scopeHeaders);
    }
}

async function handle(req, res) {
    const url = new URL(req.url, 'http://fake');
    if (await control.handle(req, res, url, makeUser)) return;
    const route = `${req.method} ${url.pathname}`;
    switch (route) {
    case 'GET /login/oauth/authorize':
        return authorize(req, res, url);
    case 'POST /login/oauth/access_token':
        return accessToken(req, res);
    case 'GET /api/v3/user':
        return api(req, res, '/user');
    case 'GET /api/v3/user/emails':
        return api(req, res, '/user/emails');
    default:
        return sendJson(res, 404, { message: 'Not Found', documentation_url: 'https://docs.github.com/rest' });
    }
}

serve(handle, o, 'fake github');
