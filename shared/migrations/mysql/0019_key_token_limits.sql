-- A key's tokens per minute (prompt + completion, 0: no limit) and its per-model limits
-- ({"model": n} JSON, empty: none), as LiteLLM's tpm_limit, model_rpm_limit and
-- model_tpm_limit; enforced by the proxy across every node.
ALTER TABLE tokens ADD COLUMN tpm_limit BIGINT NOT NULL DEFAULT 0;
ALTER TABLE tokens ADD COLUMN model_rpm_limit VARCHAR(4096) NOT NULL DEFAULT '';
ALTER TABLE tokens ADD COLUMN model_tpm_limit VARCHAR(4096) NOT NULL DEFAULT '';
