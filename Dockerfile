# The service image used by docker-compose.yml (not built in CI: no Docker engine runs there).
FROM python:3.11-slim
RUN apt-get update && apt-get install -y --no-install-recommends gcc g++ && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY pyproject.toml constraints.txt ./
COPY features features
COPY recommender recommender
COPY store store
COPY api api
COPY data data
RUN pip install --no-cache-dir -c constraints.txt .
ENV HOST=0.0.0.0 PORT=8000 VAR_DIR=/var/lib/investmatch
EXPOSE 8000
# Migrate, load the KB, train if no model is registered, then serve.
CMD ["sh", "-c", "python -m api.cli setup && python -m api.cli serve"]
