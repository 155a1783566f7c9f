-- +goose Up
-- The autocert.Cache of the ACME client: account key, certificates with their
-- private keys, and in-flight HTTP-01/TLS-ALPN-01 challenge answers, so that
-- every instance on this store serves the same certificate and can answer a
-- challenge that another instance started. Values are opaque blobs sealed
-- with the key-encryption key before they reach this table (see
-- internal/transport.SealedCache); the store never sees a private key in
-- clear.
CREATE TABLE acme_cache (
    name       TEXT PRIMARY KEY CHECK (length(name) BETWEEN 1 AND 255),
    data       BLOB NOT NULL,
    updated_at INTEGER NOT NULL
) STRICT;

-- +goose Down
DROP TABLE acme_cache;
