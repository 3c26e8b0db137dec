# syntax=docker/dockerfile:1
# A CPU worker: `sdbot worker` on onnxruntime's bundled CPU provider. Build context is the
# repository root (see /.dockerignore):
#   docker build -f deploy/docker/worker.Dockerfile -t sdbot-worker .
# Models are not baked in: mount a volume at /models and set SDBOT_MODELS=/models/<name>.
ARG NODE_IMAGE=node:20-bookworm-slim

FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json .npmrc ./
COPY shared/package.json shared/
COPY bot/package.json bot/
COPY worker/package.json worker/
# The CPU provider ships in the npm package: nothing is downloaded. package.json's allowScripts
# denies onnxruntime-node's install script on npm 11; the image's npm 10 ignores that field, so
# the variable skips the CUDA download here. Other platforms' binaries (about 220 MB) are dropped.
RUN ONNXRUNTIME_NODE_INSTALL=skip npm ci --omit=dev --workspace=@sdbot/shared --workspace=@sdbot/worker --no-audit --no-fund \
    && rm -rf node_modules/onnxruntime-node/bin/napi-v6/darwin node_modules/onnxruntime-node/bin/napi-v6/win32
COPY shared shared
COPY bot bot
COPY worker worker
COPY deploy/docker/healthcheck.js deploy/docker/healthcheck.js

FROM ${NODE_IMAGE}
RUN groupadd --system --gid 10001 sdbot \
    && useradd --system --uid 10001 --gid sdbot --create-home --home-dir /home/sdbot --shell /usr/sbin/nologin sdbot \
    && install -d -o 10001 -g 10001 /models
WORKDIR /app
COPY --from=build /app /app
ENV NODE_ENV=production \
    SDBOT_METRICS_PORT=9464 \
    SDBOT_EXECUTION_PROVIDER=cpu
EXPOSE 9464
# Owned by the worker's user, so `sdbot models download --dir /models/<name>` can fill a new volume.
VOLUME ["/models"]
USER 10001:10001
# Loading a model takes a while; /healthz answers once the worker runs.
HEALTHCHECK --interval=30s --timeout=5s --start-period=5m --retries=3 \
    CMD ["node", "deploy/docker/healthcheck.js", "/healthz"]
ENTRYPOINT ["node", "shared/bin/sdbot.js"]
CMD ["worker"]
