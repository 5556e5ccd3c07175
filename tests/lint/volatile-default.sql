-- +goose Up
ALTER TABLE orders ADD COLUMN public_id uuid DEFAULT gen_random_uuid();
ALTER TABLE orders ADD COLUMN seen_at timestamptz DEFAULT clock_timestamp();
ALTER TABLE orders ADD COLUMN line_no bigserial;
ALTER TABLE orders ADD COLUMN total_cents bigint GENERATED ALWAYS AS (total * 100) STORED;
ALTER TABLE orders ADD COLUMN seq bigint GENERATED ALWAYS AS IDENTITY;
ALTER TABLE orders ADD COLUMN shard int DEFAULT pick_shard();

-- +goose Down
ALTER TABLE orders DROP COLUMN public_id;
