#!/usr/bin/env node
// A fake OpenID Connect provider that speaks Google's protocol: discovery,
// the authorization endpoint (auto-approving, as a person who clicks
// "Continue" would), the token endpoint (authorization code, PKCE S256 or
// plain, client_secret_basic or client_secret_post, single-use codes),
// userinfo, and a JWKS with RS256 keys made at start.  ID tokens carry
// Google's claims; a fault asked for per sign-in makes a bad one (wrong
// nonce, bad signature, wrong aud, expired, wrong iss, …) so the
// platform's refusals can be tested.  tests/fakes/README.md lists it all.
//
//   node tests/fakes/oidc.mjs --port 0 --client-id ID --client-secret S
//
// Prints {"port":N} when listening; the issuer is http://HOST:N.
import crypto from 'node:crypto';
import {
    parseOptions, readBody, sendJson, errorPage, redirectTo, clientAuth,
    timingSafeEqual, randomToken, Control, serve,
} from './oauth_lib.mjs';

const o = parseOptions(process.argv, process.env, {
    '--port': ['port', 'FAKE_OIDC_PORT', 0],
    '--host': ['host', 'FAKE_OIDC_HOST', '127.0.0.1'],
    '--client-id': ['clientId', 'FAKE_OIDC_CLIENT_ID', 'fake-client.apps.googleusercontent.com'],
    '--client-secret': ['clientSecret', 'FAKE_OIDC_CLIENT_SECRET', 'fake-google-secret'],
    '--redirect-uri': ['redirectUris', 'FAKE_OIDC_REDIRECT_URIS', []],
});

const FAULTS = new Set([
    'access_denied', 'wrong_nonce', 'no_nonce', 'bad_signature', 'wrong_aud',
    'expired', 'future_iat', 'wrong_iss', 'alg_none', 'alg_hs256', 'unknown_kid',
    'no_id_token', 'invalid_grant', 'unverified_email',
]);
const CODE_TTL_MS = 10 * 60 * 1000;
const SCOPES = 'openid https://www.googleapis.com/auth/userinfo.email https://www.googleapis.com/auth/userinfo.profile';

// Two signing keys in the JWKS, as Google publishes, and one outside it
// for bad signatures.
const keys = [0, 1].map((i) => {
    const { privateKey, publicKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
    return { kid: crypto.createHash('sha1').update(publicKey.export({ type: 'spki', format: 'der' })).digest('hex').slice(0, 40) + i, privateKey, publicKey };
});
const stranger = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;

function makeUser(b) {
    const sub = String(b.sub || (100000000000000000000n + BigInt('0x' + crypto.randomBytes(8).toString('hex'))).toString());
    const name = b.name ?? 'Fake Person';
    return {
        sub,
        email: b.email ?? `${sub}@gmail.example`,
        email_verified: b.email_verified ?? true,
        name,
        given_name: b.given_name ?? name.split(' ')[0],
        family_name: b.family_name ?? name.split(' ').slice(1).join(' '),
        picture: b.picture ?? `https://lh3.googleusercontent.example/a/${sub}=s96-c`,
        locale: b.locale ?? 'en',
    };
}

const control = new Control((u) => u.email.toLowerCase());
const defaultUser = control.addUser(makeUser({ sub: '100000000000000000001', email: 'fake.person@gmail.example', name: 'Fake Person' }));
const codes = new Map();     // code -> the grant
const tokens = new Map();    // access token -> user

let issuer = '';

function discovery() {
    return {
        issuer,
        authorization_endpoint: `${issuer}/o/oauth2/v2/auth`,
        device_authorization_endpoint: `${issuer}/device/code`,
        token_endpoint: `${issuer}/token`,
        userinfo_endpoint: `${issuer}/v1/userinfo`,
        revocation_endpoint: `${issuer}/revoke`,
        jwks_uri: `${issuer}/oauth2/v3/certs`,
        response_types_supported: ['code', 'token', 'id_token', 'code token', 'code id_token', 'token id_token', 'code token id_token', 'none'],
        subject_types_supported: ['public'],
        id_token_signing_alg_values_supported: ['RS256'],
        scopes_supported: ['openid', 'email', 'profile'],
        token_endpoint_auth_methods_supported: ['client_secret_post', 'client_secret_basic'],
        claims_supported: ['aud', 'email', 'email_verified', 'exp', 'family_name', 'given_name', 'iat', 'iss', 'name', 'picture', 'sub'],
        code_challenge_methods_supported: ['plain', 'S256'],
        grant_types_supported: ['authorization_code', 'refresh_token'],
    };
}

function jwks() {
    return {
        keys: keys.map((k) => ({ ...k.publicKey.export({ format: 'jwk' }), alg: 'RS256', use: 'sig', kid: k.kid })),
    };
}

const b64 = (x) => Buffer.from(typeof x === 'string' ? x : JSON.stringify(x)).toString('base64url');

// The ID token of a grant, made as its fault asks.
function idToken(grant, accessToken) {
    const now = Math.floor(Date.now() / 1000);
    const u = grant.user;
    const f = grant.fault;
    const atHash = crypto.createHash('sha256').update(accessToken).digest().subarray(0, 16).toString('base64url');
    const claims = {
        iss: f === 'wrong_iss' ? 'https://accounts.evil.example' : issuer,
        azp: grant.clientId,
        aud: f === 'wrong_aud' ? 'someone-else.apps.googleusercontent.com' : grant.clientId,
        sub: u.sub,
        email: u.email,
        email_verified: f === 'unverified_email' ? false : u.email_verified,
        at_hash: atHash,
        name: u.name,
        picture: u.picture,
        given_name: u.given_name,
        family_name: u.family_name,
        iat: f === 'expired' ? now - 7200 : f === 'future_iat' ? now + 3600 : now,
        exp: f === 'expired' ? now - 3600 : now + 3600,
    };
    if (f === 'wrong_aud') claims.azp = claims.aud;
    if (grant.nonce !== undefined && f !== 'no_nonce') {
        claims.nonce = f === 'wrong_nonce' ? `${grant.nonce}x` : grant.nonce;
    }
    const key = keys[0];
    const header = { alg: 'RS256', kid: f === 'unknown_kid' ? 'not-a-published-kid' : key.kid, typ: 'JWT' };
    if (f === 'alg_none') return `${b64({ alg: 'none', typ: 'JWT' })}.${b64(claims)}.`;
    const input = `${b64(f === 'alg_hs256' ? { alg: 'HS256', kid: key.kid, typ: 'JWT' } : header)}.${b64(claims)}`;
    if (f === 'alg_hs256') {
        // the "public key as HMAC secret" confusion attack
        const secret = key.publicKey.export({ type: 'spki', format: 'pem' });
        return `${input}.${crypto.createHmac('sha256', secret).update(input).digest('base64url')}`;
    }
    const signer = f === 'bad_signature' ? stranger : key.privateKey;
    return `${input}.${crypto.sign('sha256', Buffer.from(input), signer).toString('base64url')}`;
}

// GET /o/oauth2/v2/auth (also /authorize)
function authorize(req, res, url) {
    const q = url.searchParams;
    control.count('authorize', Object.fromEntries(q));
    if (q.get('client_id') !== o.clientId) {
        errorPage(res, 401, 'Error 401: invalid_client', 'The OAuth client was not found.');
        return;
    }
    const redirectUri = q.get('redirect_uri') || '';
    let ok = /^https?:\/\//.test(redirectUri);
    if (o.redirectUris.length) ok = o.redirectUris.includes(redirectUri);
    if (!ok) {
        errorPage(res, 400, 'Error 400: redirect_uri_mismatch', 'The redirect URI in the request does not match the ones authorized for the OAuth client.');
        return;
    }
    const state = q.get('state') ?? undefined;
    const fail = (error, description) => redirectTo(res, redirectUri, { error, error_description: description, state });
    if (q.get('response_type') !== 'code') return fail('unsupported_response_type', 'Only response_type=code is served here');
    if (!(q.get('scope') || '').split(/\s+/).includes('openid')) return fail('invalid_scope', 'Some requested scopes were invalid: openid is missing');
    const method = q.get('code_challenge_method') || (q.has('code_challenge') ? 'plain' : undefined);
    if (method && !['plain', 'S256'].includes(method)) return fail('invalid_request', 'Invalid code_challenge_method');

    // who signs in: login_hint, else what /_fake/next queued, else the default
    const next = control.next();
    const hint = (q.get('login_hint') || next.email || '').toLowerCase();
    const user = hint ? control.users.get(hint) : defaultUser;
    const fault = q.get('fake_fault') || next.fault;
    if (!user) return fail('access_denied', `no such test user: ${hint}`);
    if (fault && !FAULTS.has(fault)) {
        errorPage(res, 400, 'fake: unknown fault', `faults: ${[...FAULTS].join(', ')}`);
        return;
    }
    if (fault === 'access_denied') return fail('access_denied', undefined);

    const code = randomToken('4/0Afake', 30);
    codes.set(code, {
        clientId: o.clientId, redirectUri, user, fault,
        nonce: q.get('nonce') ?? undefined,
        challenge: q.get('code_challenge') ?? undefined, method,
        expires: Date.now() + CODE_TTL_MS,
    });
    redirectTo(res, redirectUri, { state, code, scope: SCOPES, authuser: '0', prompt: 'none' });
}

const tokenError = (res, status, error, description) => sendJson(res, status, { error, error_description: description });

// POST /token
async function token(req, res) {
    const text = await readBody(req);
    if (!/^application\/x-www-form-urlencoded\b/i.test(req.headers['content-type'] || '')) {
        return tokenError(res, 400, 'invalid_request', 'Invalid Content-Type');
    }
    const form = new URLSearchParams(text);
    const client = clientAuth(req, form);
    const shown = Object.fromEntries([...form].filter(([k]) => k !== 'client_secret'));
    control.count('token', { auth: client.method, form: shown, accept: req.headers.accept || '' });
    if (client.error) return tokenError(res, 400, 'invalid_request', client.error);
    if (client.id !== o.clientId || !timingSafeEqual(client.secret, o.clientSecret)) {
        return tokenError(res, 401, 'invalid_client', 'Unauthorized');
    }
    if (form.get('grant_type') !== 'authorization_code') {
        return tokenError(res, 400, 'unsupported_grant_type', 'Invalid grant_type: ' + (form.get('grant_type') || ''));
    }
    const code = form.get('code') || '';
    const grant = codes.get(code);
    // a code is good once, as Google's are
    codes.delete(code);
    if (!grant || grant.expires < Date.now()) return tokenError(res, 400, 'invalid_grant', 'Bad Request');
    if (form.get('redirect_uri') !== grant.redirectUri) return tokenError(res, 400, 'redirect_uri_mismatch', 'Bad Request');
    if (grant.challenge !== undefined) {
        const verifier = form.get('code_verifier');
        if (!verifier) return tokenError(res, 400, 'invalid_grant', 'Missing code verifier.');
        const computed = grant.method === 'S256' ? crypto.createHash('sha256').update(verifier).digest('base64url') : verifier;
        if (!timingSafeEqual(computed, grant.challenge)) return tokenError(res, 400, 'invalid_grant', 'Invalid code verifier.');
    }
    if (grant.fault === 'invalid_grant') return tokenError(res, 400, 'invalid_grant', 'Bad Request');
    const accessToken = randomToken('ya29.fake-', 40);
    tokens.set(accessToken, grant.user);
    const answer = { access_token: accessToken, expires_in: 3599, scope: SCOPES, token_type: 'Bearer' };
    if (grant.fault !== 'no_id_token') answer.id_token = idToken(grant, accessToken);
    sendJson(res, 200, answer, { Pragma: 'no-cache' });
}

// GET /v1/userinfo (also /userinfo)
function userinfo(req, res) {
    control.count('userinfo');
    const m = /^Bearer (.+)$/i.exec(req.headers.authorization || '');
    const user = m && tokens.get(m[1]);
    if (!user) {
        sendJson(res, 401, { error: 'invalid_request', error_description: 'Invalid Credentials' },
            { 'WWW-Authenticate': 'Bearer realm="https://accounts.google.com/", error="invalid_token"' });
        return;
    }
    const { sub, name, given_name, family_name, picture, email, email_verified, locale } = user;
    sendJson(res, 200, { sub, name, given_name, family_name, picture, email, email_verified, locale });
}

async function handle(req, res) {
    const url = new URL(req.url, 'http://fake');
    if (await control.handle(req, res, url, makeUser)) return;
    const route = `${req.method} ${url.pathname}`;
    switch (route) {
    case 'GET /.well-known/openid-configuration':
        control.count('discovery');
        return sendJson(res, 200, discovery(), { 'Cache-Control': 'public, max-age=3600' });
    case 'GET /oauth2/v3/certs':
    case 'GET /jwks':
        control.count('jwks');
        return sendJson(res, 200, jwks(), { 'Cache-Control': 'public, max-age=3600' });
    case 'GET /o/oauth2/v2/auth':
    case 'GET /authorize':
        return authorize(req, res, url);
    case 'POST /token':
        return token(req, res);
    case 'GET /v1/userinfo':
    case 'GET /userinfo':
        return userinfo(req, res);
    default:
        return sendJson(res, 404, { error: 'not_found', error_description: `${route} is not served here` });
    }
}

const server = serve(handle, o, 'fake oidc');
server.on('listening', () => {
    const a = server.address();
    issuer = `http://${o.host.includes(':') ? `[${o.host}]` : o.host}:${a.port}`;
});
