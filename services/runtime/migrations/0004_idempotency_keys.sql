-- Idempotency-Key: the first answer to a keyed POST/PUT, written in the same transaction as its effect and replayed
-- for a repeat. Scoped to the caller (token subject), the method and the path; `fingerprint` is the SHA-256 of the
-- request (path, query, body), so a key reused for another request is refused.
CREATE TABLE idempotency_keys (
    caller       text NOT NULL,
    method       text NOT NULL,
    path         text NOT NULL,
    key          text NOT NULL,
    fingerprint  bytea NOT NULL,
    status_code  integer NOT NULL,
    headers      jsonb NOT NULL,
    body         bytea NOT NULL,
    created_at   timestamptz NOT NULL,
    PRIMARY KEY (caller, method, path, key)
);
CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);
