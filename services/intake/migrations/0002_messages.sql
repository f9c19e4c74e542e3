-- Every message received (HL7 v2 or FHIR), stored before it is acknowledged, with what became of it.
CREATE TABLE messages (
    id               uuid PRIMARY KEY,
    received_at      timestamptz NOT NULL,
    channel          text NOT NULL,              -- mllp, fhir
    sending_app      text NOT NULL DEFAULT '',
    sending_facility text NOT NULL DEFAULT '',
    control_id       text NOT NULL DEFAULT '',
    message_type     text NOT NULL DEFAULT '',
    version          text NOT NULL DEFAULT '',
    status           text NOT NULL CHECK (status IN ('accepted', 'ignored', 'error', 'rejected')),
    ack_code         text NOT NULL,
    error            jsonb,                       -- HL7 error code, location, reason: never patient data
    result           jsonb NOT NULL DEFAULT '{}', -- what the message did: visit, events
    raw              bytea NOT NULL,
    replay_of        uuid REFERENCES messages (id),
    -- sender|control id of the one message (original, resend or replay) that was applied or ignored; a second
    -- claim on it fails, so a resend or replay never processes a message twice, even concurrently.
    dedupe_key       text UNIQUE,
    duplicates       integer NOT NULL DEFAULT 0,
    last_duplicate_at timestamptz
);
CREATE INDEX messages_by_status_time ON messages (status, received_at);
CREATE INDEX messages_by_time ON messages (received_at);
CREATE INDEX messages_by_replay ON messages (replay_of) WHERE replay_of IS NOT NULL;
