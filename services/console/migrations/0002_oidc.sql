-- OpenID Connect: sign-ins under way (state, nonce, PKCE verifier; kept ten minutes at most), and the identity
-- provider's access token of a session, which the console shows the APIs (production verifies it by JWKS).
CREATE TABLE oidc_logins (
    state          text PRIMARY KEY,
    nonce          text NOT NULL,
    verifier       text NOT NULL,
    next_path      text NOT NULL,
    created_at     timestamptz NOT NULL
);
ALTER TABLE sessions ADD COLUMN api_token text;
ALTER TABLE sessions ADD COLUMN api_token_expires_at timestamptz;
