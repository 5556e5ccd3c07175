-- +goose Up
ALTER TABLE orders ADD CONSTRAINT orders_ref_key UNIQUE USING INDEX orders_ref_idx;
ALTER TABLE orders ADD CONSTRAINT orders_pkey PRIMARY KEY USING INDEX orders_id_idx;
CREATE TABLE coupons (code text);
ALTER TABLE coupons ADD CONSTRAINT coupons_code_key UNIQUE (code);

-- +goose Down
ALTER TABLE orders ADD CONSTRAINT x UNIQUE (ref);
