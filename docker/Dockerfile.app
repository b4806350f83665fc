# The contact-center controller: `callcenter serve` against the Asterisk of the compose
# file. Build from the repository root:
#   docker build -f docker/Dockerfile.app -t callcenter-app .
# Two stages so the image holds the installed wheel, not the build tools or the sources.

FROM python:3.11-slim AS build
WORKDIR /src
RUN pip install --no-cache-dir --upgrade pip build
COPY pyproject.toml README.md ./
COPY callcenter ./callcenter
RUN python -m build --wheel --outdir /wheels .

FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    CALLCENTER_ENV=production \
    CALLCENTER_DATA_DIR=/var/lib/callcenter \
    CALLCENTER_HTTP_HOST=0.0.0.0
# An unprivileged user: the controller needs no root (no low ports, no raw sockets).
RUN useradd --system --home-dir /var/lib/callcenter --create-home callcenter
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/*.whl && rm -rf /wheels
# Data the server reads next to the package: IVR flows, prompts, Asterisk templates.
WORKDIR /app
COPY ivr_flows ./ivr_flows
COPY routing.yaml ./routing.yaml
COPY media ./media
COPY asterisk-conf ./asterisk-conf
ENV CALLCENTER_FLOWS_DIR=/app/ivr_flows \
    CALLCENTER_MEDIA_DIR=/app/media \
    CALLCENTER_ROUTING_FILE=/app/routing.yaml
USER callcenter
EXPOSE 8080
# The server migrates the database at start-up; `callcenter db upgrade` does it alone.
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
    CMD python -c "import urllib.request as u; u.urlopen('http://127.0.0.1:8080/api/health', timeout=4)"
CMD ["callcenter", "serve"]
