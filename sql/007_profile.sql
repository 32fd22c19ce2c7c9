-- The dashboard and the settings (docs/PLATFORM.md): the usage chart
-- reads a user's ledger rows of the last 30 days.  The ledger's own
-- index is by id; this one finds a user's rows by time, and carries what
-- the chart sums, so the plan is an index-only range scan however long
-- the user's history.  ("Generation_user_idx" already serves the recent
-- activity; the avatar's path lives in V1's "User"."image".)
CREATE INDEX "CreditLedger_userId_createdAt_idx"
    ON "CreditLedger" ("userId", "createdAt") INCLUDE ("module", "reason", "delta");
