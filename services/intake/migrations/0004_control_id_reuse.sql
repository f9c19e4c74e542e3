-- A message is a resend only when its sender, control id and bytes are all the same as a processed message's: a
-- sender that reset its counter, or a second system under the same MSH-3/MSH-4, must not have its messages dropped.
-- Existing keys (sender|control id) gain the hash of the stored bytes, as intake now computes them.
UPDATE messages SET dedupe_key = dedupe_key || '|' || encode(sha256(raw), 'hex') WHERE dedupe_key IS NOT NULL;
-- Set on a message processed as new although its sender's control id was already taken by a different message.
ALTER TABLE messages ADD COLUMN control_id_reused boolean NOT NULL DEFAULT false;
CREATE INDEX messages_by_control_id ON messages (control_id, sending_facility, sending_app)
    WHERE dedupe_key IS NOT NULL;
CREATE INDEX messages_control_id_reused ON messages (received_at) WHERE control_id_reused;
