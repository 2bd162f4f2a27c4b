-- Usage and contributions (models/metering): the running costs the board
-- enters, the members' monthly statements, and the prices as rules.
-- Portable SQL like 00001.

-- +goose Up
-- Prices are rules, so the members decide them like every rule:
-- a VM-hour costs vCPUs × the vCPU price + GiB of memory × the memory
-- price (a plan's price follows from its size); disks are paid per GiB and
-- month, traffic per GiB. Millicents: a thousandth of a cent.
INSERT INTO rule_versions (id, key, value, effective_from, adopted_by, created_at) VALUES
    ('06126898-7bdb-4ace-81f0-8c5a80cc3045', 'price_vcpu_hour_millicents', '300', '2000-01-01 00:00:00', 'initial', '2000-01-01 00:00:00'),
    ('9d21495c-0b6e-4abb-8aff-f9a573c51c91', 'price_memory_gib_hour_millicents', '200', '2000-01-01 00:00:00', 'initial', '2000-01-01 00:00:00'),
    ('8c6ce373-55a0-460d-a94d-35c27f93e287', 'price_disk_gib_month_cents', '4', '2000-01-01 00:00:00', 'initial', '2000-01-01 00:00:00'),
    ('e6cc3239-3a0e-4280-a922-ac665be877d5', 'price_traffic_gib_cents', '0', '2000-01-01 00:00:00', 'initial', '2000-01-01 00:00:00');

-- Append-only like the ledgers: a wrong entry is reversed by a new one.
CREATE TABLE running_costs (
    id           TEXT PRIMARY KEY,
    month        TEXT NOT NULL, -- YYYY-MM
    category     TEXT NOT NULL, -- servers | depreciation | housing | bandwidth | staff | other
    amount_cents BIGINT NOT NULL, -- positive; a reversal is the negative of the row it reverses
    note         TEXT NOT NULL DEFAULT '',
    reverses_id  TEXT UNIQUE REFERENCES running_costs(id),
    created_by   TEXT NOT NULL,
    created_at   TIMESTAMP NOT NULL
);
CREATE INDEX running_costs_month ON running_costs (month);

-- A month is closed once; its statements never change afterwards.
CREATE TABLE metering_months (
    month     TEXT PRIMARY KEY, -- YYYY-MM
    closed_at TIMESTAMP NOT NULL,
    closed_by TEXT NOT NULL
);

CREATE TABLE statements (
    id        TEXT PRIMARY KEY,
    user_id   TEXT NOT NULL REFERENCES users(id),
    month     TEXT NOT NULL,
    closed_at TIMESTAMP NOT NULL,
    UNIQUE (user_id, month)
);

-- quantity in thousandths of the unit; the amount in cents, rounded per line.
CREATE TABLE statement_lines (
    id                    TEXT PRIMARY KEY,
    statement_id          TEXT NOT NULL REFERENCES statements(id),
    position              BIGINT NOT NULL,
    kind                  TEXT NOT NULL, -- vm_hours | disk | traffic | correction
    description           TEXT NOT NULL,
    unit                  TEXT NOT NULL DEFAULT '',
    quantity_milli        BIGINT NOT NULL DEFAULT 0,
    unit_price_millicents BIGINT NOT NULL DEFAULT 0,
    amount_cents          BIGINT NOT NULL,
    corrects_id           TEXT REFERENCES statement_lines(id),
    created_by            TEXT NOT NULL,
    created_at            TIMESTAMP NOT NULL,
    UNIQUE (statement_id, position)
);

-- +goose Down
DROP TABLE statement_lines;
DROP TABLE statements;
DROP TABLE metering_months;
DROP TABLE running_costs;
DELETE FROM rule_versions WHERE key IN ('price_vcpu_hour_millicents', 'price_memory_gib_hour_millicents',
    'price_disk_gib_month_cents', 'price_traffic_gib_cents');
