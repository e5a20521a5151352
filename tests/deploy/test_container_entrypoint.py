"""The container's entry point refuses Odoo's default master password and installs without
demo data unless asked (docker/entrypoint.sh, run with bash as the container would, with the
official image's entry point replaced by a stub that prints what it was given)."""

import configparser
import os
import subprocess
from pathlib import Path

import pytest
import yaml
from passlib.context import CryptContext

DOCKER = Path(__file__).resolve().parents[2] / "docker"
ENTRYPOINT = DOCKER / "entrypoint.sh"
STRONG = "correct horse battery staple 42"


@pytest.fixture
def container(tmp_path):
    """Run the entry point with the paths of a test; returns (run, config path)."""
    stub = tmp_path / "official-entrypoint.sh"
    stub.write_text('#!/bin/bash\necho "started: $*"\nenv\n')
    stub.chmod(0o755)
    config = tmp_path / "odoo.conf"

    def run(**env):
        base = {"PATH": os.environ["PATH"], "BB_CONFIG_TEMPLATE": str(DOCKER / "odoo.conf"),
                "ODOO_RC": str(config), "BB_NEXT_ENTRYPOINT": str(stub)}
        return subprocess.run(
            ["bash", str(ENTRYPOINT), "odoo", "-i", "billing_bridge"],
            env={**base, **env}, capture_output=True, text=True, timeout=60, check=False)

    return run, config


def read_options(config):
    parser = configparser.RawConfigParser()  # as Odoo reads it (strict: no duplicate key)
    parser.read(config)
    return dict(parser["options"])


@pytest.mark.parametrize("env", [{}, {"ODOO_ADMIN_PASSWD": ""},
                                 {"ODOO_ADMIN_PASSWD": "admin"},
                                 {"ODOO_ADMIN_PASSWD": "short"}],
                         ids=["unset", "empty", "odoo-default", "too-short"])
def test_refuses_to_start_without_a_master_password_of_its_own(container, env):
    run, config = container
    result = run(**env)
    assert result.returncode == 64
    assert "ODOO_ADMIN_PASSWD" in result.stderr and "not starting" in result.stderr
    assert "started:" not in result.stdout, "Odoo must not be started"
    assert not config.exists() or "admin_passwd" not in config.read_text()


def test_writes_the_hashed_password_and_installs_without_demo(container):
    run, config = container
    result = run(ODOO_ADMIN_PASSWD=STRONG)
    assert result.returncode == 0, result.stderr
    assert "started: odoo -i billing_bridge" in result.stdout
    assert "ODOO_ADMIN_PASSWD" not in result.stdout, "the password is not passed on to Odoo"
    options = read_options(config)
    assert STRONG not in config.read_text()
    assert CryptContext(["pbkdf2_sha512"]).verify(STRONG, options["admin_passwd"])
    assert options["without_demo"] == "all"
    assert options["db_name"] == "billing_bridge" and options["list_db"] == "False"
    assert config.stat().st_mode & 0o077 == 0, "only the odoo user reads the config"


def test_password_from_a_docker_secret_file(container, tmp_path):
    run, config = container
    secret = tmp_path / "admin_passwd"
    secret.write_text(STRONG)
    assert run(ODOO_ADMIN_PASSWD_FILE=str(secret)).returncode == 0
    assert CryptContext(["pbkdf2_sha512"]).verify(STRONG, read_options(config)["admin_passwd"])


@pytest.mark.parametrize(("flag", "without_demo"), [("1", "False"), ("0", "all")])
def test_demo_data_only_when_asked(container, flag, without_demo):
    run, config = container
    assert run(ODOO_ADMIN_PASSWD=STRONG, BB_DEMO=flag).returncode == 0
    assert read_options(config)["without_demo"] == without_demo


def test_template_values_never_duplicate_what_the_entrypoint_sets(container, tmp_path):
    run, config = container
    template = tmp_path / "template.conf"
    template.write_text("[options]\nadmin_passwd = admin\nwithout_demo = False\n")
    assert run(ODOO_ADMIN_PASSWD=STRONG, BB_CONFIG_TEMPLATE=str(template)).returncode == 0
    options = read_options(config)  # would raise DuplicateOptionError
    assert options["admin_passwd"] != "admin" and options["without_demo"] == "all"


def test_compose_and_image_use_the_entrypoint():
    compose = yaml.safe_load((DOCKER / "docker-compose.yml").read_text())
    environment = compose["services"]["odoo"]["environment"]
    assert environment["ODOO_ADMIN_PASSWD"] == "${ODOO_ADMIN_PASSWD:-}", "no default password"
    assert environment["BB_DEMO"] == "${BB_DEMO:-0}", "no demo data unless asked"
    dockerfile = (DOCKER / "Dockerfile").read_text()
    assert 'ENTRYPOINT ["/usr/local/bin/billing-bridge-entrypoint"]' in dockerfile
    assert "COPY docker/entrypoint.sh /usr/local/bin/billing-bridge-entrypoint" in dockerfile
    template = read_options(DOCKER / "odoo.conf")
    assert "admin_passwd" not in template and "without_demo" not in template
