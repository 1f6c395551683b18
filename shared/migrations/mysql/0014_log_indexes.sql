-- The log lists' filters, each served by an index whose entries are in id order (secondary
-- index entries end with the row id in both engines), so that "newest first, filtered" reads
-- one page of index entries instead of the table: new-api indexes the same columns.
CREATE INDEX idx_logs_user_id ON logs (user_id, id);
CREATE INDEX idx_logs_username ON logs (username);
CREATE INDEX idx_logs_token_name ON logs (token_name);
CREATE INDEX idx_logs_type ON logs (type);
CREATE INDEX idx_logs_group ON logs (`group`);
