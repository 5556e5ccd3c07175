-- +goose Up
CREATE FUNCTION default_region() RETURNS text LANGUAGE sql IMMUTABLE AS $$ SELECT 'eu' $$;
ALTER TABLE orders ADD COLUMN created_at timestamptz NOT NULL DEFAULT now();
ALTER TABLE orders ADD COLUMN status text NOT NULL DEFAULT 'new';
ALTER TABLE orders ADD COLUMN tags jsonb NOT NULL DEFAULT '[]'::jsonb;
ALTER TABLE orders ADD COLUMN day date DEFAULT (CURRENT_TIMESTAMP AT TIME ZONE 'UTC')::date;
ALTER TABLE orders ADD COLUMN region text DEFAULT default_region();
ALTER TABLE orders ADD COLUMN public_id uuid;
ALTER TABLE orders ALTER COLUMN public_id SET DEFAULT gen_random_uuid();

-- +goose Down
ALTER TABLE orders ADD COLUMN u uuid DEFAULT gen_random_uuid();
