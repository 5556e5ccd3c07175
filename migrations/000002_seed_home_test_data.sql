-- HomeTest: reference data (test types, suppliers, order statuses, result codes)
-- and the initial local authority supplier offerings.
-- Down removes exactly the rows inserted here.

-- +goose Up
INSERT INTO test_type (test_type_code, display_name, description, sample_type) VALUES
    ('HIV', 'HIV self-sampling kit', 'Finger-prick blood sample tested for HIV antibodies and antigen', 'BLOOD'),
    ('CHLAMYDIA_GONORRHOEA', 'Chlamydia and gonorrhoea kit', 'Urine or swab sample tested for chlamydia and gonorrhoea (NAAT)', 'MULTIPLE'),
    ('SYPHILIS', 'Syphilis self-sampling kit', 'Finger-prick blood sample tested for syphilis antibodies', 'BLOOD'),
    ('HEPATITIS_B', 'Hepatitis B self-sampling kit', 'Finger-prick blood sample tested for hepatitis B surface antigen', 'BLOOD'),
    ('HEPATITIS_C', 'Hepatitis C self-sampling kit', 'Finger-prick blood sample tested for hepatitis C antibodies', 'BLOOD'),
    ('STI_FULL_SCREEN', 'Full STI screen', 'HIV, syphilis, chlamydia and gonorrhoea in one kit', 'MULTIPLE');

INSERT INTO supplier (supplier_code, supplier_name, website_url) VALUES
    ('PREVENTX', 'Preventx Limited', 'https://preventx.com'),
    ('SH24', 'SH:24', 'https://sh24.org.uk'),
    ('RANDOX', 'Randox Health', 'https://randoxhealth.com');

INSERT INTO status_type (status_code, description, sort_order, is_terminal) VALUES
    ('ORDER_RECEIVED', 'Order received from the patient', 10, false),
    ('ORDER_ACCEPTED', 'Order accepted by the supplier', 20, false),
    ('DISPATCHED', 'Kit dispatched to the patient', 30, false),
    ('SAMPLE_RECEIVED', 'Returned sample received by the laboratory', 40, false),
    ('RESULT_AVAILABLE', 'Result available to the patient', 50, true),
    ('SAMPLE_REJECTED', 'Sample could not be tested', 60, true),
    ('KIT_NOT_RETURNED', 'Kit not returned within the allowed period', 70, true),
    ('CANCELLED', 'Order cancelled', 80, true);

INSERT INTO result_type (result_code, description, requires_follow_up, is_final) VALUES
    ('NEGATIVE', 'No infection detected', false, true),
    ('POSITIVE', 'Infection detected', true, true),
    ('REACTIVE', 'Reactive screening result, confirmatory test needed', true, false),
    ('EQUIVOCAL', 'Result could not be interpreted, retest advised', true, false),
    ('INSUFFICIENT_SAMPLE', 'Not enough sample to test', true, true),
    ('SAMPLE_HAEMOLYSED', 'Blood sample haemolysed and could not be tested', true, true),
    ('NOT_TESTED', 'Sample received but not tested', true, true);

INSERT INTO la_supplier_offering (la_code, supplier_code, test_type_code, effective_from) VALUES
    ('E09000022', 'SH24', 'HIV', DATE '2024-04-01'),
    ('E09000022', 'SH24', 'CHLAMYDIA_GONORRHOEA', DATE '2024-04-01'),
    ('E09000022', 'SH24', 'STI_FULL_SCREEN', DATE '2024-04-01'),
    ('E09000028', 'SH24', 'HIV', DATE '2024-04-01'),
    ('E09000028', 'SH24', 'SYPHILIS', DATE '2024-04-01'),
    ('E08000003', 'PREVENTX', 'HIV', DATE '2024-04-01'),
    ('E08000003', 'PREVENTX', 'CHLAMYDIA_GONORRHOEA', DATE '2024-04-01'),
    ('E08000003', 'PREVENTX', 'HEPATITIS_C', DATE '2024-04-01'),
    ('E06000023', 'PREVENTX', 'STI_FULL_SCREEN', DATE '2024-04-01'),
    ('E06000023', 'RANDOX', 'HEPATITIS_B', DATE '2024-04-01');

-- +goose Down
DELETE FROM la_supplier_offering
WHERE effective_from = DATE '2024-04-01'
  AND (la_code, supplier_code, test_type_code) IN (
    ('E09000022', 'SH24', 'HIV'),
    ('E09000022', 'SH24', 'CHLAMYDIA_GONORRHOEA'),
    ('E09000022', 'SH24', 'STI_FULL_SCREEN'),
    ('E09000028', 'SH24', 'HIV'),
    ('E09000028', 'SH24', 'SYPHILIS'),
    ('E08000003', 'PREVENTX', 'HIV'),
    ('E08000003', 'PREVENTX', 'CHLAMYDIA_GONORRHOEA'),
    ('E08000003', 'PREVENTX', 'HEPATITIS_C'),
    ('E06000023', 'PREVENTX', 'STI_FULL_SCREEN'),
    ('E06000023', 'RANDOX', 'HEPATITIS_B'));

DELETE FROM result_type WHERE result_code IN (
    'NEGATIVE', 'POSITIVE', 'REACTIVE', 'EQUIVOCAL',
    'INSUFFICIENT_SAMPLE', 'SAMPLE_HAEMOLYSED', 'NOT_TESTED');

DELETE FROM status_type WHERE status_code IN (
    'ORDER_RECEIVED', 'ORDER_ACCEPTED', 'DISPATCHED', 'SAMPLE_RECEIVED',
    'RESULT_AVAILABLE', 'SAMPLE_REJECTED', 'KIT_NOT_RETURNED', 'CANCELLED');

DELETE FROM supplier WHERE supplier_code IN ('PREVENTX', 'SH24', 'RANDOX');

DELETE FROM test_type WHERE test_type_code IN (
    'HIV', 'CHLAMYDIA_GONORRHOEA', 'SYPHILIS', 'HEPATITIS_B', 'HEPATITIS_C', 'STI_FULL_SCREEN');
