-- A test service's state: one row per effect applied (no unique key, so a doubled effect would show).
CREATE TABLE effects (
    id        bigserial PRIMARY KEY,
    item      integer NOT NULL,
    event_id  uuid NOT NULL
);
