-- +goose Up
-- The autocert.Cache of the ACME client: account key, certificates with their
-- private keys, and in-flight HTTP-01/TLS-ALPN-01 challenge answers, so that
-- every instance on this store serves the same certificate and can answer a
-- challenge that another instance started. Values are opaque blobs sealed
-- with the key-encryption key before they reach this table (see
-- internal/transport.SealedCache); the store never sees a private key in
-- clear.
CREATE TABLE acme_cache (
    name       text COLLATE "C" CONSTRAINT acme_cache_pkey PRIMARY KEY
               CONSTRAINT acme_cache_name_check CHECK (char_length(name) BETWEEN 1 AND 255),
    data       bytea NOT NULL,
    updated_at timestamptz NOT NULL
);

-- +goose Down
DROP TABLE acme_cache;
