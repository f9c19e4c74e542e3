-- Issue 19: Subscriptions on more than Task?status=: Task by owner and focus, ServiceRequest by status, combined
-- with &. NULL in a filter column means "any"; the canonical criteria string is the natural key.
ALTER TABLE subscriptions ADD COLUMN resource_type text NOT NULL DEFAULT 'Task';
ALTER TABLE subscriptions ADD COLUMN owners text[];     -- Task?owner= (PractitionerRole ids)
ALTER TABLE subscriptions ADD COLUMN focuses text[];    -- Task?focus= (ServiceRequest ids)
ALTER TABLE subscriptions ADD COLUMN criteria text;
-- A subscriber registered as a named recipient (an HIE: 'system|value'): told only under consents naming it.
ALTER TABLE subscriptions ADD COLUMN recipient text;
ALTER TABLE subscriptions ALTER COLUMN statuses DROP NOT NULL;
UPDATE subscriptions SET criteria = 'Task?status=' || array_to_string(statuses, ',');
ALTER TABLE subscriptions ALTER COLUMN criteria SET NOT NULL;
ALTER TABLE subscriptions DROP CONSTRAINT subscriptions_owner_endpoint_statuses_key;
ALTER TABLE subscriptions ADD CONSTRAINT subscriptions_owner_endpoint_criteria_key UNIQUE (owner, endpoint, criteria);
-- What a notification announces: a Task or a ServiceRequest version (task_version holds either's version).
ALTER TABLE subscription_deliveries ADD COLUMN resource_type text NOT NULL DEFAULT 'Task';
