-- The ledger row behind a log row: seed 004's points ledger (`GET /api/turnover`) shows each of
-- a user's log rows with the signed amount its movement moved, looked up by `log_id` for one
-- page of rows at a time.
CREATE INDEX idx_ledger_movements_log ON ledger_movements (log_id);
