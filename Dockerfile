# Pitwall's image: the server, the worker (central and agent roles) and the
# starter CLI, built from source. docker-compose.yml builds it.
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-X github.com/pitwall/pitwall/internal/config.Version=${VERSION}" -o /out/pitwall-server ./ui \
 && CGO_ENABLED=0 go build -trimpath -ldflags "-X github.com/pitwall/pitwall/internal/config.Version=${VERSION}" -o /out/pitwall-worker ./worker \
 && CGO_ENABLED=0 go build -trimpath -o /out/pitwall-supervise ./cmd/pitwall-supervise \
 && CGO_ENABLED=0 go build -trimpath -o /out/starter ./starter

FROM debian:bookworm-slim
# Execution scripts run on agents: give them a shell, coreutils and awk.
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates procps gawk \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --create-home --home-dir /var/lib/pitwall pitwall
COPY --from=build /out/ /usr/local/bin/
USER pitwall
WORKDIR /var/lib/pitwall
EXPOSE 8080
CMD ["pitwall-server"]
