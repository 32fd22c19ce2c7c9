-- "User"."createdAt" in UTC, as every other V2 time is.  001's default,
-- CURRENT_TIMESTAMP, is cast to TIMESTAMP(3) in the inserting session's
-- TimeZone: a server whose default zone is not UTC (initdb takes the
-- system's) stored a registration's local time, V2's as much as V1's
-- (neither names the column nor sets a zone), and the export and
-- nano-admin showed it as UTC.  Rows made before stay as they are.
ALTER TABLE "User" ALTER COLUMN "createdAt" SET DEFAULT (now() AT TIME ZONE 'utc');
