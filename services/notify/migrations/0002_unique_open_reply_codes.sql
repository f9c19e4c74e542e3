-- A peer's open offers never share a reply code: two offers queued at once for one peer (by consumers of different
-- partitions) cannot both take a code; the second transaction fails, is retried, and picks another.
CREATE UNIQUE INDEX offers_open_reply_code ON offers (specialist_id, reply_code) WHERE status = 'offered';
