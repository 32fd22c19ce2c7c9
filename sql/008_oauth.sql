-- OAuth sign-in (Google, GitHub) the NextAuth way, on V1's "Account"
-- rows as its Prisma adapter keeps them (docs/PLATFORM.md).

-- How a session signed in: 'credentials', or the OAuth provider's id
-- ('google', 'github'); NULL for sessions from before this column, and
-- for rows made later for tokens issued before rows were kept.  A
-- "fresh OAuth sign-in" (deleting the account, or a first password,
-- without a password) is a row with a provider here and "createdAt"
-- within 10 minutes.
ALTER TABLE "AuthSession" ADD COLUMN "method" TEXT;

-- Prisma's schema indexes "Account" by (provider, providerAccountId)
-- only; the connected accounts of a user, and the cascade when a user
-- is deleted, look rows up by "userId".
CREATE INDEX "Account_userId_idx" ON "Account" ("userId");
