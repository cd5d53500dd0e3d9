# monitor: the EU news watch bot. Build: docker build -t monitor .

# The matcher's compiled hot path (monitor/_speedups.pyx, issue 18) needs a C compiler:
# the wheels are built in a stage that has one and installed in the slim image.
FROM python:3.11-slim AS build
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends gcc libc6-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY pyproject.toml setup.py README.md ./
COPY monitor ./monitor
# With the PostgreSQL driver: the same image runs on SQLite (default) or, with
# MONITOR_DATABASE_URL, as one of several instances on PostgreSQL (docs/deploy.md).
RUN pip wheel --no-cache-dir --wheel-dir /wheels "./[postgres]"

FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    MONITOR_STATE_DIR=/data \
    MONITOR_FEEDS=/config/feeds.yaml \
    MONITOR_KEYWORDS=/config/keywords.yaml \
    MONITOR_HTTP=0.0.0.0:9108

WORKDIR /app
RUN --mount=type=bind,from=build,source=/wheels,target=/wheels \
    pip install --no-cache-dir --no-index /wheels/*.whl \
    && useradd --system --uid 10001 --home-dir /data --shell /usr/sbin/nologin monitor \
    && mkdir -p /data /config \
    && chown monitor:monitor /data
COPY --chown=monitor:monitor feeds.yaml keywords.yaml /config/

USER 10001:10001
VOLUME ["/data"]
EXPOSE 9108
HEALTHCHECK --interval=60s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os,sys,urllib.request; a=os.environ.get('MONITOR_HTTP','127.0.0.1:9108').replace('0.0.0.0','127.0.0.1'); sys.exit(0 if urllib.request.urlopen('http://'+a+'/healthz', timeout=4).status == 200 else 1)"]
ENTRYPOINT ["monitor"]
CMD ["run"]
