-- +goose Up
ALTER TABLE orders RENAME TO purchases;

-- +goose Down
ALTER TABLE purchases RENAME TO orders;
