# The Vernier proxy image: non-root, embedded store in /data, health-checked.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app
# the locked runtime set (pinned, hash-checked), then Vernier itself with nothing unpinned
COPY requirements/runtime.txt ./requirements/
RUN pip install --require-hashes --no-deps -r requirements/runtime.txt
COPY pyproject.toml README.md ./
COPY proxy ./proxy
COPY config ./config
COPY rules ./rules
RUN pip install --no-deps --no-build-isolation . && pip check \
    && useradd --system --uid 10001 --home /data vernier \
    && mkdir -p /data && chown vernier /data

USER vernier
ENV VERNIER_DATA_DIR=/data VERNIER_LISTEN=0.0.0.0:8080
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s --retries=3 \
  CMD python -c "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8080/__vernier/healthz', timeout=2).status == 200 else 1)"
ENTRYPOINT ["vernier"]
CMD ["serve", "--config", "/app/config/vernier.yaml"]
