-- The outbox keeps each event as the exact bytes the relay sends, so publishing parses and re-serialises nothing.
-- Operators who want to read events as JSON query the view outbox_events.
ALTER TABLE outbox ADD COLUMN payload bytea;
ALTER TABLE outbox ADD COLUMN event_type text;
ALTER TABLE outbox ADD COLUMN traceparent text;
UPDATE outbox SET payload = convert_to(envelope::text, 'UTF8'), event_type = envelope->>'type',
                  traceparent = envelope->>'traceparent';
ALTER TABLE outbox ALTER COLUMN payload SET NOT NULL;
ALTER TABLE outbox ALTER COLUMN event_type SET NOT NULL;
ALTER TABLE outbox DROP COLUMN envelope;
-- convert_from is only stable in general; with the encoding named it cannot change, so this wrapper is immutable.
CREATE FUNCTION outbox_envelope(payload bytea) RETURNS jsonb LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT convert_from(payload, 'UTF8')::jsonb $$;
CREATE VIEW outbox_events AS SELECT *, outbox_envelope(payload) AS envelope FROM outbox;
