-- Why a credit change was made, when a person made it: an operator's
-- grant (nano-admin credits grant --reason) keeps its reason here.
ALTER TABLE "CreditLedger" ADD COLUMN "note" TEXT;
