"""docker/: the compose file against the Compose Specification schema, the Dockerfile's promises,
and docker/.env.example against the Settings it documents.

tests/data/compose-spec.json is the Compose Specification JSON schema as shipped in the
docker-compose 1.29.2 wheel (compose/config/compose_spec.json, Apache-2.0), vendored because
no network is reachable from the tests. No Docker engine runs here: commands the stack runs are
checked against the real CLIs' parsers (Airflow's and newswatch's) instead.
"""

from __future__ import annotations

import argparse
import json
import re
import shlex
import tomllib
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import typer.main
import yaml
from jsonschema import Draft201909Validator
from pydantic import TypeAdapter
from pydantic_core import PydanticUndefined

from newswatch.cli.main import app as newswatch_app
from newswatch.dashboard.auth import RESOURCE
from newswatch.settings import Settings

REPO = Path(__file__).resolve().parents[1]
DOCKER = REPO / "docker"
COMPOSE = DOCKER / "docker-compose.yaml"
DOCKERFILE = DOCKER / "Dockerfile"
ENV_EXAMPLE = DOCKER / ".env.example"
SCHEMA = json.loads((REPO / "tests" / "data" / "compose-spec.json").read_text())

AIRFLOW_SERVICES = {
    "airflow-api-server",
    "airflow-scheduler",
    "airflow-dag-processor",
    "airflow-triggerer",
    "airflow-worker",
    "airflow-init",
}
# Airflow's own health check for each job-running service (`airflow jobs check --job-type`).
JOB_TYPES = {
    "airflow-scheduler": "SchedulerJob",
    "airflow-dag-processor": "DagProcessorJob",
    "airflow-triggerer": "TriggererJob",
}
SECRET_NAME = re.compile(
    r"PASSWORD|SECRET|FERNET|TOKEN|_KEY\b|DATABASE_URL|SQL_ALCHEMY_CONN|BACKEND"
)
# `# NEWSWATCH_NAME=value` (commented: the default) or `NEWSWATCH_NAME=value` (set by the example).
SETTING_LINE = re.compile(r"^(?P<comment>#\s*)?NEWSWATCH_(?P<name>[A-Z0-9_]+)=(?P<value>.*)$")
RANGE = re.compile(r"\[(?P<gt>>)?(?P<low>[\d.]+)–(?P<high>[\d.]+)\]$")
# Settings whose value in the stack is not Settings' default: set by the image or by compose.
SET_BY_THE_STACK = {"config_dir", "var_dir", "database_url"}


def compose() -> dict[str, Any]:
    data = yaml.safe_load(COMPOSE.read_text())  # resolves the x-airflow-common anchors and merges
    assert isinstance(data, dict)
    return data


def resolve(value: str, env: dict[str, str] | None = None) -> str:
    """Compose's ${NAME:-default} and ${NAME} with nothing set but `env`; $$ is a literal $."""
    env = env or {}

    def one(match: re.Match[str]) -> str:
        name, _, default = match.group(1).partition(":-")
        return env.get(name, default)

    return re.sub(r"(?<!\$)\$\{([^}?]*)\}", one, value).replace("$$", "$")


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


def dockerfile_env() -> dict[str, str]:
    env: dict[str, str] = {}
    for instruction, args in dockerfile_instructions():
        if instruction == "ENV":
            env.update(word.partition("=")[::2] for word in shlex.split(args))
    return env


def env_example_settings() -> dict[str, tuple[bool, str, str]]:
    """Setting name → (commented out, value, the comment line just above it)."""
    found: dict[str, tuple[bool, str, str]] = {}
    lines = ENV_EXAMPLE.read_text().splitlines()
    for number, line in enumerate(lines):
        match = SETTING_LINE.match(line)
        if match is None:
            continue
        name = match["name"].lower()
        assert name not in found, f"NEWSWATCH_{match['name']} is listed twice"
        above = lines[number - 1] if number else ""
        found[name] = (bool(match["comment"]), match["value"].strip().strip('"'), above)
    return found


@cache
def airflow_parser() -> argparse.ArgumentParser:
    from airflow.cli.cli_parser import get_parser

    return get_parser()


def parses_as_airflow(command: str) -> argparse.Namespace:
    """The Namespace Airflow 3.3.2's own CLI makes of `airflow …` (it exits on a bad one)."""
    words = shlex.split(command)
    assert words[0] == "airflow", command
    try:
        return airflow_parser().parse_args(words[1:])
    except SystemExit:
        pytest.fail(f"Airflow's CLI refuses {command!r} (its message is above)")


def init_steps() -> list[str]:
    """The commands airflow-init's script runs, one per line, continuations joined."""
    init = compose()["services"]["airflow-init"]
    bash, *options, script = init["command"]
    assert bash == "bash" and options == ["-euo", "pipefail", "-c"]  # stops at the first failure
    env = {key: resolve(str(value)) for key, value in init["environment"].items()}
    script = resolve(resolve(re.sub(r"\\\n\s*", " ", script)), env)  # compose, then bash
    return [line.strip() for line in script.splitlines() if line.strip()]


def test_compose_file_is_valid_against_the_compose_spec_schema() -> None:
    assert schema_errors(compose()) == []


def test_schema_catches_a_misspelt_service_key() -> None:
    document = compose()
    document["services"]["airflow-worker"]["helthcheck"] = document["services"][
        "airflow-worker"
    ].pop("healthcheck")
    assert any("helthcheck" in error for error in schema_errors(document))


def test_compose_runs_airflow_on_celery_with_one_postgres_and_redis() -> None:
    services = compose()["services"]
    assert AIRFLOW_SERVICES | {"postgres", "redis", "mailpit"} <= set(services)
    images = [s.get("image", "") for s in services.values()]
    assert sum(image.startswith("postgres:") for image in images) == 1
    for name in AIRFLOW_SERVICES:
        env = services[name]["environment"]
        assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor", name
        assert env["NEWSWATCH_DATABASE_URL"].endswith("@postgres/newswatch"), name


@pytest.mark.parametrize("service", sorted(AIRFLOW_SERVICES | {"flower"}))
def test_airflow_services_take_their_settings_from_the_env_file(service: str) -> None:
    definition = compose()["services"][service]
    assert definition["env_file"] in (".env", [".env"])
    # `environment` wins over env_file: it may set only what the stack itself decides, the
    # database and the folders its volumes are mounted at (the image's, see below).
    overridden = {
        key: value
        for key, value in definition["environment"].items()
        if key.startswith("NEWSWATCH_")
    }
    assert set(overridden) == {
        "NEWSWATCH_DATABASE_URL",
        "NEWSWATCH_CONFIG_DIR",
        "NEWSWATCH_VAR_DIR",
    }
    image = dockerfile_env()
    for key in ("NEWSWATCH_CONFIG_DIR", "NEWSWATCH_VAR_DIR"):
        assert overridden[key] == image[key], key


def test_env_example_lists_every_setting_once_with_a_meaning() -> None:
    listed = env_example_settings()
    assert set(listed) == set(Settings.model_fields), "docker/.env.example and Settings differ"
    for name, (_, _, above) in listed.items():
        assert above.startswith("# ") and not SETTING_LINE.match(above), name
        assert len(above) > len("# ") + 10, f"NEWSWATCH_{name.upper()} needs a meaning"


def test_env_example_shows_each_default_and_range_as_settings_has_them() -> None:
    for name, (commented, value, above) in env_example_settings().items():
        field = Settings.model_fields[name]
        bounds = {
            key: getattr(m, key)
            for m in field.metadata
            for key in ("gt", "ge", "le")
            if hasattr(m, key)
        }
        shown_range = RANGE.search(above)
        if bounds:
            assert shown_range, f"NEWSWATCH_{name.upper()}: no [low–high] in {above!r}"
            assert bool(shown_range["gt"]) == ("gt" in bounds), name
            assert float(shown_range["low"]) == bounds.get("gt", bounds.get("ge")), name
            assert float(shown_range["high"]) == bounds["le"], name
        else:
            assert shown_range is None, name
        if not commented or name in SET_BY_THE_STACK:
            continue
        assert field.default is not PydanticUndefined, name
        shown: Any = None if value == "" and field.default is None else value
        if shown is not None:
            assert field.annotation is not None, name
            shown = TypeAdapter[Any](field.annotation).validate_python(shown)
        assert shown == field.default, (
            f"NEWSWATCH_{name.upper()}={value}: default is {field.default!r}"
        )


def test_env_example_paths_are_the_images() -> None:
    listed = env_example_settings()
    env = dockerfile_env()
    for name in ("config_dir", "var_dir"):
        key = f"NEWSWATCH_{name.upper()}"
        assert listed[name][:2] == (True, env[key]), key


def test_env_example_names_every_variable_compose_reads_and_holds_no_secret() -> None:
    text = COMPOSE.read_text()
    required = set(re.findall(r"(?<!\$)\$\{([A-Z_]+):\?", text))
    every = set(re.findall(r"(?<!\$)\$\{([A-Z_]+)", text))
    example = ENV_EXAMPLE.read_text()
    values = dict(
        line.split("=", 1) for line in example.splitlines() if line and not line.startswith("#")
    )
    named = set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]*)=", example, re.MULTILINE))
    assert required <= set(values)
    assert every <= named, f"not in .env.example: {sorted(every - named)}"
    assert all(values[name] == "" for name in required if SECRET_NAME.search(name))
    for name, value in values.items():
        assert not re.search(r"://[^:/@\s]*:[^@/\s]+@", value), f"{name} holds a password"
    assert ".env" in (DOCKER / ".gitignore").read_text().split()


def test_init_script_creates_the_newswatch_database() -> None:
    mounts = compose()["services"]["postgres"]["volumes"]
    (script,) = [m.split(":")[0] for m in mounts if "/docker-entrypoint-initdb.d/" in m]
    assert "CREATE DATABASE newswatch;" in (DOCKER / script).read_text()


@pytest.mark.parametrize("service", sorted(AIRFLOW_SERVICES | {"flower"}))
def test_config_is_a_writable_mount_at_the_images_config_dir(service: str) -> None:
    mounts = [resolve(m) for m in compose()["services"][service]["volumes"]]
    target = dockerfile_env()["NEWSWATCH_CONFIG_DIR"]
    (mount,) = [m for m in mounts if m.split(":")[1] == target]
    source, _, *options = mount.split(":")
    assert options == [], f"{service}: config is mounted {options}"  # not :ro
    assert {"feeds.yaml", "topics.yaml"} <= {p.name for p in (DOCKER / source).iterdir()}


def test_every_image_is_pinned_by_version() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"]
    for name, service in compose()["services"].items():
        image = resolve(service["image"])
        assert "@" not in image or ":" in image.split("@")[0], name
        repository, _, tag = image.split("@")[0].rpartition(":")
        assert repository and "/" not in tag, f"{name}: {image} has no tag"
        assert tag != "latest" and re.search(r"\d", tag), f"{name}: {image} is not a version"
        if "build" in service:
            assert tag == project, f"{name}: {image} should be tagged {project} (pyproject.toml)"


def test_mailpit_is_for_local_testing_only() -> None:
    services = compose()["services"]
    mailpit = services["mailpit"]
    assert mailpit["image"].startswith("axllent/mailpit:")
    assert mailpit.get("profiles") == ["mail"]
    # Mailpit has no login: its web UI is reachable from this machine only.
    assert all(resolve(port).startswith("127.0.0.1:") for port in mailpit["ports"])
    for name, service in services.items():
        assert "mailpit" not in (service.get("depends_on") or {}), name
        assert "mailpit" not in json.dumps(service.get("environment") or {}), name


def test_long_running_services_have_healthchecks_and_restart() -> None:
    services = compose()["services"]
    for name, service in services.items():
        if name == "airflow-init":
            assert "healthcheck" not in service and service["restart"] == "no"
            continue
        assert service["healthcheck"]["test"], name
        assert service["restart"] == "always", name


def test_health_checks_are_the_ones_airflow_and_postgres_document() -> None:
    services = compose()["services"]
    postgres = " ".join(services["postgres"]["healthcheck"]["test"])
    assert "pg_isready" in postgres and "-h 127.0.0.1" in postgres
    api = services["airflow-api-server"]["healthcheck"]["test"]
    assert api[:3] == ["CMD", "curl", "--fail"]
    assert api[-1] == "http://localhost:8080/api/v2/monitor/health"
    for service, job_type in JOB_TYPES.items():
        kind, command = services[service]["healthcheck"]["test"]
        assert kind == "CMD-SHELL", service
        parsed = parses_as_airflow(command)
        assert parsed.func.__name__ == "check", service
        assert (parsed.job_type, parsed.local) == (job_type, True), service


def test_services_run_commands_airflow_knows() -> None:
    for name, service in compose()["services"].items():
        if "build" in service and name != "airflow-init":
            parses_as_airflow(f"airflow {service['command']}")


def test_worker_can_be_scaled() -> None:
    worker = compose()["services"]["airflow-worker"]
    assert "container_name" not in worker and "ports" not in worker


def test_airflow_waits_for_init_and_init_for_the_databases() -> None:
    services = compose()["services"]
    for name in AIRFLOW_SERVICES - {"airflow-init"} | {"flower"}:
        depends = services[name]["depends_on"]
        assert depends["airflow-init"] == {"condition": "service_completed_successfully"}, name
        assert depends["postgres"] == {"condition": "service_healthy"}, name
    assert services["airflow-worker"]["depends_on"]["airflow-api-server"] == {
        "condition": "service_healthy"
    }
    init = services["airflow-init"]["depends_on"]
    assert init["postgres"] == {"condition": "service_healthy"}
    assert init["redis"] == {"condition": "service_healthy"}
    assert "airflow-init" not in init


def test_init_migrates_both_databases_once_then_sets_up_access() -> None:
    init = compose()["services"]["airflow-init"]
    # The entrypoint's own `_AIRFLOW_DB_MIGRATE` runs `airflow db migrate || true`: a failed
    # migration would not stop the stack. The script runs it itself, under `set -e`.
    assert not any(key.startswith("_AIRFLOW") for key in init["environment"])
    assert "entrypoint" not in init  # the image's: it waits for the database, names the UID
    steps = init_steps()
    assert steps[0] == "airflow db migrate"
    assert parses_as_airflow(steps[0]).func.__name__ == "migratedb"
    assert "newswatch db upgrade" in steps
    (pool,) = [step for step in steps if step.startswith("airflow pools set ")]
    parsed = parses_as_airflow(pool)
    assert (parsed.pool, parsed.slots) == (Settings.model_fields["airflow_pool"].default, 4)
    assert any(step.startswith("airflow users create --role Admin ") for step in steps)
    assert "python docker/fab_dashboard_access.py" in steps


def test_init_runs_newswatch_commands_that_exist() -> None:
    for step in init_steps():
        words = shlex.split(step)
        if words[0] != "newswatch":
            continue
        command: Any = typer.main.get_command(newswatch_app)
        for word in words[1:]:
            assert word in command.commands, f"no newswatch command {step!r}"
            command = command.commands[word]


def test_fab_access_script_grants_the_dashboards_resource_to_the_builtin_roles() -> None:
    script = (DOCKER / "fab_dashboard_access.py").read_text()
    assert "from newswatch.dashboard.auth import RESOURCE" in script
    assert RESOURCE == "newswatch"
    assert 'ROLES = ("Viewer", "User", "Op", "Admin")' in script
    auth = compose()["services"]["airflow-api-server"]["environment"]["AIRFLOW__CORE__AUTH_MANAGER"]
    assert auth.endswith("fab_auth_manager.FabAuthManager")


def test_compose_takes_every_secret_from_the_environment() -> None:
    for name, service in compose()["services"].items():
        for key, value in (service.get("environment") or {}).items():
            literal = re.sub(r"\$\{[^}]*\}", "", str(value))  # what is left without ${...}
            assert not re.search(r"://[^:/@]*:[^@/]+@", literal), f"{name}: {key} has a password"
            if SECRET_NAME.search(key) and "://" not in literal:
                assert literal == "", f"{name}: {key} is a literal"


def test_docker_readme_names_only_services_that_exist() -> None:
    readme = (DOCKER / "README.md").read_text()
    services = set(compose()["services"])
    used = re.findall(r"docker compose (?:exec|run)(?: -T| --rm| -it)* ([a-z][a-z-]+)", readme)
    assert used and set(used) <= services, sorted(set(used) - services)
    for profile in re.findall(r"--profile ([a-z]+)", readme):
        assert any(profile in s.get("profiles", []) for s in compose()["services"].values())
    assert "pg_dump" in readme and "pg_restore" in readme


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
    assert expected | {"docker/fab_dashboard_access.py"} <= set(sources)
    ignored = (DOCKER / "Dockerfile.dockerignore").read_text().split()
    for source in sources:
        assert (REPO / source).exists(), source
        assert source.rstrip("/") not in ignored, source


@pytest.mark.parametrize("service", sorted(AIRFLOW_SERVICES))
def test_airflow_services_build_the_project_image(service: str) -> None:
    build = compose()["services"][service]["build"]
    assert (DOCKER / build["context"] / build["dockerfile"]).resolve() == DOCKERFILE
