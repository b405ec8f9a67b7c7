# The ShopNow Discovery API image, used by compose.yaml for both the one-shot `init` service
# (synth, index, train into /app/var) and the long-running `api` service (`shopnow serve`).
FROM python:3.11-slim

# libgomp1: the OpenMP runtime LightGBM's wheel links against (not in the slim image).
# gcc + libc6-dev: `shopnow train` compiles the ranker into a shared library with tl2cgen;
# without a compiler it still works but serves through LightGBM's slower predictor.
RUN apt-get update \
    && apt-get install -y --no-install-recommends libgomp1 gcc libc6-dev \
    && rm -rf /var/lib/apt/lists/*

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app

# Dependencies first, pinned by the lock, so this layer is reused while the lock is unchanged.
COPY requirements.lock ./
RUN pip install -r requirements.lock

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

ENV SHOPNOW_DATA_DIR=/app/var/data \
    SHOPNOW_INDEX_DIR=/app/var/index \
    SHOPNOW_MODEL_DIR=/app/var/models

EXPOSE 8000

CMD ["shopnow", "serve", "--host", "0.0.0.0", "--port", "8000", "--quiet"]
