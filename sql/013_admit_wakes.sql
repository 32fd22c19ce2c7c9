-- A job's admission says itself that its caller wakes the runners, so
-- the row's trigger stays silent (sql/012_jobs_wake.sql).  The setting
-- is local to the admission's transaction: nothing stays behind on the
-- connection, so it holds behind a pooler that hands out connections
-- per transaction, and a connection never carries it to a build that
-- does not wake the runners.  The 13-argument "nano_gen_admit" stays
-- as it is for the builds that call it.
CREATE FUNCTION "nano_gen_admit"(
    p_id TEXT, p_user TEXT, p_module TEXT, p_model TEXT, p_kind TEXT,
    p_status TEXT, p_prompt TEXT, p_params JSONB, p_offline BOOLEAN,
    p_conversation TEXT, p_owner TEXT, p_lease_until BIGINT,
    p_max_inflight BIGINT, p_caller_wakes BOOLEAN,
    OUT o_outcome TEXT, OUT o_model TEXT, OUT o_cost BIGINT)
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    IF p_caller_wakes THEN
        PERFORM set_config('nano.jobs_wake', 'caller', true);
    END IF;
    SELECT a.o_outcome, a.o_model, a.o_cost INTO o_outcome, o_model, o_cost
      FROM "nano_gen_admit"(p_id, p_user, p_module, p_model, p_kind,
                            p_status, p_prompt, p_params, p_offline,
                            p_conversation, p_owner, p_lease_until,
                            p_max_inflight) a;
END
$$;
