# Latchkey: an OAuth 2.0 / OpenID Connect server. Build: docker build -t latchkey .
# Run with PostgreSQL: see docker-compose.yml and README.md ("Deployment").

# 1. Build: all dependencies, TypeScript compiled to dist/.
FROM node:24-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

# 2. Run: production dependencies, the compiled code, migrations and page templates.
FROM node:24-slim
ENV NODE_ENV=production \
    MALLOC_ARENA_MAX=2 \
    HOST=0.0.0.0 \
    PORT=5000 \
    DATA_DIR=/app/data
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist ./dist
COPY db ./db
COPY views ./views
# The code belongs to root (read-only for the server); only the embedded database's
# directory (used when DATABASE_URL is unset) is writable by the server's user.
RUN mkdir -p /app/data && chown node:node /app/data
USER node
EXPOSE 5000
# Liveness without curl (not in slim images): node's own fetch.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 5000) + '/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# Exec form: node is PID 1 and receives SIGTERM itself, so shutdown finishes requests in flight.
CMD ["node", "--max-semi-space-size=16", "--max-old-space-size=256", "dist/main.js"]
