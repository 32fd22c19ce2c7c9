-- What the platform's clean-up deletes once a minute (every host's
-- platform, beside its revocation publisher; docs/OPERATIONS.md, "What
-- the database keeps") reads only the rows it deletes:
-- * "StripeEvent" rows older than 30 days: Stripe retries a delivery for
--   3 days and resends (by hand) only events of the last 30 days, and an
--   event handled again past that changes nothing anyway (statuses only
--   move forward, a grant and a refunded total are taken once).  Before,
--   every event Stripe sent, ignored types included, was kept for good.
-- * "GenerationKey" rows older than their 24 hours: a keyed admission
--   deleted only its own user's expired keys in its module, so a user
--   who never came back to a module kept theirs for good.
-- * "AuthSession" rows whose "expires" passed, and "SignInThrottle" rows
--   whose window and lock-out are long over (one a sign-in attempt on
--   any address, known or not): deleted by a whole scan of the table
--   every minute on every host.
CREATE INDEX "StripeEvent_receivedAt_idx" ON "StripeEvent" ("receivedAt");
CREATE INDEX "GenerationKey_createdAt_idx" ON "GenerationKey" ("createdAt");
CREATE INDEX "AuthSession_expires_idx" ON "AuthSession" ("expires");
CREATE INDEX "SignInThrottle_windowStart_idx" ON "SignInThrottle" ("windowStart");
