-- A deleted user's media files: each module removes its own folder of
-- the user (<media>/<module>/<user>) when told so on this channel, since
-- only the module's own system user may enter it (the packages make one
-- for each module; the platform, which deletes accounts, needed
-- CAP_DAC_OVERRIDE to do it for them, and with it could read every
-- module's provider key).  Whoever deletes the row, the platform, V1's
-- app or SQL by hand, the notification goes out at its commit.  A module
-- down at that moment leaves the folder to its media sweep.  No
-- SECURITY DEFINER: pg_notify needs no rights, and pg_catalog comes
-- first in any search path.
CREATE FUNCTION "nano_user_deleted_media"() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('nano_user_deleted', OLD."id");
    RETURN NULL;
END
$$;

CREATE TRIGGER "User_deleted_media"
    AFTER DELETE ON "User"
    FOR EACH ROW EXECUTE FUNCTION "nano_user_deleted_media"();
