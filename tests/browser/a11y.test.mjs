// The platform's pages as a keyboard and screen-reader user meets them
// (WCAG 2.1 AA): a refusal of the sign-up marks the field it is about
// (aria-invalid, aria-errormessage naming the error that a role=alert
// says) and puts the focus there.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { url, launch, newUser, signUp } from './lib.mjs';

const TIMEOUT = 20000;
let context;
const user = newUser('a11y');

before(async () => {
    context = await launch({ timeout: TIMEOUT });
});

after(async () => {
    await context?.close();
});

// What a screen reader is told about field el: invalid or not, and the
// text of the element aria-errormessage names.
const fieldState = (el) => el.evaluate((e) => ({
    invalid: e.getAttribute('aria-invalid'),
    message: document.getElementById(e.getAttribute('aria-errormessage') || '')?.textContent || null,
    focused: document.activeElement === e,
}));

test('sign-up refused: the field it is about is marked invalid with the error, and focused; typing clears the mark', async () => {
    const page = await context.newPage();
    await page.goto(url('/signup'));
    await signUp(page, user, '/');
    await context.clearCookies();

    await page.goto(url('/signup'));
    const f = page.locator('form#nb-signup');
    await f.getByLabel('Name').fill('Somebody else');
    await f.getByLabel('Email').fill(user.email);
    await f.getByLabel('Password').fill('a-long-enough-password');
    await f.getByRole('button', { name: 'Create account' }).click();
    const alert = page.getByRole('alert');
    await alert.filter({ hasText: 'already exists' }).waitFor();
    const email = f.getByLabel('Email');
    assert.deepEqual(await fieldState(email), {
        invalid: 'true', message: 'An account with this email address already exists. Sign in instead', focused: true,
    });
    assert.equal(await f.getByLabel('Password').getAttribute('aria-invalid'), null, 'only the email is marked');

    // 73 bytes: the server's bcrypt limit, which the browser does not check
    await email.fill(`other-${user.email}`);
    assert.equal(await email.getAttribute('aria-invalid'), null, 'typing in the field clears its mark');
    await f.getByLabel('Password').fill('p'.repeat(73));
    await f.getByRole('button', { name: 'Create account' }).click();
    await alert.filter({ hasText: 'too long' }).waitFor();
    assert.deepEqual(await fieldState(f.getByLabel('Password')), {
        invalid: 'true', message: await alert.textContent(), focused: true,
    });
    assert.equal(await email.getAttribute('aria-invalid'), null);
    await page.close();
});
