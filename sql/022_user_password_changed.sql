-- A password changed outside the platform (V1's app, still running on
-- this database: its reset or change of a password; SQL by hand to shut
-- an intruder out) left every V2 session of the user alive for up to 30
-- days.  The platform's own change ends every other session itself
-- (docs/SESSIONS.md) and says so with nano.password_change = 'platform'
-- for its transaction; any other change of a password that existed (a
-- first password ends nothing, as at the platform) gets the cut-off the
-- platform's change sets, and loses the user's "AuthSession" rows.  The
-- gateways refuse those cookies within 2 s.  SECURITY DEFINER and the
-- search path as in 020.
CREATE FUNCTION "nano_user_password_changed"() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $$
BEGIN
    PERFORM set_config('search_path',
                       current_setting('search_path') || ', pg_temp', true);
    IF current_setting('nano.password_change', true) = 'platform' THEN
        RETURN NULL;
    END IF;
    INSERT INTO "SessionCutoff" ("userId", "notBefore")
    VALUES (NEW."id", extract(epoch FROM now())::bigint + 1)
    ON CONFLICT ("userId") DO UPDATE
       SET "notBefore" = GREATEST("SessionCutoff"."notBefore",
                                  EXCLUDED."notBefore"),
           "updatedAt" = (now() AT TIME ZONE 'utc');
    DELETE FROM "AuthSession" s WHERE s."userId" = NEW."id";
    RETURN NULL;
END
$$;

CREATE TRIGGER "User_password_changed"
    AFTER UPDATE OF "password" ON "User"
    FOR EACH ROW
    WHEN (OLD."password" IS NOT NULL
          AND NEW."password" IS DISTINCT FROM OLD."password")
    EXECUTE FUNCTION "nano_user_password_changed"();
