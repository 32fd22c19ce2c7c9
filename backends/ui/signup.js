// The sign-up page's form (backends/platform/public/signup.html): a file,
// not inline, so that the pages' Content-Security-Policy allows no inline
// script (libnano's nano_page).
(function () {
  var form = document.getElementById('nb-signup');
  var error = document.getElementById('nb-error');

  // The field a refusal is about is marked invalid, with the error as
  // its message, and focused: a screen reader says which field is wrong
  // and the person types there at once.
  var FIELDS = { email_taken: 'email', invalid_email: 'email', invalid_password: 'password', invalid_name: 'name' };
  function unmark() {
    [].forEach.call(form.querySelectorAll('[aria-invalid]'), function (el) {
      el.removeAttribute('aria-invalid');
      el.removeAttribute('aria-errormessage');
    });
  }
  form.addEventListener('input', function (event) {
    event.target.removeAttribute('aria-invalid');
    event.target.removeAttribute('aria-errormessage');
  });
  function fail(message, link, field) {
    error.textContent = message;
    if (link) {
      var a = document.createElement('a');
      a.href = link.href;
      a.textContent = link.text;
      error.append(' ', a);
    }
    form.querySelector('button').disabled = false;
    var el = field && form.elements[field];
    if (el) {
      el.setAttribute('aria-invalid', 'true');
      el.setAttribute('aria-errormessage', 'nb-error');
      el.focus();
    }
  }

  // The server's refusal (backends/platform/register.c: its codes, and
  // the messages of nano_email_problem, nano_password_problem and
  // platform_name_problem) in a person's words; an unknown one shows the
  // server's message as a sentence.
  function says(status, body) {
    var code = body.error || '';
    var msg = typeof body.message === 'string' ? body.message : '';
    if (code === 'email_taken') {
      return ['An account with this email address already exists.',
              { href: document.getElementById('nb-signin').href, text: 'Sign in instead' }];
    }
    if (code === 'invalid_password') {
      if (/72 bytes/.test(msg)) return ['That password is too long: use at most 72 bytes (72 plain letters or digits; accented letters and emoji take more).'];
      if (/at least 8/.test(msg)) return ['Use a password of at least 8 characters.'];
    }
    if (code === 'invalid_email') {
      if (/one @/.test(msg)) return ['Enter your whole email address, with one @, such as name@example.com.'];
      if (/domain/.test(msg)) return ['Enter your whole email address, with a domain such as example.com.'];
      if (/too long/.test(msg)) return ['That email address is too long.'];
      if (/required/.test(msg)) return ['Enter your email address.'];
    }
    if (code === 'invalid_name') {
      if (/at most 100/.test(msg)) return ['Use a name of at most 100 characters.'];
      if (/control|direction/.test(msg)) return ['The name contains an invisible character that is not allowed. Type it again without it.'];
    }
    if (status === 429) return ['Too many attempts just now. Wait a minute, then try again.'];
    // Opened under another name of the machine (127.0.0.1, its IP): the
    // site takes sign-ups from its own address only, and a reload
    // changes nothing.
    if (status === 403 && form.dataset.site && form.dataset.site !== location.origin) {
      return ['This site\'s address is ' + form.dataset.site + ': sign-up works there only.',
              { href: form.dataset.site + location.pathname + location.search, text: 'Open this page there' }];
    }
    if (status === 403) return ['The sign-up was refused because it did not come from this page. Reload the page and try again.'];
    if (status >= 500) return ['The server could not create the account just now. Try again in a moment.'];
    if (msg) return [msg.charAt(0).toUpperCase() + msg.slice(1) + (/[.!?]$/.test(msg) ? '' : '.')];
    return ['Could not create the account.'];
  }

  form.addEventListener('submit', async function (event) {
    event.preventDefault();
    form.querySelector('button').disabled = true;
    error.textContent = '';
    unmark();
    var fields = {
      name: form.elements.name.value,
      email: form.elements.email.value,
      password: form.elements.password.value
    };
    try {
      var res = await fetch('/api/register', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify(fields)
      });
      if (res.status !== 201) {
        var body = await res.json().catch(function () { return {}; });
        var said = says(res.status, body);
        return fail(said[0], said[1], FIELDS[body.error]);
      }
      // Signed up: sign in the way next-auth/react does (json=true).
      var csrf = await (await fetch('/api/auth/csrf')).json();
      var signin = await fetch('/api/auth/callback/credentials', {
        method: 'POST',
        headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({
          csrfToken: csrf.csrfToken, email: fields.email,
          password: fields.password,
          callbackUrl: form.dataset.callback, json: 'true'
        })
      });
      var answer = await signin.json().catch(function () { return {}; });
      window.location.href = signin.ok && answer.url ? answer.url : '/api/auth/signin';
    } catch (e) {
      fail('The server could not be reached. Please try again.');
    }
  });
})();
