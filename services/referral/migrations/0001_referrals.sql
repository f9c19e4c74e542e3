-- One row per peer-indicated ED visit: the state every FHIR resource of the referral is built from.
CREATE TABLE referrals (
    id             uuid PRIMARY KEY,
    facility       text NOT NULL,
    visit_number   text NOT NULL,
    status         text NOT NULL,
    business_status text,
    status_reason  text,
    owner_specialist_id uuid,
    encounter_id   uuid,
    consent        jsonb,
    visit          jsonb NOT NULL,
    authored_on    timestamptz NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    UNIQUE (facility, visit_number)
);

-- The current version of each FHIR resource, with the columns its search parameters use.
CREATE TABLE fhir_resources (
    resource_type  text NOT NULL,
    id             uuid NOT NULL,
    version_id     integer NOT NULL,
    last_updated   timestamptz NOT NULL,
    referral_id    uuid NOT NULL REFERENCES referrals (id),
    identifier     text NOT NULL,           -- system|value
    patient        text,                    -- system|value of the subject's identifier
    status         text NOT NULL,
    focus          text,
    owner          text,
    body           jsonb NOT NULL,
    PRIMARY KEY (resource_type, id)
);
CREATE INDEX fhir_resources_identifier ON fhir_resources (resource_type, identifier);
CREATE INDEX fhir_resources_patient ON fhir_resources (resource_type, patient);
CREATE INDEX fhir_resources_focus ON fhir_resources (resource_type, focus);
CREATE INDEX fhir_resources_owner ON fhir_resources (resource_type, owner);
CREATE INDEX fhir_resources_updated ON fhir_resources (resource_type, last_updated, id);

-- Every version ever written, for vread and _history.
CREATE TABLE fhir_history (
    resource_type  text NOT NULL,
    id             uuid NOT NULL,
    version_id     integer NOT NULL,
    last_updated   timestamptz NOT NULL,
    body           jsonb NOT NULL,
    PRIMARY KEY (resource_type, id, version_id)
);

-- Changes to push to the hospital's FHIR server; each push sends the referral's state at that time.
CREATE TABLE push_queue (
    seq            bigserial PRIMARY KEY,
    referral_id    uuid NOT NULL REFERENCES referrals (id),
    facility       text NOT NULL,
    enqueued_at    timestamptz NOT NULL,
    next_attempt_at timestamptz NOT NULL,
    attempts       integer NOT NULL DEFAULT 0,
    state          text NOT NULL DEFAULT 'pending',   -- pending, sent, held, no-endpoint
    last_status    integer,
    last_error     text,
    done_at        timestamptz
);
CREATE INDEX push_queue_due ON push_queue (next_attempt_at) WHERE state = 'pending';

-- Append-only audit trail of every read and every disclosure (HIPAA 164.312(b)).
CREATE TABLE audit_log (
    seq            bigserial PRIMARY KEY,
    recorded_at    timestamptz NOT NULL,
    action         text NOT NULL,      -- read, vread, history, search, disclosure
    actor          text NOT NULL,
    actor_role     text,
    purpose        text NOT NULL,
    resource_type  text,
    resource_ids   text[] NOT NULL DEFAULT '{}',
    referral_id    uuid,
    destination    text,
    outcome        text NOT NULL,      -- success, denied, not-found, held, failed
    status_code    integer
);
CREATE INDEX audit_log_recorded ON audit_log (recorded_at);
CREATE INDEX audit_log_referral ON audit_log (referral_id);

CREATE FUNCTION audit_log_is_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only';
END $$;
CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_is_append_only();

-- Pairing events that overtook the visit's PeerSupportIndicated (two topics, no order between them):
-- kept until the referral exists, then applied in arrival order.
CREATE TABLE parked_events (
    seq            bigserial PRIMARY KEY,
    facility       text NOT NULL,
    visit_number   text NOT NULL,
    name           text NOT NULL,
    data           jsonb NOT NULL,
    parked_at      timestamptz NOT NULL
);
CREATE INDEX parked_events_visit ON parked_events (facility, visit_number);
