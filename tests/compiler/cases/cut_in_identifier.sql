-- +goose Up
CREATE TABLE "odd;
name" (id int);
