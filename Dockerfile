# The service as one executable on a distroless base. The build stage runs the same
# `bun run build` that CI tests; the image holds only the binary and an empty data directory.
#   docker build -t todo-api .
#   docker run -p 8000:8000 -e BETTER_AUTH_SECRET=... -v todo-data:/data todo-api
# Nothing is read from a .env file inside the container: configure it with -e / --env-file.

FROM oven/bun:1.4.5 AS build
WORKDIR /src
COPY package.json bun.lock bunfig.toml ./
RUN bun install --frozen-lockfile
COPY . .
RUN bun run build && mkdir /data

# glibc and CA certificates, no shell, no package manager; the binary links only against glibc.
FROM gcr.io/distroless/base-debian12:nonroot
COPY --from=build /src/dist/todo-api /usr/local/bin/todo-api
# A named volume starts as a copy of this directory, so it belongs to the non-root user too.
COPY --from=build --chown=65532:65532 /data /data
ENV NODE_ENV=production HOST=0.0.0.0 PORT=8000 DATA_DIR=/data
USER 65532:65532
EXPOSE 8000
# The embedded database (used when DATABASE_URL is unset).
VOLUME ["/data"]
# First start on an empty volume runs initdb (a few seconds); later starts take well under one.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 CMD ["/usr/local/bin/todo-api", "healthcheck"]
ENTRYPOINT ["/usr/local/bin/todo-api"]
CMD ["serve"]
