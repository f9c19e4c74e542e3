-- Inbound files that were refused (a 999 for a batch not yet known, an 835 that does not balance, garbage): kept
-- with their bytes and the reasons, so a biller can see them, fix the cause and apply them again.
CREATE TABLE inbound_refusals (
    id               uuid PRIMARY KEY,
    seq              bigserial,
    sha256           text NOT NULL UNIQUE,          -- the same bytes refused again count as one refusal
    source           text NOT NULL,                 -- api, directory
    filename         text,
    raw              bytea NOT NULL,
    problems         jsonb NOT NULL,                -- [{segment, segment_id, reason}] of the last attempt
    attempts         integer NOT NULL DEFAULT 1,
    first_refused_at timestamptz NOT NULL,
    last_refused_at  timestamptz NOT NULL,
    applied_file_id  uuid REFERENCES inbound_files (id)   -- set when a retry applied it
);
