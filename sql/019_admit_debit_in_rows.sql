-- The balance's debit moves from "nano_gen_admit_debit" to
-- "nano_gen_admit_rows", next to its ledger row.  With 018's split, the
-- debit alone, committed without its rows (a caller that sends only the
-- first statement), took credits that no ledger row accounted for, and
-- the ledger no longer summed to the balance.  Now the first half only
-- decides and locks the account row; the second changes the balance,
-- writes the ledger's and the generation's rows, or writes nothing.
-- Either half alone leaves every balance as it was.  The lock, taken by
-- the first and held to the commit, keeps what it decided true until the
-- second writes it.  The answers and the arguments are 018's.
CREATE OR REPLACE FUNCTION "nano_gen_admit_debit"(
    p_id TEXT, p_user TEXT, p_module TEXT, p_model TEXT,
    p_max_inflight BIGINT,
    OUT o_outcome TEXT, OUT o_model TEXT, OUT o_cost BIGINT)
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    v_balance BIGINT;
    v_inflight BIGINT;
BEGIN
    PERFORM set_config('nano.admitted', '', true);
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

    -- The account row's lock serialises one user's admissions; it is
    -- held to the commit, after the rows.  In READ COMMITTED each
    -- statement of a VOLATILE function takes a new snapshot, so the count
    -- below, run after the lock was granted, sees every generation that
    -- the admission holding it before committed.
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

    PERFORM set_config('nano.admitted', p_id, true),
            set_config('nano.admitted_user', p_user, true),
            set_config('nano.admitted_module', p_module, true),
            set_config('nano.admitted_model', o_model, true),
            set_config('nano.admitted_cost', o_cost::text, true);
    o_outcome := 'admitted';
END
$$;

CREATE OR REPLACE FUNCTION "nano_gen_admit_rows"(
    p_id TEXT, p_kind TEXT, p_status TEXT, p_prompt TEXT, p_params JSONB,
    p_offline BOOLEAN, p_conversation TEXT, p_owner TEXT,
    p_lease_until BIGINT,
    OUT o_written BOOLEAN)
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    v_user TEXT;
    v_module TEXT;
    v_model TEXT;
    v_cost BIGINT;
BEGIN
    o_written := false;
    IF p_id IS NULL
       OR current_setting('nano.admitted', true) IS DISTINCT FROM p_id
    THEN
        RETURN;
    END IF;
    v_user := current_setting('nano.admitted_user');
    v_module := current_setting('nano.admitted_module');
    v_model := current_setting('nano.admitted_model');
    v_cost := current_setting('nano.admitted_cost')::bigint;
    PERFORM set_config('nano.admitted', '', true);

    -- the row the debit locked: it cannot have gone since
    UPDATE "CreditAccount" a
       SET "balance" = a."balance" - v_cost,
           "updatedAt" = (now() AT TIME ZONE 'utc')
     WHERE a."userId" = v_user;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'nano_gen_admit_rows: no account for %', v_user;
    END IF;
    INSERT INTO "CreditLedger" ("userId", "delta", "reason", "module",
                                "generationId")
    VALUES (v_user, -v_cost, 'debit', v_module, p_id);
    INSERT INTO "Generation" ("id", "userId", "module", "model", "kind",
                              "status", "prompt", "params", "cost",
                              "offline", "conversationId", "leaseOwner",
                              "leaseUntil", "startedAt")
    VALUES (p_id, v_user, v_module, v_model, p_kind, p_status, p_prompt,
            COALESCE(p_params, '{}'), v_cost, p_offline, p_conversation,
            p_owner, p_lease_until,
            CASE WHEN p_status = 'running'
                 THEN (now() AT TIME ZONE 'utc') END);
    o_written := true;
END
$$;
