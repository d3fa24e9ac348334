# The harness as a container, for sharded runs on Kubernetes (npm run scale -- render k8s) or
# any other engine: the CLI is the entrypoint, e.g. `docker run IMAGE bench --endpoint … --shards 4`.
# Node 24 runs the TypeScript sources directly (type stripping): there is no build step.
FROM node:24-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY package.json package-lock.json ./
# Runtime dependencies only (the `node` devDependency is the image's own Node here).
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY src ./src
COPY stand-ins ./stand-ins
COPY infra ./infra
COPY labs ./labs
USER node
ENTRYPOINT ["node", "src/cli/main.ts"]
CMD ["--help"]
