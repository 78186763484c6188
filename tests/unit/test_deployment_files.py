"""The deployment files are well-formed and say what the README says.

- deploy/aws/template.yaml (SAM: API Gateway, Lambda, S3, RDS PostgreSQL) passes ``cfn-lint``;
- Dockerfile and deploy/aws/Dockerfile.lambda pass ``hadolint``; the image is multi-stage and
  runs as a non-root user;
- deploy/compose/compose.yaml has PostgreSQL, SeaweedFS, two replicas of the image and nginx
  balancing exactly those replicas (its configuration passes ``nginx -t``);
- .github/workflows/ci.yml runs the README's test command with PostgreSQL beside it.
(Docker itself cannot run here; these checks are what can be verified without it.)
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.nginx import find_nginx

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
COMPOSE = ROOT / "deploy" / "compose" / "compose.yaml"
SAM = ROOT / "deploy" / "aws" / "template.yaml"


def _tool(name: str) -> str:
    found = BIN / name if (BIN / name).exists() else shutil.which(name)
    assert found, f"{name} is missing: it is in the dev extra (pip install -e '.[dev]')"
    return str(found)


def test_sam_template_passes_cfn_lint() -> None:
    # W3691 (an engine version AWS has since deprecated) follows AWS's calendar, not the template.
    run = subprocess.run(
        [_tool("cfn-lint"), "--ignore-checks", "W3691", "--", str(SAM)],
        capture_output=True, text=True, timeout=300, check=False,
    )
    assert run.returncode == 0, run.stdout + run.stderr


class _CfnLoader(yaml.SafeLoader):
    pass


def _tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> Any:
    if isinstance(node, yaml.ScalarNode):
        return {suffix: loader.construct_scalar(node)}
    if isinstance(node, yaml.SequenceNode):
        return {suffix: loader.construct_sequence(node)}
    return {suffix: loader.construct_mapping(node)}  # type: ignore[arg-type]


_CfnLoader.add_multi_constructor("!", _tag)


def test_sam_template_has_the_serverless_deployment() -> None:
    template = yaml.load(SAM.read_text(), Loader=_CfnLoader)  # noqa: S506 - SafeLoader subclass
    types = {r["Type"] for r in template["Resources"].values()}
    assert {
        "AWS::Serverless::Function",
        "AWS::S3::Bucket",
        "AWS::RDS::DBInstance",
    } <= types
    fn = template["Resources"]["RegistryFunction"]["Properties"]
    assert {e["Type"] for e in fn["Events"].values()} == {"Api"}
    assert {e["Properties"]["Path"] for e in fn["Events"].values()} == {"/", "/{proxy+}"}
    env = fn["Environment"]["Variables"]
    assert "postgresql://" in str(env["TMR_DATABASE_URL"])
    assert "s3://" in str(env["TMR_BLOB_URL"])
    lambda_docker = ROOT / "deploy" / "aws" / template["Resources"]["RegistryFunction"][
        "Metadata"]["Dockerfile"].removeprefix("deploy/aws/")
    assert 'CMD ["tmr.lambda_handler.handler"]' in lambda_docker.read_text()
    from tmr import lambda_handler

    assert callable(lambda_handler.handler)


@pytest.mark.parametrize("dockerfile", ["Dockerfile", "deploy/aws/Dockerfile.lambda"])
def test_dockerfiles_pass_hadolint(dockerfile: str) -> None:
    run = subprocess.run(
        [_tool("hadolint"), "--failure-threshold", "info", str(ROOT / dockerfile)],
        capture_output=True, text=True, timeout=120, check=False,
    )
    assert run.returncode == 0, run.stdout + run.stderr


@pytest.mark.parametrize("dockerfile", ["Dockerfile", "deploy/aws/Dockerfile.lambda"])
def test_images_are_multi_stage_and_run_as_non_root(dockerfile: str) -> None:
    lines = [ln.strip() for ln in (ROOT / dockerfile).read_text().splitlines()]
    stages = [ln for ln in lines if ln.startswith("FROM ")]
    assert len(stages) >= 2
    final = lines[lines.index(stages[-1]) :]
    users = [ln.split()[1] for ln in final if ln.startswith("USER ")]
    assert users and users[-1].split(":")[0] not in ("root", "0")
    assert any(ln.startswith("COPY --from=") for ln in final)


def _compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE.read_text())


def test_compose_runs_two_replicas_on_postgres_and_s3_behind_nginx() -> None:
    compose = _compose()
    services = compose["services"]
    replicas = sorted(n for n, s in services.items() if "build" in s)
    assert len(replicas) == 2
    assert {"postgres", "seaweedfs", "nginx"} <= set(services)
    for name in replicas:
        svc = services[name]
        context = (COMPOSE.parent / svc["build"]["context"]).resolve()
        assert (context / svc["build"]["dockerfile"]).is_file()
        env = svc["environment"]
        db_host = re.match(r"postgresql://[^@]+@([^:/]+)", env["TMR_DATABASE_URL"])
        assert db_host and db_host.group(1) in services
        assert env["TMR_BLOB_URL"].startswith("s3://")
        assert env["TMR_S3_ENDPOINT_URL"].split("//")[1].split(":")[0] in services
        assert set(svc["depends_on"]) <= set(services)
    for svc in services.values():
        for volume in svc.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("."):
                assert (COMPOSE.parent / source).exists(), source
            else:
                assert source in compose["volumes"], source
    conf = (COMPOSE.parent / "nginx.conf").read_text()
    upstream = re.findall(r"server ([\w-]+):8000", conf)
    assert sorted(upstream) == replicas


def test_compose_nginx_configuration_passes_nginx_t(tmp_path: Path) -> None:
    nginx = find_nginx()
    if nginx is None:
        if os.environ.get("CI") == "true":
            pytest.fail("nginx is not installed (scripts/test installs it; CI=true: a failure)")
        pytest.skip("nginx is not installed (scripts/test installs it)")
    conf = (COMPOSE.parent / "nginx.conf").read_text()
    for name in ("registry-1", "registry-2"):  # compose's service names do not resolve here
        conf = conf.replace(f"{name}:8000", "127.0.0.1:8000")
    conf = conf.replace("events {", f"pid {tmp_path}/nginx.pid;\nerror_log {tmp_path}/e.log;\n"
                        "events {", 1)
    (tmp_path / "nginx.conf").write_text(conf)
    run = subprocess.run(
        [str(nginx), "-t", "-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf")],
        capture_output=True, text=True, timeout=60, check=False,
    )
    assert run.returncode == 0, run.stderr


def test_ci_workflow_runs_the_readme_test_command() -> None:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("**Install and run the whole test suite**", 1)[1]
    command = re.search(r"```bash\n(.+?)\n", section)
    assert command
    workflow = yaml.safe_load((ROOT / ".github" / "workflows" / "ci.yml").read_text())
    triggers = workflow.get("on", workflow.get(True))  # YAML 1.1 reads a bare `on` as true
    assert "push" in triggers and "pull_request" in triggers
    (job,) = workflow["jobs"].values()
    runs = [step.get("run", "") for step in job["steps"]]
    assert command.group(1).strip() in runs
    assert any(s.get("env", {}).get("CI") == "true" for s in job["steps"] if "run" in s)
    assert "postgres" in job["services"]
    assert "5432:5432" in job["services"]["postgres"]["ports"]
