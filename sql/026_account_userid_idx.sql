-- nano-migrate: no-transaction
-- Prisma's schema indexes "Account" by (provider, providerAccountId)
-- only; the connected accounts of a user, and the cascade when a user
-- is deleted, look rows up by "userId".  008 built it until 2026-12-07,
-- with a plain CREATE INDEX that held V1's OAuth links for the whole
-- build; where that ran, the index exists and this does nothing.
CREATE INDEX CONCURRENTLY IF NOT EXISTS "Account_userId_idx" ON "Account" ("userId");
