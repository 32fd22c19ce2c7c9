-- Sign-in looks users up by lower("email") so that V1's mixed-case
-- addresses still match; this index keeps that lookup off a table scan.
-- Not unique: V1 rows may already differ only in letter case.
CREATE INDEX IF NOT EXISTS "User_email_lower_idx" ON "User" (lower("email"));
