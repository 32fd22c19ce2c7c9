-- An Idempotency-Key sent again with another input image is refused
-- too (docs/MODULES.md, "Idempotency keys").  Builds that store the
-- input image of a keyed request keep its SHA-256 in
-- params.inputImage.sha256; 014's "nano_gen_admit" compared only whether
-- there was an image.  The same function with the same arguments, now
-- also 'key_reused' when both the first request's row and this one carry
-- a digest and the two differ.  A row admitted before (no digest) is
-- compared as before, so a retry across the upgrade is still replayed.
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
