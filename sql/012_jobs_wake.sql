-- Who wakes the job runners when a job is queued.  A NOTIFY inside the
-- admission's transaction makes PostgreSQL hold its notification queue's
-- lock from the commit's start to its end, WAL flush included, so every
-- admission of a job in the database waited for the one before it to
-- reach the disk.  Builds that wake the runners themselves after the
-- commit (nano_jobs_queued: their own process's runner in-process, or a
-- NOTIFY of its own) say so on their connections with
-- nano.jobs_wake = 'caller'; for them the trigger stays silent.  Older
-- builds set nothing and keep the trigger's NOTIFY, so both can run on
-- one database at once.
CREATE OR REPLACE FUNCTION "nano_notify_jobs"() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NEW."status" = 'queued'
       AND current_setting('nano.jobs_wake', true) IS DISTINCT FROM 'caller'
    THEN
        PERFORM pg_notify('nano_jobs', NEW."module");
    END IF;
    RETURN NULL;
END
$$;
