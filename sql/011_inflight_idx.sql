-- The admission's in-flight limit counts one user's queued and running
-- generations in one module ("nano_gen_admit", 010).  Without this index
-- that count walks every in-flight generation of the module (or the
-- user's whole history): 0.42 ms at 200 in flight, growing with both.
-- With it, at most the user's own few (the limit is 16 by default).
-- Small: a row leaves it when its generation ends.  Building it reads the
-- table once, with writes to it waiting meanwhile.
CREATE INDEX IF NOT EXISTS "Generation_inflight_idx"
    ON "Generation" ("userId", "module")
    WHERE "status" IN ('queued', 'running');
