-- +goose Up
CREATE TABLE settings (
    key text PRIMARY KEY,
    value jsonb NOT NULL
);
INSERT INTO settings (key, value) VALUES
    ('locale', '"en-GB"'),
    ('week_starts_on', '1'),
    ('features', '{"boards": true, "reports": false}');
