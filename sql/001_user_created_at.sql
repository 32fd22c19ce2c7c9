-- When a user registered: V2's registrations fill it; rows V1 made before
-- this migration get the time it ran (the column is new and defaulted, so
-- V1's inserts, which do not name it, keep working).
ALTER TABLE "User" ADD COLUMN IF NOT EXISTS "createdAt" TIMESTAMP(3) DEFAULT CURRENT_TIMESTAMP;
