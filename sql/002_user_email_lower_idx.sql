-- nano-migrate: no-transaction
-- Sign-in looks users up by lower("email") so that V1's mixed-case
-- addresses still match; this index keeps that lookup off a table scan.
-- Not unique: V1 rows may already differ only in letter case.
-- Built CONCURRENTLY: a plain build holds V1's sign-ups and profile
-- updates for the whole build (3 s at 1,000,000 users).  Revised on
-- 2026-12-07 from a plain CREATE INDEX of the same index, which databases
-- that ran it keep (nano-migrate accepts that version's checksum).
CREATE INDEX CONCURRENTLY IF NOT EXISTS "User_email_lower_idx" ON "User" (lower("email"));
