-- Every attempt to reach Part 2 data is audited, also one that never authenticated: it declared no purpose of use.
ALTER TABLE audit_log ALTER COLUMN purpose DROP NOT NULL;

-- What the referral's facility last took (a SHA-256 of the transaction Bundle), so that a change queued several times
-- or taken by two pushers at once is pushed once; a push locks its row until it commits. No foreign key: its check
-- would share-lock the referral for the length of an HTTP push, and the referral's handlers would wait for it.
CREATE TABLE push_state (
    referral_id    uuid PRIMARY KEY,
    pushed_digest  text,
    pushed_at      timestamptz
);
-- push_queue.state also takes 'coalesced' (sent by a push of a later row's state) and 'unchanged' (already there).
