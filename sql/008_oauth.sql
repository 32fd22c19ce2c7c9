-- OAuth sign-in (Google, GitHub) the NextAuth way, on V1's "Account"
-- rows as its Prisma adapter keeps them (docs/PLATFORM.md).

-- How a session signed in: 'credentials', or the OAuth provider's id
-- ('google', 'github'); NULL for sessions from before this column, and
-- for rows made later for tokens issued before rows were kept.  A
-- "fresh OAuth sign-in" (deleting the account, or a first password,
-- without a password) is a row with a provider here and "createdAt"
-- within 10 minutes.
ALTER TABLE "AuthSession" ADD COLUMN "method" TEXT;

-- The index on "Account"("userId") this file built until 2026-12-07, with
-- a plain CREATE INDEX that held V1's OAuth links for the whole build, is
-- built CONCURRENTLY by 026_account_userid_idx.sql; databases that ran
-- the earlier version have it already (nano-migrate accepts that
-- version's checksum, and 026 then finds the index built).
