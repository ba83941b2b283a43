# One image for every Sagaflow process; docker-compose picks the entry point per service.
FROM node:22-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production
COPY package.json package-lock.json ./
# Dev dependencies stay: the processes run TypeScript through tsx, and the worker bundles
# workflows at start.
RUN npm ci --include=dev --no-audit --no-fund
COPY tsconfig.json ./
COPY src ./src
COPY workflows ./workflows
COPY activities ./activities
USER node
EXPOSE 3000 9464
CMD ["npm", "run", "start:api"]
