-- +goose Up
SELECT 1; /* explain why;
   over two lines */
SELECT 2;
