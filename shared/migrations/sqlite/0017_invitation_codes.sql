-- identical to ../mysql/0017_invitation_codes.sql but for the id column and table options.

-- new-api's invitation codes: single-use codes an administrator hands out, required to register
-- when the operator says so (options InvitationCodeRequired / InvitationCodeMethods). Only the
-- SHA-256 of the normalized (trimmed, upper-cased) code is kept, with its first 8 characters to
-- recognise it by. status: 1 enabled, 2 disabled, 3 used (by used_user_id at used_time).
-- expired_time 0 never expires.
CREATE TABLE invitation_codes (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    name          VARCHAR(64)  NOT NULL DEFAULT '',
    code_hash     VARCHAR(64)  NOT NULL,
    code_prefix   VARCHAR(8)   NOT NULL DEFAULT '',
    status        BIGINT       NOT NULL DEFAULT 1,
    created_by    BIGINT       NOT NULL DEFAULT 0,
    used_user_id  BIGINT       NOT NULL DEFAULT 0,
    created_time  BIGINT       NOT NULL,
    used_time     BIGINT       NOT NULL DEFAULT 0,
    expired_time  BIGINT       NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX idx_invitation_codes_hash ON invitation_codes (code_hash);
CREATE INDEX idx_invitation_codes_status ON invitation_codes (status, id);
CREATE INDEX idx_invitation_codes_prefix ON invitation_codes (code_prefix);
CREATE INDEX idx_invitation_codes_name ON invitation_codes (name);
