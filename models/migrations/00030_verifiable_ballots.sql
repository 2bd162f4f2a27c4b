-- Verifiable secret ballots (issue 13, docs/ballots.md): an assembly whose
-- board names trustees gets an election key made by them (k of n), and its
-- secret items take ballots encrypted in the voter's browser. The server
-- keeps voter → ciphertext only; no table here holds a plaintext choice or
-- any secret key material.

-- +goose Up
CREATE TABLE elections (
    assembly_id TEXT PRIMARY KEY REFERENCES assemblies(id) ON DELETE CASCADE,
    threshold   INTEGER NOT NULL,                 -- k trustees decrypt
    revote      BOOLEAN NOT NULL DEFAULT FALSE,   -- a later ballot replaces the earlier one
    public_key  TEXT NOT NULL DEFAULT ''          -- hex; set when every trustee confirmed
);

-- The trustees and what they published in the key ceremony: a transport key
-- (shares reach them encrypted to it), Feldman commitments with a proof of
-- the constant term, and their verification key once they checked their
-- shares. Their secrets stay in their browsers.
CREATE TABLE election_trustees (
    assembly_id      TEXT NOT NULL REFERENCES elections(assembly_id) ON DELETE CASCADE,
    idx              INTEGER NOT NULL,            -- 1 … n
    user_id          TEXT NOT NULL REFERENCES users(id),
    name             TEXT NOT NULL,
    transport_key    TEXT NOT NULL DEFAULT '',
    commitments      TEXT NOT NULL DEFAULT '',    -- JSON array of hex points
    proof            TEXT NOT NULL DEFAULT '',    -- JSON {c, s}
    dealt            BOOLEAN NOT NULL DEFAULT FALSE,
    verification_key TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (assembly_id, idx),
    UNIQUE (assembly_id, user_id)
);

-- Shares from trustee to trustee, encrypted to the recipient's transport key.
CREATE TABLE election_shares (
    assembly_id TEXT NOT NULL REFERENCES elections(assembly_id) ON DELETE CASCADE,
    from_idx    INTEGER NOT NULL,
    to_idx      INTEGER NOT NULL,
    share       TEXT NOT NULL,                    -- JSON election.EncryptedShare
    PRIMARY KEY (assembly_id, from_idx, to_idx)
);

-- One encrypted ballot per member and item (a new one replaces it where the
-- board allows voting again). ct_key identifies the ciphertexts: a copy of
-- another member's ballot is refused.
CREATE TABLE encrypted_ballots (
    item_id   TEXT NOT NULL REFERENCES agenda_items(id) ON DELETE CASCADE,
    member_id TEXT NOT NULL REFERENCES users(id),
    ballot    TEXT NOT NULL,                      -- JSON election.Ballot
    tracker   TEXT NOT NULL,
    ct_key    TEXT NOT NULL,
    PRIMARY KEY (item_id, member_id)
);
CREATE UNIQUE INDEX encrypted_ballots_ct ON encrypted_ballots (item_id, ct_key);

-- Partial decryptions of an item's tally, with proofs.
CREATE TABLE election_decryptions (
    item_id     TEXT NOT NULL REFERENCES agenda_items(id) ON DELETE CASCADE,
    trustee_idx INTEGER NOT NULL,
    decryption  TEXT NOT NULL,                    -- JSON election.Decryption
    PRIMARY KEY (item_id, trustee_idx)
);

-- +goose Down
DROP TABLE election_decryptions;
DROP TABLE encrypted_ballots;
DROP TABLE election_shares;
DROP TABLE election_trustees;
DROP TABLE elections;
