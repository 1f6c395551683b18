-- A key's own limit of requests per minute, across every proxy node (0: none), as LiteLLM's
-- per-key rpm_limit.
ALTER TABLE tokens ADD COLUMN rpm_limit BIGINT NOT NULL DEFAULT 0;
