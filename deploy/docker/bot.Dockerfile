# syntax=docker/dockerfile:1
# The Discord bot: `sdbot bot`. Build context is the repository root (see /.dockerignore):
#   docker build -f deploy/docker/bot.Dockerfile -t sdbot-bot .
ARG NODE_IMAGE=node:20-bookworm-slim

FROM ${NODE_IMAGE} AS build
WORKDIR /app
# Manifests first, so the dependency layer is rebuilt only when they change.
COPY package.json package-lock.json .npmrc ./
COPY shared/package.json shared/
COPY bot/package.json bot/
COPY worker/package.json worker/
# Production dependencies of shared and bot only: no onnxruntime. tsx is a runtime dependency of
# shared (the sources run as TypeScript), so --omit=dev keeps it.
RUN npm ci --omit=dev --workspace=@sdbot/shared --workspace=@sdbot/bot --no-audit --no-fund
# Every workspace's sources: `sdbot` discovers commands through all of them (worker commands
# are listed but need the worker image to run).
COPY shared shared
COPY bot bot
COPY worker worker
COPY deploy/docker/healthcheck.js deploy/docker/healthcheck.js

FROM ${NODE_IMAGE}
RUN groupadd --system --gid 10001 sdbot \
    && useradd --system --uid 10001 --gid sdbot --create-home --home-dir /home/sdbot --shell /usr/sbin/nologin sdbot
WORKDIR /app
COPY --from=build /app /app
ENV NODE_ENV=production \
    SDBOT_METRICS_PORT=9464
EXPOSE 9464
USER 10001:10001
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["node", "deploy/docker/healthcheck.js", "/healthz"]
# The program `npx sdbot` runs, started directly so SIGTERM reaches it without npm in between.
ENTRYPOINT ["node", "shared/bin/sdbot.js"]
CMD ["bot"]
