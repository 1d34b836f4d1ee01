# One image for every agent of docker-compose.yml (and for `docker run`):
#   docker build -t gossip-agent:local .
#   docker run --rm -p 4646:4646 gossip-agent:local agent -dev -bind 0.0.0.0
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /src
COPY pyproject.toml README.md ./
COPY agent ./agent
COPY gocompat ./gocompat
COPY gossip ./gossip
COPY raft_stub ./raft_stub
RUN pip install . \
    && rm -rf /src \
    && useradd --system --uid 4646 --home-dir /data --no-create-home gossip \
    && mkdir /data \
    && chown gossip:gossip /data

# docker-compose.yml mounts a named volume per server on /data; a new named volume starts
# as a copy of this directory, so it is owned by `gossip` too.
WORKDIR /data
USER gossip
# HTTP, RPC, serf (UDP and TCP).
EXPOSE 4646/tcp 4647/tcp 4648/tcp 4648/udp
ENTRYPOINT ["gossip-agent"]
CMD ["agent", "-dev", "-bind", "0.0.0.0"]
