-- Contacts: how each specialist and supervisor is reached, in preference order; verified before use.
CREATE TABLE contacts (
    id uuid PRIMARY KEY,
    person_kind text NOT NULL CHECK (person_kind IN ('specialist', 'supervisor')),
    person_id text NOT NULL,
    channel text NOT NULL CHECK (channel IN ('sms', 'email', 'push', 'webhook', 'log')),
    address text NOT NULL,
    rank int NOT NULL,
    verified_at timestamptz,
    code_hash text,
    code_expires_at timestamptz,
    code_attempts int NOT NULL DEFAULT 0,
    created_at timestamptz NOT NULL,
    UNIQUE (person_kind, person_id, channel, address)
);
CREATE INDEX contacts_by_address ON contacts (channel, address);

-- The on-call rota: who is alerted for a facility between two instants.
CREATE TABLE oncall (
    id bigserial PRIMARY KEY,
    facility text NOT NULL,
    supervisor_id text NOT NULL,
    starts_at timestamptz NOT NULL,
    ends_at timestamptz NOT NULL CHECK (ends_at > starts_at)
);
CREATE INDEX oncall_by_facility ON oncall (facility, starts_at);

-- Where a visit is (ED location and bay), the only visit facts a message may carry.
CREATE TABLE visit_places (
    facility text NOT NULL,
    visit_number text NOT NULL,
    location text,
    bed text,
    PRIMARY KEY (facility, visit_number)
);

-- Offers as pairing announced them, so a reply can be matched to an open one.
CREATE TABLE offers (
    assignment_id uuid PRIMARY KEY,
    specialist_id text NOT NULL,
    facility text NOT NULL,
    visit_number text NOT NULL,
    reply_code text NOT NULL,
    offered_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL,
    status text NOT NULL,
    reply text,
    replied_at timestamptz,
    closed_at timestamptz
);
CREATE INDEX offers_open_by_specialist ON offers (specialist_id, offered_at) WHERE status = 'offered';

-- Supervisor alerts: repeated until acknowledged, up to a limit.
CREATE TABLE alerts (
    id uuid PRIMARY KEY,
    event_id text NOT NULL UNIQUE,
    facility text NOT NULL,
    visit_number text NOT NULL,
    case_id text,
    supervisor_id text,
    raised_at timestamptz NOT NULL,
    repeats int NOT NULL DEFAULT 0,
    next_at timestamptz,
    acked_at timestamptz,
    acked_via text
);
CREATE INDEX alerts_due ON alerts (next_at) WHERE acked_at IS NULL;

-- Messages: one row per (causing event, recipient, channel); the unique key is what makes a redelivered event
-- or a retried fallback send nothing twice.
CREATE TABLE messages (
    id uuid PRIMARY KEY,
    cause text NOT NULL,
    kind text NOT NULL,
    recipient_kind text NOT NULL,
    recipient_id text NOT NULL,
    channel text NOT NULL,
    contact_id uuid REFERENCES contacts (id) ON DELETE SET NULL,
    address text NOT NULL,
    facility text,
    visit_number text,
    assignment_id uuid,
    alert_id uuid,
    context jsonb NOT NULL DEFAULT '{}',
    status text NOT NULL,
    attempts int NOT NULL DEFAULT 0,
    next_attempt_at timestamptz,
    fallback_at timestamptz,
    provider_ref text,
    error_class text,
    created_at timestamptz NOT NULL,
    sent_at timestamptz,
    delivered_at timestamptz,
    replied_at timestamptz,
    UNIQUE (cause, recipient_id, channel)
);
CREATE INDEX messages_due ON messages (next_attempt_at) WHERE status = 'queued';
CREATE INDEX messages_fallback ON messages (fallback_at) WHERE fallback_at IS NOT NULL;
CREATE INDEX messages_by_provider_ref ON messages (provider_ref);
CREATE INDEX messages_by_visit ON messages (facility, visit_number);
CREATE INDEX messages_by_assignment ON messages (assignment_id);

-- Inbound texts already handled (the provider retries a webhook it got no answer to).
CREATE TABLE inbound (
    provider_ref text PRIMARY KEY,
    received_at timestamptz NOT NULL,
    outcome text NOT NULL
);

-- Wake the delivery workers when a message is queued (delivered at commit, so they never look too early).
CREATE FUNCTION {schema}.messages_queued() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('{schema}_messages', '');
    RETURN NULL;
END $$;
CREATE TRIGGER messages_queued AFTER INSERT ON messages FOR EACH STATEMENT EXECUTE FUNCTION {schema}.messages_queued();
