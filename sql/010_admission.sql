-- A generation's admission in one round trip (docs/MODULES.md, Credits):
-- its price, the debit with its ledger row, the in-flight limit and the
-- row, in the one transaction of the statement that calls it.  Written
-- in C as five statements before; each cost a round trip to PostgreSQL.

-- Outcomes: 'admitted'; 'no_account' (the caller opens the account with
-- its grant and calls again: the grant stays in one place, nano_credits);
-- 'no_credits' (402); 'too_many' (429); 'no_model' (the model asked for
-- has no price: 400); 'no_price' (the module has none at all: 500).
-- Nothing is written unless it answers 'admitted'.  p_model NULL means
-- the module's first model; o_model and o_cost say what was charged.
CREATE FUNCTION "nano_gen_admit"(
    p_id TEXT, p_user TEXT, p_module TEXT, p_model TEXT, p_kind TEXT,
    p_status TEXT, p_prompt TEXT, p_params JSONB, p_offline BOOLEAN,
    p_conversation TEXT, p_owner TEXT, p_lease_until BIGINT,
    p_max_inflight BIGINT,
    OUT o_outcome TEXT, OUT o_model TEXT, OUT o_cost BIGINT)
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    v_balance BIGINT;
    v_inflight BIGINT;
BEGIN
    SELECT mp."model", mp."credits" INTO o_model, o_cost
      FROM "ModelPrice" mp
     WHERE mp."module" = p_module
       AND (p_model IS NULL OR mp."model" = p_model)
     ORDER BY mp."sort", mp."model" LIMIT 1;
    IF NOT FOUND THEN
        o_outcome := CASE WHEN p_model IS NULL THEN 'no_price'
                          ELSE 'no_model' END;
        RETURN;
    END IF;

    -- The account row's lock serialises one user's admissions.  In READ
    -- COMMITTED each statement of a VOLATILE function takes a new
    -- snapshot, so the count below, run after the lock was granted, sees
    -- every generation that the admission holding it before committed.
    SELECT a."balance" INTO v_balance
      FROM "CreditAccount" a WHERE a."userId" = p_user FOR UPDATE;
    IF NOT FOUND THEN
        o_outcome := 'no_account';
        RETURN;
    END IF;
    IF v_balance < o_cost THEN
        o_outcome := 'no_credits';
        RETURN;
    END IF;
    SELECT count(*) INTO v_inflight
      FROM "Generation" g
     WHERE g."userId" = p_user AND g."module" = p_module
       AND g."status" IN ('queued', 'running');
    IF v_inflight >= p_max_inflight THEN
        o_outcome := 'too_many';
        RETURN;
    END IF;

    UPDATE "CreditAccount" a
       SET "balance" = a."balance" - o_cost,
           "updatedAt" = (now() AT TIME ZONE 'utc')
     WHERE a."userId" = p_user;
    INSERT INTO "CreditLedger" ("userId", "delta", "reason", "module",
                                "generationId")
    VALUES (p_user, -o_cost, 'debit', p_module, p_id);
    INSERT INTO "Generation" ("id", "userId", "module", "model", "kind",
                              "status", "prompt", "params", "cost",
                              "offline", "conversationId", "leaseOwner",
                              "leaseUntil", "startedAt")
    VALUES (p_id, p_user, p_module, o_model, p_kind, p_status, p_prompt,
            COALESCE(p_params, '{}'), o_cost, p_offline, p_conversation,
            p_owner, p_lease_until,
            CASE WHEN p_status = 'running'
                 THEN (now() AT TIME ZONE 'utc') END);
    o_outcome := 'admitted';
END
$$;
