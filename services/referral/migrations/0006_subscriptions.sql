-- FHIR R4 Subscriptions (rest-hook) on Task changes, and their notifications waiting to be delivered. A Task write
-- queues its notifications in its own transaction, so none is lost and none precedes the change it announces.
CREATE TABLE subscriptions (
    id                 uuid PRIMARY KEY,
    owner              text NOT NULL,          -- the creating token's subject
    facilities         text[],                 -- an ehr token's facilities; NULL for supervisors and admins
    statuses           text[] NOT NULL,        -- criteria Task?status=a,b
    endpoint           text NOT NULL,
    headers            text[] NOT NULL DEFAULT '{}',
    full_resource      boolean NOT NULL,       -- payload application/fhir+json: the Task itself, else its id only
    heartbeat_seconds  integer,
    status             text NOT NULL,          -- active, error (deliveries failing, still retried), off
    error              text,
    events_since_start bigint NOT NULL DEFAULT 0,
    last_sent_at       timestamptz,
    created_at         timestamptz NOT NULL,
    body               jsonb NOT NULL,
    UNIQUE (owner, endpoint, statuses)
);

CREATE TABLE subscription_deliveries (
    seq              bigserial PRIMARY KEY,
    subscription_id  uuid NOT NULL REFERENCES subscriptions (id),
    kind             text NOT NULL,            -- event-notification, heartbeat
    event_number     bigint,
    referral_id      uuid,
    task_version     integer,
    created_at       timestamptz NOT NULL,
    next_attempt_at  timestamptz NOT NULL,
    attempts         integer NOT NULL DEFAULT 0,
    state            text NOT NULL DEFAULT 'pending',   -- pending, sent, dropped (subscription off), withheld (consent ended)
    last_status      integer,
    last_error       text,
    done_at          timestamptz
);
CREATE INDEX subscription_deliveries_due ON subscription_deliveries (next_attempt_at) WHERE state = 'pending';
