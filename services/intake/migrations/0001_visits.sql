-- ED visits as intake knows them; the event payload fields plus intake-only details.
CREATE TABLE visits (
    facility        text NOT NULL,
    visit_number    text NOT NULL,
    status          text NOT NULL DEFAULT 'registered',
    peer_indicated  boolean NOT NULL DEFAULT false,
    indications     jsonb NOT NULL DEFAULT '[]',
    data            jsonb NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (facility, visit_number)
);
