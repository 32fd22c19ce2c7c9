-- A user deleted outside V2 (by V1's app, still running on this
-- database, or by SQL by hand) lost only V1's rows ("Account",
-- "Session", by V1's cascade).  V2's rows carry no foreign key, so its
-- sessions lived on at the gateway for up to 30 days, and with its
-- "CreditAccount" left behind it kept generating in every module.  This
-- trigger does in the database what the platform's account deletion does
-- (docs/SESSIONS.md, docs/MODULES.md), whoever deletes the row:
-- the cut-off a token lifetime ahead (its NOTIFY reaches the gateways
-- within 2 s), no "AuthSession" rows, the generations and their keys
-- deleted, the account deleted, and the ledger's and purchases' rows
-- kept under an anonymous id.  Media files cannot be removed from SQL:
-- a deletion outside V2 leaves them on disk.
--
-- Locks in the platform's order (the user's in-flight generations, then
-- the account), as a job's end with its refund takes them, so the two
-- never deadlock.  SECURITY DEFINER: V1 may connect as a role with no
-- rights on V2's tables, and its DELETE must not fail for that; the
-- search path is fixed to the one the migration ran with, with pg_temp
-- put last (PostgreSQL otherwise looks there first: a temporary table of
-- the deleting session named like one of these would take its place).
-- For the platform's own deletion it runs too and finds its work mostly
-- done.
CREATE FUNCTION "nano_user_deleted"() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $$
DECLARE
    v_tomb TEXT := 'deleted-' || replace(gen_random_uuid()::text, '-', '');
BEGIN
    -- local to this call: the function's SET restores the path after it
    PERFORM set_config('search_path',
                       current_setting('search_path') || ', pg_temp', true);
    PERFORM 1 FROM "Generation" g
     WHERE g."userId" = OLD."id" AND g."status" IN ('queued', 'running')
       FOR UPDATE;
    PERFORM 1 FROM "CreditAccount" a WHERE a."userId" = OLD."id" FOR UPDATE;

    -- 2592000 s: NANO_TOKEN_MAX_AGE (30 days), as nano_cutoff_user_deleted
    INSERT INTO "SessionCutoff" ("userId", "notBefore")
    VALUES (OLD."id", extract(epoch FROM now())::bigint + 2592000 + 1)
    ON CONFLICT ("userId") DO UPDATE
       SET "notBefore" = GREATEST("SessionCutoff"."notBefore",
                                  EXCLUDED."notBefore"),
           "updatedAt" = (now() AT TIME ZONE 'utc');
    DELETE FROM "AuthSession" s WHERE s."userId" = OLD."id";
    DELETE FROM "Generation" g WHERE g."userId" = OLD."id";
    DELETE FROM "CreditAccount" a WHERE a."userId" = OLD."id";
    UPDATE "CreditLedger" SET "userId" = v_tomb WHERE "userId" = OLD."id";
    UPDATE "Purchase" SET "userId" = v_tomb WHERE "userId" = OLD."id";
    RETURN NULL;
END
$$;

CREATE TRIGGER "User_deleted"
    AFTER DELETE ON "User"
    FOR EACH ROW EXECUTE FUNCTION "nano_user_deleted"();
