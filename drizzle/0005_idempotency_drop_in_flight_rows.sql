-- Answers are now kept in the transaction of the write they answer (src/modules/idempotency/): a row
-- without an answer (a claim still in flight) can no longer exist, and status and body become NOT
-- NULL in the next migration. Claims left by processes of the previous version are dropped: a retry
-- of such a request is carried out afresh, as it was once their 30 s lease ended.
DELETE FROM "idempotency_keys" WHERE "status" IS NULL;
