# syntax=docker/dockerfile:1
# A GPU worker: `sdbot worker` on onnxruntime's CUDA provider (TensorRT also loads when its
# libraries are present). Build context is the repository root (see /.dockerignore):
#   docker build -f deploy/docker/worker-cuda.Dockerfile -t sdbot-worker-cuda .
# Needs the NVIDIA container toolkit on the host. Models are mounted at /models.
ARG NODE_IMAGE=node:20-bookworm-slim
# onnxruntime-node 1.2x/1.3x's CUDA 12 provider links against cuDNN 9 (the "cudnn" tags).
ARG CUDA_IMAGE=nvidia/cuda:12.6.3-cudnn-runtime-ubuntu24.04

FROM ${NODE_IMAGE} AS node

FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json .npmrc ./
COPY shared/package.json shared/
COPY bot/package.json bot/
COPY worker/package.json worker/
# The GPU image opts in to onnxruntime-node's download of the CUDA provider libraries (from
# NuGet). npm 10 runs its install script during `npm ci` with this variable; npm 11 honours
# package.json's allowScripts, which denies it by default, so it is run here explicitly.
ENV ONNXRUNTIME_NODE_INSTALL=cuda12
RUN npm ci --omit=dev --workspace=@sdbot/shared --workspace=@sdbot/worker --no-audit --no-fund \
    && (test -f node_modules/onnxruntime-node/bin/napi-v6/linux/x64/libonnxruntime_providers_cuda.so \
        || (cd node_modules/onnxruntime-node && node script/install.js)) \
    && test -f node_modules/onnxruntime-node/bin/napi-v6/linux/x64/libonnxruntime_providers_cuda.so \
    && rm -rf node_modules/onnxruntime-node/bin/napi-v6/darwin node_modules/onnxruntime-node/bin/napi-v6/win32 \
        node_modules/onnxruntime-node/bin/napi-v6/linux/arm64
COPY shared shared
COPY bot bot
COPY worker worker
COPY deploy/docker/healthcheck.js deploy/docker/healthcheck.js

FROM ${CUDA_IMAGE}
# Node 20 from the official image: the same build as the other images, no package repository.
COPY --from=node /usr/local/bin/node /usr/local/bin/node
COPY --from=node /usr/local/lib/node_modules/npm /usr/local/lib/node_modules/npm
RUN ln -s ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm \
    && ln -s ../lib/node_modules/npm/bin/npx-cli.js /usr/local/bin/npx \
    && groupadd --system --gid 10001 sdbot \
    && useradd --system --uid 10001 --gid sdbot --create-home --home-dir /home/sdbot --shell /usr/sbin/nologin sdbot \
    && install -d -o 10001 -g 10001 /models
WORKDIR /app
COPY --from=build /app /app
ENV NODE_ENV=production \
    SDBOT_METRICS_PORT=9464 \
    SDBOT_EXECUTION_PROVIDER=cuda
EXPOSE 9464
VOLUME ["/models"]
USER 10001:10001
HEALTHCHECK --interval=30s --timeout=5s --start-period=5m --retries=3 \
    CMD ["node", "deploy/docker/healthcheck.js", "/healthz"]
ENTRYPOINT ["node", "shared/bin/sdbot.js"]
CMD ["worker"]
