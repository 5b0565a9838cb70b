# syntax=docker/dockerfile:1
# tunnelkeeper: one image, two commands (`controller`, `gateway`). Node.js 24 runs the
# TypeScript sources directly (type stripping), so there is no build step: the image holds
# src/, package.json and the production node_modules only.

ARG NODE_IMAGE=node:24-bookworm-slim

FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
# Behind a TLS-intercepting proxy, pass its CA bundle as a build secret (never a layer):
#   --secret id=npm-ca,src=/etc/ssl/certs/ca-certificates.crt
RUN --mount=type=secret,id=npm-ca \
    if [ -s /run/secrets/npm-ca ]; then export NODE_EXTRA_CA_CERTS=/run/secrets/npm-ca; fi \
 && npm ci --omit=dev --ignore-scripts --no-audit --no-fund \
 && npm cache clean --force

FROM ${NODE_IMAGE}
ENV NODE_ENV=production
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY package.json ./
COPY src ./src
# 65532 is the conventional non-root uid of distroless images; the Helm chart's
# securityContext runs as the same uid. Nothing in /app is writable by it.
USER 65532:65532
ENTRYPOINT ["node", "/app/src/main.ts"]
