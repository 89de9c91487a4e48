# syntax=docker/dockerfile:1
# mcptrail-sidecar: the MCP reverse proxy (args: --config /etc/mcptrail/config/sidecar.json).
# Build from the repository root:
#   docker build -f docker/sidecar.Dockerfile -t mcptrail/sidecar:0.1.0 .
# Multi-stage: compiled on debian:12-slim with Debian's -dev packages (DESIGN.md
# "Dependencies"; no vendored or downloaded binaries), run on debian:12-slim with only
# the shared libraries, as the non-root user 10001 (the chart's runAsUser), read-only
# root filesystem friendly (nothing is written outside mounted volumes).
# /opt/mcptrail is the same sidecar as a bundle (its libraries and loader, schemas;
# docker/bundle.sh) that the injector's stdio mode copies into a stdio MCP server's own
# container (docs/kubernetes.md "stdio servers").
FROM debian:12-slim AS build
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      build-essential cmake ninja-build pkg-config \
      librdkafka-dev libavro-dev libjansson-dev libssl-dev libevent-dev \
      libvectorscan-dev libpcre2-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN cmake -S . -B /build -G Ninja -DCMAKE_BUILD_TYPE=Release -DMT_TESTS=OFF -DMT_SANITIZE=OFF \
 && cmake --build /build --target mcptrail-sidecar \
 && install -D -m 0755 "$(find /build -type f -name mcptrail-sidecar -perm -u+x | head -n 1)" /out/usr/bin/mcptrail-sidecar \
 && mkdir -p /out/usr/share/mcptrail \
 && cp -r schemas /out/usr/share/mcptrail/schemas \
 && sh docker/bundle.sh /out/usr/bin/mcptrail-sidecar /out/opt/mcptrail schemas

FROM debian:12-slim
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      ca-certificates librdkafka1 libavro23 libjansson4 libssl3 \
      libevent-2.1-7 libevent-openssl-2.1-7 libevent-pthreads-2.1-7 \
      libvectorscan5 libpcre2-8-0 \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 mcptrail \
 && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin mcptrail
COPY --from=build /out/ /
ENV MCPTRAIL_SCHEMA_DIR=/usr/share/mcptrail/schemas
USER 10001:10001
ENTRYPOINT ["/usr/bin/mcptrail-sidecar"]
