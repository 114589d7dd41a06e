# hookd: a static, CGO-free binary on an empty image, running as non-root,
# with its SQLite file on the /data volume.
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/hookd . \
 && mkdir -p /out/data

FROM scratch
# CA roots for TLS to Supabase Postgres and Google Vision.
COPY --from=build /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY --from=build /out/hookd /hookd
COPY --from=build --chown=65532:65532 /out/data /data
USER 65532:65532
ENV DATA_DIR=/data PORT=3001
VOLUME /data
EXPOSE 3001
ENTRYPOINT ["/hookd"]
