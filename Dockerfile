# The registry as a container image: `tmr serve` as a non-root user.
# Build: docker build -t tmr .   Run (embedded SQLite + files in a volume):
#   docker run -p 8000:8000 -v tmr-data:/var/lib/tmr tmr
# Scale-out (PostgreSQL + S3, two replicas behind nginx): deploy/compose/compose.yaml.

# --- build stage: a virtual environment with the package and its dependencies -------------
FROM python:3.11-slim-bookworm AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
RUN python -m venv /opt/tmr
WORKDIR /src
COPY pyproject.toml README.md ./
COPY src ./src
RUN /opt/tmr/bin/pip install --no-cache-dir .

# --- runtime stage: the virtual environment only, no compilers, no sources ------------------
FROM python:3.11-slim-bookworm AS runtime
RUN groupadd --system --gid 10001 tmr \
    && useradd --system --uid 10001 --gid tmr --home-dir /var/lib/tmr --create-home tmr
COPY --from=build /opt/tmr /opt/tmr
ENV PATH=/opt/tmr/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    TMR_DATA_DIR=/var/lib/tmr
USER 10001:10001
WORKDIR /var/lib/tmr
VOLUME ["/var/lib/tmr"]
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/health', timeout=2)"]
CMD ["tmr", "serve", "--host", "0.0.0.0", "--port", "8000"]
