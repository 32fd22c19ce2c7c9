-- Idempotency keys for job admissions (docs/MODULES.md, "Idempotency
-- keys").  A client that lost the answer to POST /<m>/api/generate, or
-- got a 503 whose commit may have happened, sends the request again
-- with the same "Idempotency-Key" and gets the generation of the first
-- one, charged once.  Scoped per user and module.  A table of its own:
-- admissions without a key (text, older builds) write nothing more.
CREATE TABLE "GenerationKey" (
    "userId"        TEXT NOT NULL,
    "module"        TEXT NOT NULL,
    "key"           TEXT NOT NULL,
    -- a deleted generation (by its owner, or with its account) frees
    -- its key
    "generationId"  TEXT NOT NULL
                    REFERENCES "Generation" ("id") ON DELETE CASCADE,
    "createdAt"     TIMESTAMP(3) NOT NULL DEFAULT (now() AT TIME ZONE 'utc'),
    PRIMARY KEY ("userId", "module", "key")
);
-- the cascade's lookup at every delete of a generation
CREATE INDEX "GenerationKey_generation_idx"
    ON "GenerationKey" ("generationId");

-- "nano_gen_admit" (013's 14 arguments) behind a key.  The account
-- row's lock is taken first, so two admissions with one key are
-- serialised and the second, reading after the first's commit, finds
-- its row: 'replayed' with that row's id, status, model and cost, even
-- when the balance or the in-flight room would now refuse it.  A key
-- seen with another prompt, model or options (an input image's stored
-- file aside: its name is new at every upload) is 'key_reused', and
-- nothing is written.  Otherwise the admission runs as 013's and an
-- admitted row's key is written in the same transaction.
CREATE FUNCTION "nano_gen_admit"(
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
