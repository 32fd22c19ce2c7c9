-- Failed refunds and disputes (docs/PLATFORM.md "Billing").  Before, a
-- refund Stripe reported as failed kept the credits its charge.refunded
-- had taken (the buyer had neither the money nor the credits), and a
-- dispute was ignored (a payment disputed and lost kept its credits).
-- A purchase's credits taken back are now worked out from all three, by
-- payment intent: floor(credits * min(refunded - failed + disputed,
-- amount) / amount), and each change is one ledger row.

-- A refund Stripe reported as failed (charge.refund.updated,
-- refund.updated or refund.failed with status "failed"), by refund id:
-- its amount no longer counts as refunded, once however many events say
-- so.  Kept also when the purchase is not known or not paid yet.
CREATE TABLE "StripeRefundFailure" (
    "refundId"       TEXT NOT NULL PRIMARY KEY,
    "paymentIntent"  TEXT NOT NULL,
    "amount"         BIGINT NOT NULL CHECK ("amount" >= 0),
    "createdAt"      TIMESTAMP(3) NOT NULL DEFAULT (now() AT TIME ZONE 'utc')
);
CREATE INDEX "StripeRefundFailure_pi_idx" ON "StripeRefundFailure" ("paymentIntent");

-- A dispute (charge.dispute.*), by dispute id, with its latest status:
-- "needs_response", "under_review" and "lost" have the disputed amount
-- withdrawn from the payment, the inquiries ("warning_…"), "won" and
-- "prevented" do not.  A closed status (won, lost, warning_closed,
-- prevented) is never changed by a late event.
CREATE TABLE "StripeDispute" (
    "id"             TEXT NOT NULL PRIMARY KEY,
    "paymentIntent"  TEXT NOT NULL,
    "amount"         BIGINT NOT NULL CHECK ("amount" >= 0),
    "status"         TEXT NOT NULL,
    "createdAt"      TIMESTAMP(3) NOT NULL DEFAULT (now() AT TIME ZONE 'utc'),
    "updatedAt"      TIMESTAMP(3) NOT NULL DEFAULT (now() AT TIME ZONE 'utc')
);
CREATE INDEX "StripeDispute_pi_idx" ON "StripeDispute" ("paymentIntent");

-- The Stripe object (re_… or dp_…) a ledger row of a purchase answers:
-- 'refund_failed' (credits back for a failed refund), 'dispute' (credits
-- taken for a dispute) and 'dispute_won' (given back).  Each once.
ALTER TABLE "CreditLedger" ADD COLUMN "stripeObject" TEXT;
CREATE UNIQUE INDEX "CreditLedger_stripe_once" ON "CreditLedger" ("stripeObject")
    WHERE "reason" IN ('refund_failed', 'dispute');
CREATE UNIQUE INDEX "CreditLedger_dispute_won_once" ON "CreditLedger" ("stripeObject")
    WHERE "reason" = 'dispute_won';
