-- A keyed admission of a user who has no account yet (a first use, a
-- V1 user) answers 'no_account' at once, as the 13-argument admission
-- does, and the caller opens the account and calls again.  016's went on
-- without the account's lock: a concurrent request with the same key
-- could open the account and admit in between, and this one then met
-- its "GenerationKey" row as a unique violation, a 500 where a replay
-- was due.  016's function otherwise.
CREATE OR REPLACE FUNCTION "nano_gen_admit"(
    p_id TEXT, p_user TEXT, p_module TEXT, p_model TEXT, p_kind TEXT,
    p_status TEXT, p_prompt TEXT, p_params JSONB, p_offline BOOLEAN,
    p_conversation TEXT, p_owner TEXT, p_lease_until BIGINT,
    p_max_inflight BIGINT, p_caller_wakes BOOLEAN, p_key TEXT,
    OUT o_outcome TEXT, OUT o_model TEXT, OUT o_cost BIGINT,
    OUT o_id TEXT, OUT o_status TEXT)
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    v_prompt TEXT;
    v_params JSONB;
BEGIN
    PERFORM 1 FROM "CreditAccount" a WHERE a."userId" = p_user FOR UPDATE;
    IF NOT FOUND THEN
        o_outcome := 'no_account';
        RETURN;
    END IF;
    -- under the account's lock: an expired key is gone before it is
    -- looked up, so its new row can take its place
    DELETE FROM "GenerationKey" k
     WHERE k."userId" = p_user AND k."module" = p_module
       AND k."createdAt" < (now() AT TIME ZONE 'utc') - interval '24 hours';
    SELECT g."id", g."status", g."model", g."cost", g."prompt", g."params"
      INTO o_id, o_status, o_model, o_cost, v_prompt, v_params
      FROM "GenerationKey" k JOIN "Generation" g ON g."id" = k."generationId"
     WHERE k."userId" = p_user AND k."module" = p_module AND k."key" = p_key;
    IF FOUND THEN
        IF v_prompt IS DISTINCT FROM p_prompt
           OR (p_model IS NOT NULL AND o_model IS DISTINCT FROM p_model)
           OR (v_params - 'inputImage')
              IS DISTINCT FROM (COALESCE(p_params, '{}') - 'inputImage')
           OR (v_params ? 'inputImage')
              IS DISTINCT FROM (COALESCE(p_params, '{}') ? 'inputImage')
           OR COALESCE(v_params->'inputImage'->'sha256'
                       <> p_params->'inputImage'->'sha256', false)
        THEN
            o_outcome := 'key_reused';
            o_id := NULL;
            o_status := NULL;
            o_model := NULL;
            o_cost := NULL;
        ELSE
            o_outcome := 'replayed';
        END IF;
        RETURN;
    END IF;

    SELECT a.o_outcome, a.o_model, a.o_cost INTO o_outcome, o_model, o_cost
      FROM "nano_gen_admit"(p_id, p_user, p_module, p_model, p_kind,
                            p_status, p_prompt, p_params, p_offline,
                            p_conversation, p_owner, p_lease_until,
                            p_max_inflight, p_caller_wakes) a;
    IF o_outcome = 'admitted' THEN
        INSERT INTO "GenerationKey" ("userId", "module", "key",
                                     "generationId")
        VALUES (p_user, p_module, p_key, p_id);
        o_id := p_id;
        o_status := p_status;
    END IF;
END
$$;
