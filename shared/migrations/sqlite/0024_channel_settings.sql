-- identical to ../mysql/0024_channel_settings.sql.

-- new-api's channel `settings` (its OtherSettings): a JSON object of per-channel extras that
-- Pylon keeps as the console sends it. The upstream model updates read and write its
-- `upstream_model_update_*` fields (whether the channel is checked, the models its upstream
-- added and removed since the last check, the ones the operator ignores, the time of the check).
ALTER TABLE channels ADD COLUMN settings TEXT NOT NULL DEFAULT '';
