-- Client assertions already used at the token endpoint, kept until they expire: a replayed jti is refused
-- (SMART Backend Services), also when the replay reaches another replica.
CREATE TABLE smart_assertions (
    client_id   text NOT NULL,
    jti         text NOT NULL,
    expires_at  timestamptz NOT NULL,
    PRIMARY KEY (client_id, jti)
);
CREATE INDEX smart_assertions_expiry ON smart_assertions (expires_at);
