CREATE TABLE referrals (
    id             uuid PRIMARY KEY,
    facility       text NOT NULL,
    visit_number   text NOT NULL,
    status         text NOT NULL,
    business_status text,
    owner_specialist_id uuid,
    visit          jsonb NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    UNIQUE (facility, visit_number)
);
