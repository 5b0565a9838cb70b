# syntax=docker/dockerfile:1
# tunnelkeeper: one image, two commands (`controller`, `gateway`). The image holds one file of
# JavaScript, the CLI bundled with its dependencies (scripts/bundle.ts), and no node_modules:
# Node.js loading one file instead of ~1,300 halves an idle gateway's memory
# (docs/benchmarks.md, "Lean processes").

ARG NODE_IMAGE=node:24-bookworm-slim

FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
# Behind a TLS-intercepting proxy, pass its CA bundle as a build secret (never a layer):
#   --secret id=npm-ca,src=/etc/ssl/certs/ca-certificates.crt
# Install scripts stay off: esbuild finds its platform binary without its own.
RUN --mount=type=secret,id=npm-ca \
    if [ -s /run/secrets/npm-ca ]; then export NODE_EXTRA_CA_CERTS=/run/secrets/npm-ca; fi \
 && npm ci --ignore-scripts --no-audit --no-fund
COPY scripts/bundle.ts ./scripts/
COPY src ./src
RUN node scripts/bundle.ts --out /app/dist/tunnelkeeper.mjs

FROM ${NODE_IMAGE}
ENV NODE_ENV=production
# V8's heap from the container's memory limit (Node reads the cgroup's): old space 60 % of it, so
# a pod's heap grows and shrinks with its limit and leaves room for sockets and code (V8's own
# choice is half the limit, at least 256 MiB: 259 MiB under the controller's 384 MiB), and 8 MiB
# semi-spaces (V8 picks 1 MiB under 512 MiB, which nearly doubled the controller's CPU in a burst of
# 1,000 PortForwards; 16 MiB costs RSS for no gain). docs/benchmarks.md, "Lean processes".
# Setting NODE_OPTIONS replaces both.
ENV NODE_OPTIONS="--max-old-space-size-percentage=60 --max-semi-space-size=8"
WORKDIR /app
COPY --from=build /app/dist/tunnelkeeper.mjs ./
# 65532 is the conventional non-root uid of distroless images; the Helm chart's
# securityContext runs as the same uid. Nothing in /app is writable by it.
USER 65532:65532
ENTRYPOINT ["node", "/app/tunnelkeeper.mjs"]
