/*
 * Email addresses as the platform stores and finds them: trimmed, in
 * Unicode NFC, lower-cased; and the checks a new address passes.
 */

#ifndef NANO_EMAIL_H
#define NANO_EMAIL_H

#define NANO_EMAIL_MAX        254      /* bytes, RFC 5321 path limit */
#define NANO_EMAIL_LOCAL_MAX  64

/*
 * Normalises raw: blanks (spaces, tabs) trimmed, Unicode's full lower
 * case in NFC (libunistring's u8_tolower, no language's special rules).
 * Returns a new string (caller frees), or NULL when raw is not strict
 * UTF-8 or memory ran out.  Lookups compare lower() of the stored side in
 * SQL, so V1's mixed-case rows still match (non-ASCII capitals only on a
 * database whose LC_CTYPE knows them, as a UTF-8 one does).
 */
char *nano_email_normalise(const char *raw);

/*
 * NULL when a normalised address may be registered, else the reason:
 * empty, too long, not one "@" with a dotted domain, or holding a
 * character of the Unicode categories Cc, Cf, Co, Cn or Z* (controls,
 * zero-width and other format characters, private use, unassigned,
 * spaces such as NBSP), or one of <>()[]\,;:" , or a compatibility
 * character (one NFKC changes: full-width letters, ligatures, the
 * fullwidth dot) or U+3002, which show as or resolve to another spelling
 * of an address.  Sign-in never asks: addresses registered before
 * still sign in.
 */
const char *nano_email_problem(const char *email);

#endif /* NANO_EMAIL_H */
