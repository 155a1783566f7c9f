# syntax=docker/dockerfile:1
#
# Container image of gatehouse: the static, CGO-free binary on a distroless
# base, run as a non-root user, made for a read-only root file system.
# Built elsewhere (the project's machines have no container engine):
#
#   docker build --build-arg VERSION=$(git describe --tags --always) \
#     --build-arg COMMIT=$(git rev-parse HEAD) -t gatehouse .
#
# Run it (docs/OPERATIONS.md, "Containers"): the data directory is a volume,
# the key-encryption key a secret file, and the root file system read-only:
#
#   docker run -d --name gatehouse --read-only --cap-drop ALL \
#     --security-opt no-new-privileges -p 8443:8443 \
#     -v gatehouse-data:/var/lib/gatehouse \
#     -v /etc/gatehouse/kek:/run/secrets/kek:ro \
#     -v /etc/gatehouse/tls:/etc/gatehouse/tls:ro \
#     -e GATEHOUSE_TLS_CERT=/etc/gatehouse/tls/fullchain.pem \
#     -e GATEHOUSE_TLS_KEY=/etc/gatehouse/tls/privkey.pem \
#     gatehouse
#
# NIST SP 800-190 (application container security) guides the choices: a
# minimal image with no shell or package manager (§4.1.1, fewer
# vulnerabilities to carry), no secrets baked into layers (§4.1.4: the KEK
# comes from a mounted file at run time), a non-root user and a read-only
# root file system (§4.4.3, §4.5), and a pinned, reproducible build.

# Pin by digest in production (docker buildx imagetools inspect golang:1.27.3-bookworm).
FROM golang:1.27.3-bookworm AS build
WORKDIR /src
# Modules first, so the download is cached apart from the sources.
COPY go.mod go.sum ./
RUN go mod download && go mod verify
COPY . .
ARG VERSION=dev
ARG COMMIT=unknown
# The same flags as scripts/release: static, reproducible.
RUN CGO_ENABLED=0 GOFLAGS="-buildvcs=false -trimpath -mod=readonly" \
    go build -ldflags="-s -w -buildid= -X main.version=${VERSION} -X main.commit=${COMMIT}" \
      -o /out/gatehouse ./cmd/gatehouse \
 && mkdir -p /out/data

# distroless/static: CA certificates (for ACME and outbound TLS), tzdata,
# /etc/passwd with the "nonroot" user (65532), and nothing else. Pin by
# digest in production.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/gatehouse /usr/local/bin/gatehouse
# The data directory, owned by the runtime user; mount a volume here.
COPY --from=build --chown=65532:65532 /out/data /var/lib/gatehouse
USER 65532:65532
WORKDIR /var/lib/gatehouse
# Inside a container the server must listen beyond loopback to be
# reachable, so serve's posture checks apply: it refuses to start until
# TLS (GATEHOUSE_TLS_CERT/KEY or GATEHOUSE_ACME_DOMAIN) or
# GATEHOUSE_BEHIND_PROXY with GATEHOUSE_TRUSTED_PROXIES and
# GATEHOUSE_ISSUER is configured. Port 8443 needs no capability.
ENV GATEHOUSE_ADDR=:8443 \
    GATEHOUSE_DATA_DIR=/var/lib/gatehouse \
    GATEHOUSE_SECRET_KEY_FILE=/run/secrets/kek
VOLUME ["/var/lib/gatehouse"]
EXPOSE 8443
ENTRYPOINT ["/usr/local/bin/gatehouse"]
CMD ["serve"]
