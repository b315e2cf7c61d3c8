"""The deployment files in docker/, checked without a Docker engine."""

from __future__ import annotations

import functools
import json
import re
import shlex
import shutil
import subprocess
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from agent.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
DOCKER = ROOT / "docker"
COMPOSE_SCHEMA = ROOT / "tests" / "data" / "compose-spec.json"
PROMETHEUS_CONFIG = DOCKER / "prometheus" / "prometheus.yml"
DASHBOARDS = DOCKER / "grafana" / "dashboards"

# What the brief for the production profile asks the API to be configured with.
REQUIRED_API_SETTINGS = {
    "environment",
    "demo",
    "token_secret",
    "database_url",
    "redis_url",
    "vector_store",
    "weaviate_url",
    "weaviate_grpc_url",
    "llm_base_url",
    "llm_api_key",
    "max_concurrent_runs",
    "max_queued_runs",
    "log_level",
}
DASHBOARD_METRICS = {
    "supportflow_request_duration_seconds_bucket",
    "supportflow_ttft_seconds_bucket",
    "supportflow_queue_depth",
    "supportflow_shed_total",
    "supportflow_cache_hits_total",
}
SERVE_COMMAND = ["supportflow", "serve", "--host", "0.0.0.0", "--port", "8123", "--workers", "2"]
# ${NAME}, ${NAME:-default}, ${NAME-default}, ${NAME:?error}, ${NAME?error}
INTERPOLATION = re.compile(r"\$\{(?P<name>\w+)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}")


def load_yaml(path: Path) -> dict[str, Any]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(data, dict), f"{path} is not a YAML mapping"
    return data


@functools.cache
def compose() -> dict[str, Any]:
    return load_yaml(DOCKER / "compose.yaml")


def services() -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = compose()["services"]
    return found


def interpolate(value: str, env: Mapping[str, str]) -> str:
    """Compose's variable substitution, enough to read the values a deployment would get."""

    def substitute(match: re.Match[str]) -> str:
        name, op, arg = match["name"], match["op"] or "", match["arg"] or ""
        unset = name not in env or (op.startswith(":") and not env[name])
        if not unset:
            return env[name]
        if op.endswith("?"):
            raise KeyError(f"${{{name}}} is required: {arg}")
        return arg

    return INTERPOLATION.sub(substitute, value)


def is_one_shot(name: str) -> bool:
    """A job others wait to complete, not a server: it has nothing to health-check."""
    return services()[name].get("restart") == "no" and any(
        dependency.get("condition") == "service_completed_successfully"
        for service in services().values()
        for target, dependency in service.get("depends_on", {}).items()
        if target == name
    )


def healthcheck_enabled(service: Mapping[str, Any]) -> bool:
    check = service.get("healthcheck", {})
    return bool(check.get("test")) and not check.get("disable", False)


def bind_mounts(service: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    """(host path, container path) of each bind mount, in short or long syntax."""
    for volume in service.get("volumes", []):
        if isinstance(volume, str):
            source, _, rest = volume.partition(":")
            target = rest.split(":")[0]
        else:
            source, target = volume.get("source", ""), volume["target"]
        if source.startswith((".", "/")):
            yield source, target


# --- compose.yaml -------------------------------------------------------------------------


def test_compose_matches_the_compose_specification() -> None:
    jsonschema = pytest.importorskip("jsonschema")
    schema = json.loads(COMPOSE_SCHEMA.read_text(encoding="utf-8"))
    assert schema["title"] == "Compose Specification"
    # The file's $schema is draft-07 spelt with https, which jsonschema's validator_for does
    # not recognise (it would warn and pick the newest draft), so name the draft here.
    jsonschema.Draft7Validator.check_schema(schema)
    errors = jsonschema.Draft7Validator(schema).iter_errors(compose())
    messages = [f"{'/'.join(map(str, error.absolute_path))}: {error.message}" for error in errors]
    assert not messages, "\n".join(messages)


@pytest.mark.parametrize("name", sorted(services()))
def test_every_service_has_a_healthcheck(name: str) -> None:
    service = services()[name]
    assert "healthcheck" in service, f"{name} has no healthcheck"
    if not healthcheck_enabled(service):
        assert is_one_shot(name), f"only one-shot jobs may disable their healthcheck ({name})"


@pytest.mark.parametrize("name", sorted(services()))
def test_dependencies_name_services_and_wait_on_a_condition(name: str) -> None:
    depends_on = services()[name].get("depends_on", {})
    assert isinstance(depends_on, dict), f"{name}: depends_on needs the long form with conditions"
    for target, dependency in depends_on.items():
        assert target in services(), f"{name} depends on unknown service {target}"
        condition = dependency.get("condition")
        if condition == "service_healthy":
            assert healthcheck_enabled(services()[target]), f"{target} cannot become healthy"
        elif condition == "service_completed_successfully":
            assert is_one_shot(target)
        else:
            pytest.fail(f"{name} -> {target}: condition {condition!r} waits for nothing useful")


def test_the_api_waits_for_its_backends_and_the_migration() -> None:
    conditions = {
        target: dependency["condition"]
        for target, dependency in services()["api"]["depends_on"].items()
    }
    assert conditions == {
        "migrate": "service_completed_successfully",
        "postgres": "service_healthy",
        "redis": "service_healthy",
        "weaviate": "service_healthy",
    }
    assert services()["migrate"]["command"] == ["supportflow", "db", "upgrade"]
    assert services()["nginx"]["depends_on"]["api"]["condition"] == "service_healthy"


def test_api_environment_names_are_real_settings() -> None:
    environment: dict[str, str] = services()["api"]["environment"]
    names = {
        key.removeprefix("SUPPORTFLOW_").lower()
        for key in environment
        if key.startswith("SUPPORTFLOW_")
    }
    unknown = names - set(Settings.model_fields)
    # database_url, vector_store, weaviate_*, max_*_runs arrived with the production profile.
    assert not unknown, f"not fields of agent.settings.Settings: {sorted(unknown)}"
    assert names >= REQUIRED_API_SETTINGS, sorted(REQUIRED_API_SETTINGS - names)
    assert services()["migrate"]["environment"] == environment


def test_api_environment_is_a_valid_production_configuration() -> None:
    environment: dict[str, str] = services()["api"]["environment"]
    with pytest.raises(KeyError, match="SUPPORTFLOW_TOKEN_SECRET"):
        interpolate(environment["SUPPORTFLOW_TOKEN_SECRET"], {})
    deployment = {"SUPPORTFLOW_TOKEN_SECRET": "s" * 32}
    values = {
        key.removeprefix("SUPPORTFLOW_").lower(): interpolate(str(value), deployment)
        for key, value in environment.items()
        if key.startswith("SUPPORTFLOW_")
    }
    # model_validate skips the environment sources: only the compose file's values count.
    settings = Settings.model_validate(values)
    assert settings.environment == "production"
    assert settings.demo is False
    assert settings.app_db_url.startswith("postgresql+psycopg://supportflow:")
    assert settings.llm_base_url is None


@pytest.mark.parametrize("name", sorted(services()))
def test_mounted_files_exist_and_named_volumes_are_declared(name: str) -> None:
    service = services()[name]
    for source, _ in bind_mounts(service):
        assert (DOCKER / source).exists(), f"{name} mounts missing {source}"
    declared = set(compose().get("volumes") or {})
    for volume in service.get("volumes", []):
        source = volume.partition(":")[0] if isinstance(volume, str) else volume.get("source", "")
        if source and not source.startswith((".", "/")):
            assert source in declared, f"{name} uses undeclared volume {source}"


@pytest.mark.parametrize("name", sorted(services()))
def test_images_are_pinned(name: str) -> None:
    image = services()[name].get("image")
    assert image, f"{name} names no image"
    if "@sha256:" in image:
        return
    _, _, tag = image.rpartition("/")[2].partition(":")
    assert tag, f"{name}: {image} has no tag"
    assert tag != "latest", f"{name}: {image} is not pinned"


def test_built_services_use_the_dockerfile() -> None:
    for name, service in services().items():
        if "build" in service:
            context = DOCKER / service["build"]["context"]
            assert (context / service["build"]["dockerfile"]).is_file(), name
            assert context.resolve() == ROOT, f"{name}: the build context is the repo root"


def test_only_nginx_publishes_the_api() -> None:
    api = services()["api"]
    assert "ports" not in api
    assert api["deploy"]["replicas"] >= 2
    assert "8080:8080" in services()["nginx"]["ports"]


# --- Prometheus, Grafana, nginx ------------------------------------------------------------


def container_path(service: str, host_path: Path) -> str:
    for source, target in bind_mounts(services()[service]):
        if (DOCKER / source).resolve() == host_path.resolve():
            return target
    raise AssertionError(f"{service} does not mount {host_path.relative_to(ROOT)}")


def test_prometheus_discovers_every_api_replica() -> None:
    config = load_yaml(PROMETHEUS_CONFIG)
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    api = jobs["supportflow-api"]
    assert api.get("metrics_path", "/metrics") == "/metrics"
    [discovery] = api["dns_sd_configs"]
    assert discovery["names"] == ["api"]
    assert discovery["port"] == 8123
    assert discovery.get("type", "SRV") == "A", "compose DNS answers A records, not SRV"


def test_prometheus_rule_files_exist_here_and_in_the_container() -> None:
    rule_files = load_yaml(PROMETHEUS_CONFIG)["rule_files"]
    assert rule_files
    config_dir = Path(container_path("prometheus", PROMETHEUS_CONFIG)).parent
    for rule_file in rule_files:
        local = PROMETHEUS_CONFIG.parent / rule_file
        assert local.is_file(), f"{rule_file} is missing next to prometheus.yml"
        assert container_path("prometheus", local) == str(config_dir / rule_file)
        groups = load_yaml(local)["groups"]
        assert groups, f"{rule_file} has no rule group"
        for group in groups:
            assert group["name"]
            for rule in group["rules"]:
                assert ("alert" in rule) != ("record" in rule), rule
                assert rule["expr"], rule


def dashboard_panels() -> Iterator[tuple[str, dict[str, Any]]]:
    for path in sorted(DASHBOARDS.glob("*.json")):
        dashboard = json.loads(path.read_text(encoding="utf-8"))
        for panel in dashboard["panels"]:
            yield path.name, panel


def test_dashboards_chart_supportflow_metrics() -> None:
    exprs: list[str] = []
    for dashboard, panel in dashboard_panels():
        assert panel["targets"], f"{dashboard}: panel {panel['title']!r} has no query"
        for target in panel["targets"]:
            assert "supportflow_" in target["expr"], f"{dashboard}: {panel['title']!r}"
            exprs.append(target["expr"])
    missing = {metric for metric in DASHBOARD_METRICS if not any(metric in e for e in exprs)}
    assert not missing, f"no panel charts {sorted(missing)}"


def test_grafana_provisioning_matches_the_mounts() -> None:
    provisioning = DOCKER / "grafana" / "provisioning"
    [datasource] = load_yaml(provisioning / "datasources" / "prometheus.yml")["datasources"]
    assert datasource["url"] == "http://prometheus:9090"
    [provider] = load_yaml(provisioning / "dashboards" / "supportflow.yml")["providers"]
    assert provider["options"]["path"] == container_path("grafana", DASHBOARDS)
    assert container_path("grafana", provisioning) == "/etc/grafana/provisioning"
    for dashboard, panel in dashboard_panels():
        assert panel["datasource"]["uid"] == datasource["uid"], dashboard


def test_nginx_balances_every_replica_and_streams_sse() -> None:
    config = DOCKER / "nginx" / "nginx.conf"
    assert container_path("nginx", config) == "/etc/nginx/nginx.conf"
    text = re.sub(r"#[^\n]*", "", config.read_text(encoding="utf-8"))
    assert text.count("{") == text.count("}")
    for directive in (
        r"upstream supportflow_api \{",
        r"server api:8123 resolve;",
        r"resolver 127\.0\.0\.11 ",
        r"proxy_pass http://supportflow_api;",
        r"proxy_buffering off;",
        r"proxy_read_timeout 3600s;",
        r"proxy_http_version 1\.1;",
        r'proxy_set_header Connection "";',
        r"keepalive \d+;",
        r"proxy_set_header Last-Event-ID \$http_last_event_id;",
        r"proxy_set_header X-Forwarded-For ",
        r"listen 8080;",
        r"location = /metrics \{\s*return 404;",
    ):
        assert re.search(directive, text), f"nginx.conf lacks {directive}"


# --- Dockerfile -----------------------------------------------------------------------------


@dataclass
class Stage:
    base: str
    name: str
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def args(self, keyword: str) -> list[str]:
        return [args for word, args in self.instructions if word == keyword]


def logical_lines(text: str) -> Iterator[str]:
    """Instructions with continuations joined; comments and blank lines dropped."""
    current = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            current += line[:-1] + " "
            continue
        yield current + line
        current = ""


def parse_dockerfile(text: str) -> list[Stage]:
    stages: list[Stage] = []
    for line in logical_lines(text):
        keyword, _, args = line.partition(" ")
        if keyword.upper() == "FROM":
            match = re.fullmatch(r"(?:--\S+\s+)*(\S+)(?:\s+AS\s+(\S+))?", args.strip(), re.I)
            assert match, line
            stages.append(Stage(base=match[1], name=match[2] or ""))
        else:
            stages[-1].instructions.append((keyword.upper(), args.strip()))
    return stages


@functools.cache
def dockerfile() -> list[Stage]:
    return parse_dockerfile((DOCKER / "Dockerfile").read_text(encoding="utf-8"))


def copy_sources(args: str) -> list[str]:
    words = json.loads(args) if args.startswith("[") else shlex.split(args)
    return [word for word in words if not word.startswith("--")][:-1]


def test_dockerfile_is_multi_stage_with_named_pinned_stages() -> None:
    stages = dockerfile()
    assert len(stages) >= 2
    for stage in stages:
        assert stage.name, f"FROM {stage.base} has no AS name"
        assert ":" in stage.base, f"{stage.base} has no tag"
        assert not stage.base.endswith(":latest"), f"{stage.base} is not pinned"


def test_runtime_stage_is_non_root_healthchecked_and_copies_from_the_builder() -> None:
    *builders, runtime = dockerfile()
    users = runtime.args("USER")
    assert users, "the runtime stage runs as root"
    assert users[-1].split(":")[0] not in {"root", "0"}
    [healthcheck] = runtime.args("HEALTHCHECK")
    assert "/healthz" in healthcheck
    assert "8123" in " ".join(runtime.args("EXPOSE")).split()
    copies = runtime.args("COPY")
    assert copies, "the runtime stage copies nothing from the builder"
    assert all("--from=" in args for args in copies), "the runtime stage copies the context"
    sources = {name for args in copies for name in re.findall(r"--from=(\S+)", args)}
    assert sources <= {stage.name for stage in builders}
    environment = " ".join(runtime.args("ENV"))
    assert "SUPPORTFLOW_DATA_DIR=/data" in environment
    # Two workers per container: without it each scrape sees one worker's metrics only.
    assert "PROMETHEUS_MULTIPROC_DIR=" in environment
    assert runtime.args("VOLUME") == ['["/data"]']
    [cmd] = runtime.args("CMD")
    assert json.loads(cmd) == SERVE_COMMAND


def test_dockerfile_copies_only_what_exists_and_is_not_ignored() -> None:
    ignore = (DOCKER / "Dockerfile.dockerignore").read_text(encoding="utf-8")
    patterns = [line.strip() for line in ignore.splitlines() if line.strip()[:1] not in {"", "#"}]
    assert patterns[0] == "*", "the ignore file is an allow-list"
    allowed = {pattern[1:].rstrip("/") for pattern in patterns if pattern.startswith("!")}
    for stage in dockerfile():
        for args in stage.args("COPY"):
            if "--from=" in args:
                continue
            for source in copy_sources(args):
                assert (ROOT / source).exists(), f"COPY {source}: not in the repository"
                assert Path(source).parts[0] in allowed, f"COPY {source}: excluded from context"


def test_pip_keeps_no_cache_in_the_image() -> None:
    for stage in dockerfile():
        for run in stage.args("RUN"):
            for step in run.split("&&"):
                if re.search(r"\bpip (install|wheel)\b", step):
                    assert "--no-cache-dir" in step, step


# --- external checkers, when this machine has them -----------------------------------------


def run_tool(*command: str) -> None:
    result = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def has_compose_plugin() -> bool:
    if shutil.which("docker") is None:
        return False
    version = subprocess.run(
        ["docker", "compose", "version"], capture_output=True, timeout=10, check=False
    )
    return version.returncode == 0


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool is not installed")
def test_promtool_accepts_the_config_rules_and_dashboard_queries(tmp_path: Path) -> None:
    run_tool("promtool", "check", "config", str(PROMETHEUS_CONFIG))
    # Dashboard queries checked as recording rules, Grafana's interval variable filled in.
    exprs = [target["expr"] for _, panel in dashboard_panels() for target in panel["targets"]]
    rules = [
        {"record": f"supportflow:check_{i}", "expr": expr.replace("$__rate_interval", "5m")}
        for i, expr in enumerate(exprs)
    ]
    queries = tmp_path / "dashboard-queries.yml"
    queries.write_text(yaml.safe_dump({"groups": [{"name": "dashboards", "rules": rules}]}))
    run_tool("promtool", "check", "rules", str(queries))


@pytest.mark.skipif(shutil.which("hadolint") is None, reason="hadolint is not installed")
def test_hadolint_accepts_the_dockerfile() -> None:
    run_tool("hadolint", str(DOCKER / "Dockerfile"))


@pytest.mark.skipif(not has_compose_plugin(), reason="the docker compose plugin is not installed")
def test_docker_compose_accepts_the_file(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SUPPORTFLOW_TOKEN_SECRET", "s" * 32)
    run_tool("docker", "compose", "-f", str(DOCKER / "compose.yaml"), "config", "--quiet")
