-- +goose NO TRANSACTION
-- +goose Up
COPY t FROM STDIN;
