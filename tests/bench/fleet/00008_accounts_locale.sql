-- +goose Up
ALTER TABLE accounts ADD COLUMN locale text;
COMMENT ON COLUMN accounts.locale IS 'overrides the tenant''s settings.locale';
