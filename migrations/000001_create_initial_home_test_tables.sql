-- HomeTest: initial schema.
-- Patients order home test kits (HIV, STI and similar self-sampling kits) that are
-- fulfilled by suppliers contracted per local authority. Reference tables use short
-- upper-case codes as natural keys so that seed data and application code can refer
-- to them by name.

-- +goose Up

-- Keeps updated_at current on tables whose rows change after insert.
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION set_updated_at() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.updated_at := now();
    RETURN NEW;
END;
$$;
-- +goose StatementEnd

-- Internal identity for a patient, mapped from the identifiers the NHS gives us.
CREATE TABLE patient_mapping (
    patient_uid   uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    nhs_number    char(10),
    nhs_login_sub text,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT patient_mapping_nhs_number_uq    UNIQUE (nhs_number),
    CONSTRAINT patient_mapping_nhs_login_sub_uq UNIQUE (nhs_login_sub),
    CONSTRAINT patient_mapping_nhs_number_ck    CHECK (nhs_number ~ '^[0-9]{10}$'),
    CONSTRAINT patient_mapping_nhs_login_sub_ck CHECK (length(btrim(nhs_login_sub)) > 0),
    CONSTRAINT patient_mapping_identifier_ck
        CHECK (nhs_number IS NOT NULL OR nhs_login_sub IS NOT NULL)
);

CREATE TRIGGER patient_mapping_set_updated_at
    BEFORE UPDATE ON patient_mapping
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();

-- Kinds of home test kit that can be ordered.
CREATE TABLE test_type (
    test_type_code varchar(32)  PRIMARY KEY,
    display_name   varchar(100) NOT NULL,
    description    text,
    sample_type    varchar(32)  NOT NULL,
    is_active      boolean      NOT NULL DEFAULT true,
    created_at     timestamptz  NOT NULL DEFAULT now(),
    CONSTRAINT test_type_code_ck CHECK (test_type_code ~ '^[A-Z][A-Z0-9_]*$'),
    CONSTRAINT test_type_sample_type_ck
        CHECK (sample_type IN ('BLOOD', 'URINE', 'SWAB', 'MULTIPLE')),
    CONSTRAINT test_type_display_name_uq UNIQUE (display_name)
);

-- Companies that dispatch kits and run the laboratory analysis.
CREATE TABLE supplier (
    supplier_code varchar(32)  PRIMARY KEY,
    supplier_name varchar(200) NOT NULL,
    website_url   text,
    is_active     boolean      NOT NULL DEFAULT true,
    created_at    timestamptz  NOT NULL DEFAULT now(),
    CONSTRAINT supplier_code_ck CHECK (supplier_code ~ '^[A-Z][A-Z0-9_]*$'),
    CONSTRAINT supplier_website_url_ck CHECK (website_url ~ '^https://'),
    CONSTRAINT supplier_name_uq UNIQUE (supplier_name)
);

-- Which supplier provides which test for residents of a local authority
-- (la_code is the ONS code, e.g. E09000022 for Lambeth), and for which period.
CREATE TABLE la_supplier_offering (
    offering_id    bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    la_code        char(9)     NOT NULL,
    supplier_code  varchar(32) NOT NULL REFERENCES supplier (supplier_code),
    test_type_code varchar(32) NOT NULL REFERENCES test_type (test_type_code),
    effective_from date        NOT NULL DEFAULT current_date,
    effective_to   date,
    created_at     timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT la_supplier_offering_la_code_ck CHECK (la_code ~ '^[EWSN][0-9]{8}$'),
    CONSTRAINT la_supplier_offering_period_ck
        CHECK (effective_to IS NULL OR effective_to > effective_from),
    CONSTRAINT la_supplier_offering_uq
        UNIQUE (la_code, supplier_code, test_type_code, effective_from)
);

CREATE INDEX la_supplier_offering_lookup_idx
    ON la_supplier_offering (la_code, test_type_code);
CREATE INDEX la_supplier_offering_supplier_idx
    ON la_supplier_offering (supplier_code);
CREATE INDEX la_supplier_offering_test_type_idx
    ON la_supplier_offering (test_type_code);

-- Order numbers come from a sequence; the human-readable reference is derived from it.
CREATE SEQUENCE test_order_number_seq AS bigint START WITH 100001 MINVALUE 1 NO CYCLE;

-- A kit ordered by a patient through a local authority's supplier offering.
-- order_reference looks like HT00100001 and is what the patient and supplier quote.
CREATE TABLE test_order (
    order_id            uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    order_number        bigint      NOT NULL DEFAULT nextval('test_order_number_seq'),
    order_reference     varchar(16) NOT NULL
        GENERATED ALWAYS AS ('HT' || lpad(order_number::text, 8, '0')) STORED,
    patient_uid         uuid        NOT NULL REFERENCES patient_mapping (patient_uid),
    offering_id         bigint      NOT NULL REFERENCES la_supplier_offering (offering_id),
    supplier_order_ref  varchar(64),
    ordered_at          timestamptz NOT NULL DEFAULT now(),
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT test_order_order_number_ck CHECK (order_number > 0),
    CONSTRAINT test_order_order_number_uq UNIQUE (order_number),
    CONSTRAINT test_order_order_reference_uq UNIQUE (order_reference),
    CONSTRAINT test_order_supplier_order_ref_uq UNIQUE (offering_id, supplier_order_ref)
);

CREATE INDEX test_order_patient_idx ON test_order (patient_uid, ordered_at DESC);
CREATE INDEX test_order_offering_idx ON test_order (offering_id);

CREATE TRIGGER test_order_set_updated_at
    BEFORE UPDATE ON test_order
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();

-- Lifecycle states an order can pass through.
CREATE TABLE status_type (
    status_code varchar(32)  PRIMARY KEY,
    description varchar(200) NOT NULL,
    sort_order  smallint     NOT NULL,
    is_terminal boolean      NOT NULL DEFAULT false,
    created_at  timestamptz  NOT NULL DEFAULT now(),
    CONSTRAINT status_type_code_ck CHECK (status_code ~ '^[A-Z][A-Z0-9_]*$'),
    CONSTRAINT status_type_sort_order_ck CHECK (sort_order > 0),
    CONSTRAINT status_type_sort_order_uq UNIQUE (sort_order)
);

-- Status history of an order; the latest status_at is the current status.
CREATE TABLE order_status (
    order_status_id bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    order_id        uuid        NOT NULL REFERENCES test_order (order_id) ON DELETE CASCADE,
    status_code     varchar(32) NOT NULL REFERENCES status_type (status_code),
    status_at       timestamptz NOT NULL DEFAULT now(),
    source          varchar(16) NOT NULL DEFAULT 'SYSTEM',
    note            text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT order_status_source_ck CHECK (source IN ('PATIENT', 'SUPPLIER', 'SYSTEM', 'ADMIN')),
    CONSTRAINT order_status_uq UNIQUE (order_id, status_code, status_at)
);

CREATE INDEX order_status_order_idx ON order_status (order_id, status_at DESC);
CREATE INDEX order_status_status_idx ON order_status (status_code);

-- Outcomes a laboratory can report for a test.
CREATE TABLE result_type (
    result_code        varchar(32)  PRIMARY KEY,
    description        varchar(200) NOT NULL,
    requires_follow_up boolean      NOT NULL DEFAULT false,
    is_final           boolean      NOT NULL DEFAULT true,
    created_at         timestamptz  NOT NULL DEFAULT now(),
    CONSTRAINT result_type_code_ck CHECK (result_code ~ '^[A-Z][A-Z0-9_]*$')
);

-- Results reported for an order; an amended result is a new row with a later result_at.
CREATE TABLE result_status (
    result_status_id    bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    order_id            uuid        NOT NULL REFERENCES test_order (order_id) ON DELETE CASCADE,
    result_code         varchar(32) NOT NULL REFERENCES result_type (result_code),
    supplier_result_ref varchar(64),
    result_at           timestamptz NOT NULL DEFAULT now(),
    notified_at         timestamptz,
    created_at          timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT result_status_notified_ck CHECK (notified_at IS NULL OR notified_at >= result_at),
    CONSTRAINT result_status_uq UNIQUE (order_id, result_at)
);

CREATE INDEX result_status_order_idx ON result_status (order_id, result_at DESC);
CREATE INDEX result_status_result_idx ON result_status (result_code);

-- +goose Down
DROP TABLE IF EXISTS result_status;
DROP TABLE IF EXISTS result_type;
DROP TABLE IF EXISTS order_status;
DROP TABLE IF EXISTS status_type;
DROP TABLE IF EXISTS test_order;
DROP SEQUENCE IF EXISTS test_order_number_seq;
DROP TABLE IF EXISTS la_supplier_offering;
DROP TABLE IF EXISTS supplier;
DROP TABLE IF EXISTS test_type;
DROP TABLE IF EXISTS patient_mapping;
DROP FUNCTION IF EXISTS set_updated_at();
