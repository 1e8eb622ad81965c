# Parley: one instance per container. Build: docker build -t parley .
# Run several behind a balancer with docker-compose.yml.

# ---- build: full dependencies, compile the server and bundle the browser app
FROM node:20-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY . .
RUN npm run build \
 && npm prune --omit=dev --no-audit --no-fund

# ---- run: production dependencies and the build output only
FROM node:20-slim
ENV NODE_ENV=production \
    PORT=3000
WORKDIR /app
# Owned by root and only readable by the app's user: the process cannot
# rewrite its own code.
COPY --from=build /app/package.json ./package.json
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
# The image's unprivileged user (uid 1000).
USER node
EXPOSE 3000
# SIGTERM drains: /readyz turns 503, clients are moved away, exit 0. node is
# PID 1 and handles it itself (npm would not forward it).
STOPSIGNAL SIGTERM
# node:20-slim has no curl: ask /readyz with node's own fetch.
HEALTHCHECK --interval=5s --timeout=3s --start-period=10s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||3000)+'/readyz').then(r=>process.exit(r.status===200?0:1),()=>process.exit(1))"]
CMD ["node", "dist/server/main.js"]
