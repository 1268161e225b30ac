# Slim image of the service on the embedded default (SQLite + multilingual USE, no torch).
# Build: docker build -t ticker-dedup .   Run: docker run -p 8000:8000 -v ticker-data:/data ticker-dedup
FROM python:3.11-slim AS build
WORKDIR /src
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/venv
COPY pyproject.toml README.md ./
COPY app ./app
COPY embeddings ./embeddings
RUN /opt/venv/bin/pip install .

FROM python:3.11-slim
RUN groupadd --system ticker && useradd --system --gid ticker --home-dir /data --shell /usr/sbin/nologin ticker \
    && mkdir -p /data && chown ticker:ticker /data
COPY --from=build /opt/venv /opt/venv
COPY sample_data /opt/ticker/sample_data
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    TICKER_DATA_DIR=/data \
    TICKER_SAMPLE_DIR=/opt/ticker/sample_data
USER ticker
WORKDIR /data
VOLUME ["/data"]
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=3s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/readyz', timeout=2).status == 200 else 1)"]
# python -m app: uvicorn with the TICKER_ connection settings (X-Forwarded-For only from TICKER_TRUSTED_PROXIES)
CMD ["python", "-m", "app", "--host", "0.0.0.0", "--port", "8000"]
