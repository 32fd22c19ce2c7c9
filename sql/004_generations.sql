-- Every module generates: one price list, credit accounts and their
-- ledger, and one table of generations for all modules (docs/MODULES.md).
-- No foreign key to "User": ledger rows outlive generations and, made
-- anonymous, the user; deleting a user deletes its rows here in code.

-- One fixed price per generation, per module and model (or operation).
CREATE TABLE "ModelPrice" (
    "module"   TEXT NOT NULL,
    "model"    TEXT NOT NULL,
    "label"    TEXT NOT NULL,
    "credits"  INTEGER NOT NULL CHECK ("credits" >= 0),
    "sort"     INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY ("module", "model")
);

INSERT INTO "ModelPrice" ("module", "model", "label", "credits", "sort") VALUES
    ('nano-banana', 'gemini-2.5-flash-image', 'Gemini 2.5 Flash Image', 4, 0),
    ('seedream', 'seedream-4-0-250828', 'Seedream 4.0', 3, 0),
    ('qwen', 'qwen-plus', 'Qwen Plus', 1, 0),
    ('qwen', 'qwen-max', 'Qwen Max', 3, 1),
    ('grok', 'grok-3-mini', 'Grok 3 Mini', 1, 0),
    ('grok', 'grok-4', 'Grok 4', 3, 1),
    ('openai', 'gpt-4o-mini', 'GPT-4o mini', 1, 0),
    ('openai', 'gpt-4o', 'GPT-4o', 3, 1),
    ('wan-2.5', 'wan2.5-t2v-preview', 'Wan 2.5 text-to-video, 5 s', 20, 0);

-- A user's balance.  No CHECK (balance >= 0): a payment refund of a later
-- issue may take it below zero; a generation never does (its debit is a
-- conditional update).
CREATE TABLE "CreditAccount" (
    "userId"     TEXT NOT NULL PRIMARY KEY,
    "balance"    BIGINT NOT NULL DEFAULT 0,
    "createdAt"  TIMESTAMP(3) NOT NULL DEFAULT (now() AT TIME ZONE 'utc'),
    "updatedAt"  TIMESTAMP(3) NOT NULL DEFAULT (now() AT TIME ZONE 'utc')
);

-- One row per change of a balance, written in the same transaction.
CREATE TABLE "CreditLedger" (
    "id"            BIGSERIAL PRIMARY KEY,
    "userId"        TEXT NOT NULL,
    "delta"         BIGINT NOT NULL,
    "reason"        TEXT NOT NULL,
    "module"        TEXT,
    "generationId"  TEXT,
    "createdAt"     TIMESTAMP(3) NOT NULL DEFAULT (now() AT TIME ZONE 'utc')
);
CREATE INDEX "CreditLedger_userId_id_idx" ON "CreditLedger" ("userId", "id" DESC);
-- A generation is debited once and refunded at most once.
CREATE UNIQUE INDEX "CreditLedger_debit_once" ON "CreditLedger" ("generationId")
    WHERE "reason" = 'debit';
CREATE UNIQUE INDEX "CreditLedger_refund_once" ON "CreditLedger" ("generationId")
    WHERE "reason" = 'refund';

-- Every module's generations.  "phase" says where a job stands with its
-- provider: 'submitting' is written before a provider POST, 'submitted'
-- (with "providerTaskId") once an asynchronous provider accepted it.
CREATE TABLE "Generation" (
    "id"              TEXT NOT NULL PRIMARY KEY,
    "userId"          TEXT NOT NULL,
    "module"          TEXT NOT NULL,
    "model"           TEXT NOT NULL,
    "kind"            TEXT NOT NULL,
    "status"          TEXT NOT NULL DEFAULT 'queued',
    "prompt"          TEXT,
    "params"          JSONB NOT NULL DEFAULT '{}',
    "cost"            INTEGER NOT NULL,
    "offline"         BOOLEAN NOT NULL DEFAULT false,
    "outputs"         JSONB NOT NULL DEFAULT '[]',
    "text"            TEXT,
    "error"           JSONB,
    "conversationId"  TEXT,
    "providerTaskId"  TEXT,
    "phase"           TEXT,
    "leaseOwner"      TEXT,
    "leaseUntil"      BIGINT,
    "createdAt"       TIMESTAMP(3) NOT NULL DEFAULT (now() AT TIME ZONE 'utc'),
    "startedAt"       TIMESTAMP(3),
    "finishedAt"      TIMESTAMP(3),
    CHECK ("status" IN ('queued', 'running', 'succeeded', 'failed', 'canceled'))
);
-- history: a user's generations in a module, newest first
CREATE INDEX "Generation_user_module_idx"
    ON "Generation" ("userId", "module", "createdAt" DESC, "id" DESC);
-- the dashboard of a later issue: a user's recent generations anywhere
CREATE INDEX "Generation_user_idx" ON "Generation" ("userId", "createdAt" DESC);
-- the job runners: what is queued or running in a module
CREATE INDEX "Generation_jobs_idx" ON "Generation" ("module", "createdAt")
    WHERE "status" IN ('queued', 'running');
CREATE INDEX "Generation_conversation_idx" ON "Generation" ("conversationId", "createdAt")
    WHERE "conversationId" IS NOT NULL;

-- Wakes the job runners of a module when a job is queued.
CREATE FUNCTION "nano_notify_jobs"() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NEW."status" = 'queued' THEN
        PERFORM pg_notify('nano_jobs', NEW."module");
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER "Generation_notify"
    AFTER INSERT ON "Generation"
    FOR EACH ROW EXECUTE FUNCTION "nano_notify_jobs"();
