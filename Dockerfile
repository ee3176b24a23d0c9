# The service as one executable on a distroless base. The build stage runs the same
# `bun run build` that CI tests; the image holds only the binary and an empty data directory.
#   docker build -t todo-api .
#   docker run -p 8000:8000 -e BETTER_AUTH_SECRET=... -v todo-data:/data todo-api
# Nothing is read from a .env file inside the container: configure it with -e / --env-file.
# CI builds and runs this very file on every run (.ci/container/run; README, "Container").

FROM oven/bun:1.4.5 AS build
WORKDIR /src
COPY package.json bun.lock bunfig.toml ./
# The build needs no devDependency (issue 20 found the binary the same byte for byte without them,
# and this stage 500 MB smaller).
RUN bun install --frozen-lockfile --production
COPY . .
# /data gets a migrated embedded database: PGlite's initdb holds ~1 GB for seconds and takes 3-9 s,
# so a container given a new named volume (a copy of this directory) starts at once and in 256 MB.
RUN bun run build && DATA_DIR=/data LOG_LEVEL=warn ./dist/todo-api migrate

# glibc and CA certificates, no shell, no package manager; the binary links only against glibc.
FROM gcr.io/distroless/base-debian12:nonroot
COPY --from=build /src/dist/todo-api /usr/local/bin/todo-api
# A named volume starts as a copy of this directory, so it belongs to the non-root user too. No
# VOLUME line: it made an anonymous volume on every run, also on PostgreSQL where /data is unused;
# mount one for the embedded database (-v todo-data:/data).
COPY --from=build --chown=65532:65532 /data /data
ENV NODE_ENV=production HOST=0.0.0.0 PORT=8000 DATA_DIR=/data
USER 65532:65532
EXPOSE 8000
# Liveness (GET /health): a database outage must not get the container restarted. A first start on
# an empty volume makes the database (a few seconds); later starts take well under one.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 CMD ["/usr/local/bin/todo-api", "healthcheck"]
ENTRYPOINT ["/usr/local/bin/todo-api"]
CMD ["serve"]
