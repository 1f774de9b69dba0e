"""docker-compose.yml is a valid Compose file that runs the service with PostgreSQL 15."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import yaml

ROOT = Path(__file__).resolve().parents[1]


def _compose() -> dict:  # type: ignore[type-arg]
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))


def test_compose_file_validates_against_the_compose_spec() -> None:
    schema = json.loads((ROOT / "tests" / "data" / "compose_spec.json").read_text(encoding="utf-8"))
    jsonschema.Draft201909Validator(schema).validate(_compose())


def test_compose_runs_app_with_postgres_15_health_checks_and_volumes() -> None:
    doc = _compose()
    db, app = doc["services"]["db"], doc["services"]["app"]
    assert db["image"].startswith("postgres:15")
    assert "pg_isready" in " ".join(db["healthcheck"]["test"])
    assert app["depends_on"]["db"]["condition"] == "service_healthy"
    assert app["environment"]["DATABASE_URL"].startswith("postgresql+psycopg://")
    assert "healthz" in " ".join(app["healthcheck"]["test"])
    assert {"pgdata", "models"} <= set(doc["volumes"])
    assert any(v.startswith("pgdata:") for v in db["volumes"])
    # Migrations, KB load and training happen at start (python -m api.cli setup).
    assert "api.cli setup" in (ROOT / "Dockerfile").read_text(encoding="utf-8")
    # No secret in the file: the password comes from the environment.
    assert "${POSTGRES_PASSWORD" in db["environment"]["POSTGRES_PASSWORD"]
