# Mailport: one image for every role (MAILPORT_ROLE=all|api|worker). See docs/deployment.md.
#   docker build -t mailport .
#   docker run -p 3000:3000 -v mailport-data:/data -e MAILPORT_SECRET_KEY=... -e MAILPORT_ADMIN_TOKEN=... mailport

# ---- build: compile the server (dist/) and the settings page (dist/web) ----
FROM node:20-bookworm-slim AS build
WORKDIR /app
# better-sqlite3 downloads a prebuilt binary; the tools build it from source where none exists
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
RUN npm ci
COPY . .
RUN npm run build && npm prune --omit=dev

# ---- run ----
FROM node:20-bookworm-slim
ENV NODE_ENV=production \
    MAILPORT_HOST=0.0.0.0 \
    MAILPORT_PORT=3000 \
    MAILPORT_DATA_DIR=/data
WORKDIR /app
COPY --from=build /app/package.json ./package.json
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
# the data folder: the SQLite database and, when MAILPORT_SECRET_KEY is unset, the generated key
RUN mkdir -p /data && chown node:node /data
USER node
VOLUME ["/data"]
EXPOSE 3000
# /healthz answers on every role (worker nodes serve /healthz, /readyz and /metrics)
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.MAILPORT_PORT||3000)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
# SIGTERM (docker stop) shuts down gracefully: give it up to 30 s (docker stop -t 30, compose stop_grace_period)
ENTRYPOINT ["node", "dist/cli/main.js"]
CMD ["serve"]
