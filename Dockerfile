# One image for every PeerBridge service; the command names the service (intake, pairing, referral, billing, notify,
# console) or a `peerbridge` CLI verb (migrate, dead-letters, ...). See docs/operations.md.
# Build: docker build -t peerbridge:0.1.0 .    Run: docker run peerbridge:0.1.0 pairing

# Stage 1: build the virtual environment (pip, setuptools and wheel stay in this stage).
FROM python:3.12-slim-bookworm AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
# The source lives at /app in both stages: the services find their event schemas and demo files beside the package.
WORKDIR /app
RUN python -m venv /opt/peerbridge
COPY pyproject.toml README.md ./
COPY services ./services
COPY schemas ./schemas
COPY deploy/demo ./deploy/demo
# Editable, so the package runs from /app; setuptools is needed to install it, not to import it.
RUN /opt/peerbridge/bin/pip install --no-compile -e . \
 && /opt/peerbridge/bin/pip uninstall --yes pip setuptools wheel \
 && /opt/peerbridge/bin/python -m compileall -q /opt/peerbridge/lib /app/services

# Stage 2: the runtime: the interpreter, the venv and the entrypoint; no compiler, no pip, no package manager run.
FROM python:3.12-slim-bookworm AS runtime
LABEL org.opencontainers.image.title="peerbridge" \
      org.opencontainers.image.description="PeerBridge services; the command names the service"
# A fixed uid so Kubernetes' runAsNonRoot can check it without reading /etc/passwd.
# The base image's own pip goes too: nothing is installed at run time.
RUN python -m pip uninstall --yes --quiet pip setuptools wheel \
 && groupadd --system --gid 10001 peerbridge \
 && useradd --system --uid 10001 --gid 10001 --home-dir /home/peerbridge --create-home peerbridge
COPY --from=build /opt/peerbridge /opt/peerbridge
COPY --from=build /app /app
COPY deploy/docker/entrypoint.sh /usr/local/bin/peerbridge-entrypoint
ENV PATH=/opt/peerbridge/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PEERBRIDGE_HOST=0.0.0.0
WORKDIR /app
USER 10001:10001
# HTTP ports of intake, pairing, referral, billing, console, notify; intake's MLLP listener.
EXPOSE 8001 8002 8003 8004 8005 8006 2575
ENTRYPOINT ["/usr/local/bin/peerbridge-entrypoint"]
CMD ["help"]
