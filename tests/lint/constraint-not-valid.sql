-- +goose Up
ALTER TABLE orders ADD CONSTRAINT orders_customer_fk FOREIGN KEY (customer_id) REFERENCES customers (id);
ALTER TABLE orders ADD CONSTRAINT orders_total_positive CHECK (total >= 0);
ALTER TABLE orders ADD COLUMN coupon_id bigint REFERENCES coupons (id);

-- +goose Down
ALTER TABLE orders DROP CONSTRAINT orders_customer_fk, DROP CONSTRAINT orders_total_positive;
