-- Sessions that can end: per-user cut-offs, revoked session ids, one row
-- per signed-in session, and the per-account sign-in throttle.
-- None of these tables references "User": a deleted user's cut-off must
-- outlive the row.  Times that decide access are unix seconds (BIGINT),
-- immune to any session's TimeZone; times shown to people are
-- TIMESTAMP(3) in UTC, as Prisma writes them.

-- Tokens of "userId" issued before "notBefore" (their iat), or without
-- an iat, are dead.
CREATE TABLE "SessionCutoff" (
    "userId"     TEXT NOT NULL PRIMARY KEY,
    "notBefore"  BIGINT NOT NULL,
    "updatedAt"  TIMESTAMP(3) NOT NULL DEFAULT (now() AT TIME ZONE 'utc')
);

-- A revoked session id (a token's jti), kept until that token's exp.
CREATE TABLE "RevokedSession" (
    "id"         TEXT NOT NULL PRIMARY KEY,
    "userId"     TEXT,
    "expires"    BIGINT NOT NULL,
    "revokedAt"  TIMESTAMP(3) NOT NULL DEFAULT (now() AT TIME ZONE 'utc')
);
CREATE INDEX "RevokedSession_expires_idx" ON "RevokedSession" ("expires");

-- One row per signed-in session; "id" is the session token's jti.
CREATE TABLE "AuthSession" (
    "id"          TEXT NOT NULL PRIMARY KEY,
    "userId"      TEXT NOT NULL,
    "createdAt"   TIMESTAMP(3) NOT NULL DEFAULT (now() AT TIME ZONE 'utc'),
    "lastSeenAt"  TIMESTAMP(3) NOT NULL DEFAULT (now() AT TIME ZONE 'utc'),
    "ipAddress"   TEXT,
    "userAgent"   TEXT,
    "expires"     BIGINT NOT NULL
);
CREATE INDEX "AuthSession_userId_idx" ON "AuthSession" ("userId");

-- Sign-in attempts per account; "key" is the SHA-256 (hex) of the
-- normalised email, so unknown addresses are not stored in clear.
CREATE TABLE "SignInThrottle" (
    "key"          TEXT NOT NULL PRIMARY KEY,
    "attempts"     INTEGER NOT NULL DEFAULT 0,
    "windowStart"  BIGINT NOT NULL DEFAULT 0,
    "lockedUntil"  BIGINT NOT NULL DEFAULT 0,
    "lockouts"     INTEGER NOT NULL DEFAULT 0
);

-- Every change to the revocation tables wakes the publishers (one per
-- gateway host), whoever made it: the platform, nano-admin, SQL by hand.
CREATE FUNCTION "nano_notify_revocations"() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('nano_revocations', '');
    RETURN NULL;
END
$$;

CREATE TRIGGER "SessionCutoff_notify"
    AFTER INSERT OR UPDATE OR DELETE ON "SessionCutoff"
    FOR EACH STATEMENT EXECUTE FUNCTION "nano_notify_revocations"();

CREATE TRIGGER "RevokedSession_notify"
    AFTER INSERT OR UPDATE OR DELETE ON "RevokedSession"
    FOR EACH STATEMENT EXECUTE FUNCTION "nano_notify_revocations"();
