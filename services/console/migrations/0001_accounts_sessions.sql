-- The console's own data: who may sign in and their sessions. No patient data is ever stored here.
CREATE TABLE accounts (
    username       text PRIMARY KEY,
    display_name   text NOT NULL,
    password_hash  text NOT NULL,          -- argon2id (argon2-cffi's PasswordHasher)
    roles          text[] NOT NULL,
    specialist_id  uuid,                   -- a peer account acts as this specialist of pairing's roster
    created_at     timestamptz NOT NULL
);

-- A session is known by the SHA-256 of its cookie value, so a leaked table row cannot be replayed as a cookie.
CREATE TABLE sessions (
    id_hash        text PRIMARY KEY,
    username       text NOT NULL REFERENCES accounts (username) ON DELETE CASCADE,
    csrf           text NOT NULL,
    created_at     timestamptz NOT NULL,
    last_seen_at   timestamptz NOT NULL
);
CREATE INDEX sessions_username ON sessions (username);
