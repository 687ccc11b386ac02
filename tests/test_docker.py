"""docker/: the compose file against the Compose Specification schema, the Dockerfile's promises.

tests/data/compose-spec.json is the Compose Specification JSON schema as shipped in the
docker-compose 1.29.2 wheel (compose/config/compose_spec.json, Apache-2.0), vendored because
no network is reachable from the tests.
"""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft201909Validator

REPO = Path(__file__).resolve().parents[1]
DOCKER = REPO / "docker"
COMPOSE = DOCKER / "docker-compose.yaml"
DOCKERFILE = DOCKER / "Dockerfile"
SCHEMA = json.loads((REPO / "tests" / "data" / "compose-spec.json").read_text())

AIRFLOW_SERVICES = {
    "airflow-api-server",
    "airflow-scheduler",
    "airflow-dag-processor",
    "airflow-triggerer",
    "airflow-worker",
    "airflow-init",
}
SECRET_NAME = re.compile(
    r"PASSWORD|SECRET|FERNET|TOKEN|_KEY\b|DATABASE_URL|SQL_ALCHEMY_CONN|BACKEND"
)


def compose() -> dict[str, Any]:
    data = yaml.safe_load(COMPOSE.read_text())  # resolves the x-airflow-common anchors and merges
    assert isinstance(data, dict)
    return data


def schema_errors(document: dict[str, Any]) -> list[str]:
    validator = Draft201909Validator(SCHEMA)
    return [
        f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
        for e in validator.iter_errors(document)
    ]


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    lines = [line.strip() for line in text.splitlines()]
    pairs = [line.split(maxsplit=1) for line in lines if line and not line.startswith("#")]
    return [(parts[0].upper(), parts[1] if len(parts) > 1 else "") for parts in pairs]


def test_compose_file_is_valid_against_the_compose_spec_schema() -> None:
    assert schema_errors(compose()) == []


def test_schema_catches_a_misspelt_service_key() -> None:
    document = compose()
    document["services"]["airflow-worker"]["helthcheck"] = document["services"][
        "airflow-worker"
    ].pop("healthcheck")
    assert any("helthcheck" in error for error in schema_errors(document))


def test_compose_runs_airflow_on_celery_with_one_postgres_redis_and_mailpit() -> None:
    services = compose()["services"]
    assert AIRFLOW_SERVICES | {"postgres", "redis", "mailpit"} <= set(services)
    assert services["mailpit"]["image"].startswith("axllent/mailpit")
    images = [s.get("image", "") for s in services.values()]
    assert sum(image.startswith("postgres:") for image in images) == 1
    for name in AIRFLOW_SERVICES:
        env = services[name]["environment"]
        assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor", name
        assert env["NEWSWATCH_DATABASE_URL"].endswith("@postgres/newswatch"), name
        assert env["NEWSWATCH_SMTP_URL"] == "${NEWSWATCH_SMTP_URL:-smtp://mailpit:1025}", name


def test_init_script_creates_the_newswatch_database() -> None:
    mounts = compose()["services"]["postgres"]["volumes"]
    (script,) = [m.split(":")[0] for m in mounts if "/docker-entrypoint-initdb.d/" in m]
    assert "CREATE DATABASE newswatch;" in (DOCKER / script).read_text()


def test_long_running_services_have_healthchecks_and_restart() -> None:
    services = compose()["services"]
    for name, service in services.items():
        if name == "airflow-init":
            continue
        assert service["healthcheck"]["test"], name
        assert service["restart"] == "always", name


def test_worker_can_be_scaled() -> None:
    worker = compose()["services"]["airflow-worker"]
    assert "container_name" not in worker and "ports" not in worker


def test_airflow_waits_for_init_and_init_for_the_databases() -> None:
    services = compose()["services"]
    for name in AIRFLOW_SERVICES - {"airflow-init"}:
        depends = services[name]["depends_on"]
        assert depends["airflow-init"] == {"condition": "service_completed_successfully"}, name
    init = services["airflow-init"]["depends_on"]
    assert init["postgres"] == {"condition": "service_healthy"}
    assert init["redis"] == {"condition": "service_healthy"}


def test_compose_takes_every_secret_from_the_environment() -> None:
    for name, service in compose()["services"].items():
        for key, value in (service.get("environment") or {}).items():
            literal = re.sub(r"\$\{[^}]*\}", "", str(value))  # what is left without ${...}
            assert not re.search(r"://[^:/@]*:[^@/]+@", literal), f"{name}: {key} has a password"
            if SECRET_NAME.search(key) and "://" not in literal:
                assert literal == "", f"{name}: {key} is a literal"


def test_env_example_names_every_required_variable_and_holds_no_secret() -> None:
    required = set(re.findall(r"\$\{([A-Z_]+):\?", COMPOSE.read_text()))
    example = (DOCKER / ".env.example").read_text()
    values = dict(
        line.split("=", 1) for line in example.splitlines() if line and not line.startswith("#")
    )
    assert required <= set(values)
    assert all(values[name] == "" for name in required if SECRET_NAME.search(name))
    assert ".env" in (DOCKER / ".gitignore").read_text().split()


def test_dockerfile_builds_on_airflow_3_3_2() -> None:
    froms = [args for instruction, args in dockerfile_instructions() if instruction == "FROM"]
    assert froms == ["apache/airflow:3.3.2-python3.11"]
    lock = (REPO / "requirements.lock").read_text().splitlines()
    assert "apache-airflow==3.3.2" in lock


def test_dockerfile_bakes_in_no_secret() -> None:
    for instruction, args in dockerfile_instructions():
        if instruction in ("ENV", "ARG", "LABEL"):
            assert not SECRET_NAME.search(args.upper()), f"{instruction} {args}"
        assert not re.search(r"://[^\s:/]+:[^\s@/]+@", args), f"{instruction} {args}"
        assert "FERNET" not in args.upper() and ".env" not in args.split(), args


def copy_sources() -> list[str]:
    sources: list[str] = []
    for instruction, args in dockerfile_instructions():
        if instruction in ("COPY", "ADD"):
            sources += [word for word in shlex.split(args) if not word.startswith("--")][:-1]
    return sources


def test_dockerfile_copy_sources_exist_in_the_build_context() -> None:
    sources = copy_sources()
    expected = {"requirements.lock", "pyproject.toml", "plugins/", "dags/", "sql/", "config/"}
    assert expected <= set(sources)
    ignored = (DOCKER / "Dockerfile.dockerignore").read_text().split()
    for source in sources:
        assert (REPO / source).exists(), source
        assert source.rstrip("/") not in ignored, source


@pytest.mark.parametrize("service", sorted(AIRFLOW_SERVICES))
def test_airflow_services_build_the_project_image(service: str) -> None:
    build = compose()["services"][service]["build"]
    assert (DOCKER / build["context"] / build["dockerfile"]).resolve() == DOCKERFILE
