-- Billing (docs/PLATFORM.md "Billing"): credit packs bought through
-- Stripe Checkout, the Stripe events already handled, refunds by payment
-- intent, and the ledger rows a purchase and its refunds write.
-- No foreign key to "User": like the ledger, purchases are kept for
-- accounting when a user is deleted (under an anonymous id).

-- One row per checkout started, inserted before Stripe is called so the
-- Idempotency-Key exists first.  "status": pending (Stripe not asked
-- yet or no answer), open (a Checkout Session exists), unpaid (completed,
-- the payment still on its way), paid (credits granted), failed (the
-- delayed payment failed), expired (the session expired unpaid), error
-- (Stripe refused to create the session).
CREATE TABLE "Purchase" (
    "id"                TEXT NOT NULL PRIMARY KEY,
    "userId"            TEXT NOT NULL,
    "pack"              TEXT NOT NULL,
    "credits"           BIGINT NOT NULL CHECK ("credits" > 0),
    "amount"            BIGINT NOT NULL CHECK ("amount" > 0),
    "currency"          TEXT NOT NULL,
    "idempotencyKey"    TEXT NOT NULL UNIQUE,
    "stripeSessionId"   TEXT UNIQUE,
    "paymentIntent"     TEXT UNIQUE,
    "status"            TEXT NOT NULL DEFAULT 'pending',
    -- what Stripe says was refunded of "amount", and the credits taken
    -- back for it so far (floor(credits * refunded / amount))
    "amountRefunded"    BIGINT NOT NULL DEFAULT 0,
    "creditsTakenBack"  BIGINT NOT NULL DEFAULT 0,
    "createdAt"         TIMESTAMP(3) NOT NULL DEFAULT (now() AT TIME ZONE 'utc'),
    "updatedAt"         TIMESTAMP(3) NOT NULL DEFAULT (now() AT TIME ZONE 'utc'),
    "paidAt"            TIMESTAMP(3),
    CHECK ("status" IN ('pending', 'open', 'unpaid', 'paid', 'failed',
                        'expired', 'error'))
);
CREATE INDEX "Purchase_userId_idx" ON "Purchase" ("userId", "createdAt" DESC);

-- Every Stripe event handled, by its id: a replay is a no-op.
CREATE TABLE "StripeEvent" (
    "id"          TEXT NOT NULL PRIMARY KEY,
    "type"        TEXT NOT NULL,
    "objectId"    TEXT,
    "receivedAt"  TIMESTAMP(3) NOT NULL DEFAULT (now() AT TIME ZONE 'utc')
);

-- The latest refund state of a charge, by payment intent, as
-- charge.refunded reported it (the largest "amount_refunded" seen):
-- kept also when the purchase is not known or not paid yet, and applied
-- when its grant comes.
CREATE TABLE "StripeRefund" (
    "paymentIntent"   TEXT NOT NULL PRIMARY KEY,
    "amount"          BIGINT NOT NULL,
    "amountRefunded"  BIGINT NOT NULL,
    "updatedAt"       TIMESTAMP(3) NOT NULL DEFAULT (now() AT TIME ZONE 'utc')
);

-- A purchase's ledger rows: its grant ('purchase') and what refunds take
-- back ('chargeback', "amountRefunded" = the charge's refunded total the
-- row settles up to).
ALTER TABLE "CreditLedger" ADD COLUMN "purchaseId" TEXT;
ALTER TABLE "CreditLedger" ADD COLUMN "amountRefunded" BIGINT;
-- A purchase is granted once, and a refunded total taken back once.
CREATE UNIQUE INDEX "CreditLedger_purchase_once" ON "CreditLedger" ("purchaseId")
    WHERE "reason" = 'purchase';
CREATE UNIQUE INDEX "CreditLedger_chargeback_once"
    ON "CreditLedger" ("purchaseId", "amountRefunded")
    WHERE "reason" = 'chargeback';
