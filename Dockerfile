# seqtun-node in a small image (distroless, ~25 MB), running as a non-root user.
#
#   docker build -t seqtun-node .
#   docker run -d --name seqtun-node -p 8080:8080 -e TUNNEL_AUTH_KEY=change-this seqtun-node
#
# As deployed nodes expect: the node listens on 0.0.0.0:$PORT (PORT defaults to 8080; Cloud
# Run sets it) and its key comes from TUNNEL_AUTH_KEY (no default; the node refuses to start
# without one). Every other setting is a SEQTUN_NODE_* variable (`seqtun-node --help`).
# On `docker stop` the node finishes in-flight batches within SEQTUN_NODE_SHUTDOWN_GRACE_SECS
# (20 s by default; give `docker stop -t 25` or lower the grace to fit docker's 10 s).

FROM rust:1-slim-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked -p seqtun-node \
    && cp target/release/seqtun-node /seqtun-node

FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /seqtun-node /usr/local/bin/seqtun-node
ENV PORT=8080 \
    SEQTUN_LOG_FORMAT=json
EXPOSE 8080
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/seqtun-node"]
