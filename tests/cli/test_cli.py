"""The operator's CLI, run in-process (Typer's runner) against a real embedded database in a temporary
folder, and against PostgreSQL/Redis when the test services are set. Every command is exercised, with
its error paths: the wrong folder, a database that is not migrated, one that cannot be reached."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner, Result

from experimently.cli import app
from experimently.cli.common import EXIT_CONFIG, EXIT_NOT_MIGRATED, EXIT_REFUSED, EXIT_UNREACHABLE

runner = CliRunner()
SECRET = "s" * 48


def cli(*args: str) -> Result:
    return runner.invoke(app, list(args), catch_exceptions=False)


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """An empty working folder with no EXPERIMENTLY_* settings from the outside."""
    for name in list(os.environ):
        if name.startswith("EXPERIMENTLY_") and not name.startswith("EXPERIMENTLY_TEST_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    yield tmp_path


@pytest.fixture
def embedded(folder: Path) -> Path:
    result = cli("migrate")
    assert result.exit_code == 0, result.output
    assert "applied migrations (empty database) ->" in result.output
    assert "password (shown ONCE)" in result.output
    return folder / "data" / "experimently.db"


def audit_rows(db: Path) -> list[tuple[str, str, str]]:
    with sqlite3.connect(db) as conn:
        return list(conn.execute("SELECT actor_label, action, resource_type FROM audit_logs ORDER BY id"))


# --- error paths -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ["keys", "list"],
        ["users", "list"],
        ["flags", "list"],
        ["experiments", "list"],
        ["aggregate"],
        ["doctor"],
        ["export"],
        ["worker"],
    ],
)
def test_wrong_folder__one_line_error_and_no_empty_data_dir(folder: Path, args: list[str]) -> None:
    result = cli(*args)
    assert result.exit_code == EXIT_CONFIG
    assert "no database at data/experimently.db" in result.output
    assert "Traceback" not in result.output
    assert not (folder / "data").exists()


def test_not_migrated__one_line_error(folder: Path) -> None:
    (folder / "data").mkdir()
    (folder / "data" / "experimently.db").touch()
    result = cli("users", "list")
    assert result.exit_code == EXIT_NOT_MIGRATED
    assert "is not migrated: run 'experimently migrate'" in result.output


def test_unreachable_database__one_line_error(folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # a loopback port nothing listens on (in this project's range for tests)
    monkeypatch.setenv("EXPERIMENTLY_DATABASE_URL", "postgresql+asyncpg://nobody:pw@127.0.0.1:18799/none")
    monkeypatch.setenv("EXPERIMENTLY_SECRET_KEY", SECRET)
    monkeypatch.setenv("EXPERIMENTLY_ENCRYPTION_KEYS", "EMd4eFIrT-KuxWf931FdpXguZ32Gmhnod3Cz6uAXrFk=")
    result = cli("flags", "list")
    assert result.exit_code == EXIT_UNREACHABLE
    assert "cannot connect" in result.output and "18799" in result.output
    assert "pw@" not in result.output  # the password is never printed
    assert not (folder / "data").exists()
    doctor = cli("doctor")
    assert doctor.exit_code == 1
    assert "FAIL  database" in doctor.output
    # what it could not check is said, not left out (an operator walk: silence read as a pass)
    said = [x.split(None, 1)[1] for x in doctor.output.splitlines() if "not checked: the database" in x]
    assert [next(c for c in ("schema", "secrets", "clock skew") if x.startswith(c)) for x in said] == [
        "schema",
        "secrets",
        "clock skew",
    ], doctor.output
    # the production shape without PUBLIC_URL: webhook and OIDC links would name 127.0.0.1:8000
    assert "warn  public url" in doctor.output and "http://127.0.0.1:8000" in doctor.output
    monkeypatch.setenv("EXPERIMENTLY_PUBLIC_URL", "https://flags.example.com")
    assert "public url" not in cli("doctor").output


def test_missing_secret_with_external_database__configuration_error(
    folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EXPERIMENTLY_DATABASE_URL", "postgresql+asyncpg://nobody@127.0.0.1:18799/none")
    result = cli("keys", "list")
    assert result.exit_code == EXIT_CONFIG
    assert "EXPERIMENTLY_SECRET_KEY is required" in result.output


@pytest.mark.parametrize(
    ("variable", "value", "said"),
    [
        (
            "EXPERIMENTLY_LOGIN_RATE_LIMIT",
            "banana",
            "EXPERIMENTLY_LOGIN_RATE_LIMIT: 'banana' is not a rate limit",
        ),
        ("EXPERIMENTLY_API_KEY_RATE_LIMIT", "5/fortnight", "'5/fortnight' is not a rate limit"),
        ("EXPERIMENTLY_MFA_RATE_LIMIT", "x", "EXPERIMENTLY_MFA_RATE_LIMIT"),
        ("EXPERIMENTLY_LOG_LEVEL", "LOUD", "EXPERIMENTLY_LOG_LEVEL: 'LOUD' is not one of DEBUG"),
        ("EXPERIMENTLY_DATABASE_URL", "mysql://x/y", "'mysql' is not supported: use postgresql+asyncpg://"),
        ("EXPERIMENTLY_REDIS_URL", "http://x", "EXPERIMENTLY_REDIS_URL: must be a redis://"),
        ("EXPERIMENTLY_ENCRYPTION_KEYS", "REPLACE_ME_WITH_A_FERNET_KEY", "each key must be 32 url-safe"),
    ],
)
def test_bad_setting__one_line_at_start__before_anything_is_created(
    folder: Path, monkeypatch: pytest.MonkeyPatch, variable: str, value: str, said: str
) -> None:
    # each of these was accepted at start and then answered 500 or crashed with a traceback
    monkeypatch.setenv(variable, value)
    result = cli("serve", "--port", "18797")
    assert result.exit_code == EXIT_CONFIG, result.output
    assert said in result.output and "Traceback" not in result.output
    assert "Value error" not in result.output
    assert not (folder / "data" / "experimently.db").exists()


def test_serve_no_migrate__unmigrated_database__one_line_exit_4(folder: Path) -> None:
    result = cli("serve", "--no-migrate", "--port", "18796")
    assert result.exit_code == EXIT_NOT_MIGRATED, result.output
    assert "is not migrated: run 'experimently migrate'" in result.output and "Traceback" not in result.output


def test_worker__refused_on_the_embedded_database(embedded: Path) -> None:
    # the embedded server's queue lives in its own memory: a worker would run jobs beside it and
    # write nothing
    result = cli("worker")
    assert result.exit_code == EXIT_CONFIG
    assert "a worker needs PostgreSQL and Redis" in result.output


def test_serve_refuses_several_workers_on_embedded(folder: Path) -> None:
    result = cli("serve", "--workers", "2", "--port", "18798")
    assert result.exit_code == EXIT_CONFIG
    assert "--workers above 1 needs an external database and Redis" in result.output


# --- migrate, users, keys ---------------------------------------------------------------------------


def test_migrate__says_whether_it_applied_anything(embedded: Path) -> None:
    again = cli("migrate")
    assert again.exit_code == 0
    assert "nothing to apply" in again.output
    assert "password" not in again.output


def test_users__create_list_set_role_reset_deactivate_activate(embedded: Path) -> None:
    created = cli("users", "create", "--email", "Ana@Example.com", "--role", "developer")
    assert created.exit_code == 0 and "created developer ana@example.com" in created.output
    assert "password (shown once)" in created.output
    duplicate = cli("users", "create", "--email", "ana@example.com")
    assert duplicate.exit_code == EXIT_REFUSED and "exists" in duplicate.output

    listed = cli("users", "list")
    assert "ana@example.com\tdeveloper\tyes" in listed.output

    assert "ana@example.com is now analyst" in cli("users", "set-role", "ana@example.com", "analyst").output
    reset = cli("users", "reset-password", "ana@example.com")
    assert reset.exit_code == 0
    new_password = reset.output.strip().splitlines()[-1]
    assert len(new_password) >= 12
    assert "deactivated ana@example.com" in cli("users", "deactivate", "ana@example.com").output
    assert "ana@example.com\tanalyst\tno" in cli("users", "list").output
    assert "activated" in cli("users", "activate", "ana@example.com").output

    missing = cli("users", "deactivate", "nobody@example.com")
    assert missing.exit_code == EXIT_REFUSED and "no user with email 'nobody@example.com'" in missing.output
    # the CLI cannot lock out the last admin by accident either (an operator walk demoted and
    # deactivated the only admin through it): another admin first, then it may
    admin = "admin@experimently.local"
    for args in (["set-role", admin, "viewer"], ["deactivate", admin]):
        refused = cli("users", *args)
        assert refused.exit_code == EXIT_REFUSED, refused.output
        assert (
            "admin@experimently.local is the last active admin: make another account admin first"
            in refused.output
        )
    assert "is now admin" in cli("users", "set-role", "ana@example.com", "admin").output
    assert "is now viewer" in cli("users", "set-role", admin, "viewer").output
    last = cli("users", "deactivate", "ana@example.com")
    assert last.exit_code == EXIT_REFUSED and "ana@example.com is the last active admin" in last.output
    actions = [(label.split(":")[0], action) for label, action, _ in audit_rows(embedded)]
    assert ("cli", "user.created") in actions
    assert ("cli", "user.password_reset") in actions
    assert actions.count(("cli", "user.updated")) == 5  # the refusals changed nothing, recorded nothing


def test_keys__create_list_revoke(embedded: Path) -> None:
    created = cli("keys", "create", "--env", "staging", "--scopes", "evaluate,track", "--name", "web")
    assert created.exit_code == 0
    key_id = created.output.split("created API key ")[1].split()[0]
    secret = created.output.strip().splitlines()[-1]
    assert secret.startswith("xp_")

    listed = cli("keys", "list")
    assert key_id in listed.output and "staging" in listed.output
    assert secret not in listed.output  # never the secret again

    revoked = cli("keys", "revoke", key_id)
    assert revoked.exit_code == 0 and f"revoked API key {key_id}" in revoked.output
    assert key_id not in cli("keys", "list").output
    assert key_id in cli("keys", "list", "--all").output
    assert ("api_key.revoked", "api_key") in [(a, r) for _, a, r in audit_rows(embedded)]

    assert cli("keys", "revoke", "no-such-id").exit_code == EXIT_REFUSED
    bad_env = cli("keys", "create", "--env", "nope")
    assert bad_env.exit_code == EXIT_REFUSED and "environment 'nope' not found" in bad_env.output
    bad_scope = cli("keys", "create", "--env", "production", "--scopes", "admin")
    assert bad_scope.exit_code == EXIT_CONFIG and "unknown scope" in bad_scope.output
    assert "evaluate, track, manage, client (client alone)" in bad_scope.output


# --- flags, experiments, aggregate, doctor ----------------------------------------------------------

CONFIG = {
    "version": 1,
    "segments": [
        {
            "key": "staff",
            "name": "Staff",
            "conditions": [{"attribute": "email", "operator": "ends_with", "values": ["@example.com"]}],
        }
    ],
    "metrics": [{"key": "purchases", "name": "Purchases", "kind": "binomial", "event_name": "purchase"}],
    "flags": [{"key": "new-checkout", "name": "New checkout", "tags": ["checkout"]}],
    "experiments": [
        {
            "key": "checkout-test",
            "name": "Checkout test",
            "primary_metric": "purchases",
            "variants": [
                {"key": "control", "weight": 50, "is_control": True},
                {"key": "treatment", "weight": 50},
            ],
        }
    ],
}


def write(path: Path, doc: object) -> Path:
    path.write_text(yaml.safe_dump(doc))
    return path


def test_flags_and_experiments__kill_enable_start_pause_aggregate(embedded: Path) -> None:
    applied = cli("import", str(write(embedded.parent / "c.yaml", CONFIG)))
    assert applied.exit_code == 0, applied.output
    assert "created 4, updated 0, unchanged 0" in applied.output

    assert "new-checkout\tNew checkout\tboolean\toff" in cli("flags", "list").output
    enabled = cli("flags", "enable", "new-checkout", "--env", "production", "--reason", "launch")
    assert enabled.exit_code == 0 and "enabled in production" in enabled.output
    assert "new-checkout\tNew checkout\tboolean\ton" in cli("flags", "list").output
    assert "\toff\t" in cli("flags", "list", "--env", "staging").output
    killed = cli("flags", "kill", "new-checkout", "--reason", "incident")
    assert killed.exit_code == 0 and "killed" in killed.output
    assert cli("flags", "kill", "missing").exit_code == EXIT_REFUSED

    assert "checkout-test\tCheckout test\tdraft" in cli("experiments", "list").output
    nothing = cli("aggregate")
    assert "nothing to aggregate" in nothing.output
    assert "is now running" in cli("experiments", "start", "checkout-test").output
    aggregated = cli("aggregate", "--experiment", "checkout-test")
    assert aggregated.exit_code == 0 and "aggregated checkout-test" in aggregated.output
    assert cli("aggregate", "--experiment", "other").exit_code == EXIT_REFUSED
    assert "is now paused" in cli("experiments", "pause", "checkout-test", "--reason", "check").output
    assert "checkout-test\tCheckout test\tpaused" in cli("experiments", "list", "--status", "paused").output
    refused = cli("experiments", "pause", "checkout-test")
    assert refused.exit_code == EXIT_REFUSED and "Traceback" not in refused.output
    assert "is now running" in cli("experiments", "resume", "checkout-test").output

    now = cli("experiments", "aggregate", "checkout-test")
    assert now.exit_code == 0, now.output
    assert now.output.startswith("aggregated checkout-test at 20") and " ms" in now.output
    assert cli("experiments", "aggregate", "checkout-test", "--full").exit_code == 0
    missing = cli("experiments", "aggregate", "other")
    assert missing.exit_code != 0 and "other" in missing.output and "Traceback" not in missing.output

    preview = cli(
        "experiments", "ship", "checkout-test", "--variant", "treatment", "--reason", "won", "--dry-run"
    )
    assert preview.exit_code == 0, preview.output
    assert "only the decision is recorded" in preview.output and "dry run: nothing written" in preview.output
    assert "checkout-test\tCheckout test\trunning" in cli("experiments", "list").output
    unknown = cli("experiments", "ship", "checkout-test", "--variant", "purple", "--reason", "won")
    assert unknown.exit_code == EXIT_REFUSED and "Traceback" not in unknown.output
    shipped = cli("experiments", "ship", "checkout-test", "--variant", "treatment", "--reason", "won")
    assert shipped.exit_code == 0, shipped.output
    assert "experiment 'checkout-test' shipped variant 'treatment' (now completed)" in shipped.output

    actions = {(label.split(":")[0], action) for label, action, _ in audit_rows(embedded)}
    assert {("cli", "flag.enabled"), ("cli", "flag.killed"), ("cli", "experiment.start")} <= actions
    assert {("cli", "experiment.aggregated"), ("cli", "experiment.shipped")} <= actions


def test_doctor__embedded_passes(embedded: Path) -> None:
    result = cli("doctor")
    assert result.exit_code == 0, result.output
    assert "ok  schema     migrated" in result.output
    assert "all checks passed" in result.output
    assert "public url" not in result.output  # embedded: serve links to its own address


def test_doctor__names_where_the_secrets_in_use_come_from(
    embedded: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given the generated files in DATA_DIR: the doctor names them
    output = cli("doctor").output
    assert "signing secret kept in data/secret_key" in output, output
    assert "key(s) kept in data/encryption_keys" in output
    # When the key ring comes from the environment (re-encrypted onto a new key, say)
    from experimently.encryption.keyring import generate_key

    old = (embedded.parent / "encryption_keys").read_text().strip()
    monkeypatch.setenv("EXPERIMENTLY_ENCRYPTION_KEYS", f"{generate_key()},{old}")
    output = cli("doctor").output
    # Then it says so, and that the file is not what to back up (it named the file)
    assert "key ring of 2 key(s) from EXPERIMENTLY_ENCRYPTION_KEYS" in output, output
    assert "holds another, unused: back up the environment's" in output


def test_doctor__restored_without_its_key_ring__fails_and_says_what_to_restore(embedded: Path) -> None:
    # Given a webhook secret encrypted with this installation's key ring
    from experimently.encryption.keyring import KeyRing, generate_key

    ring = (embedded.parent / "encryption_keys").read_text().strip()
    with sqlite3.connect(embedded) as conn:
        conn.execute(
            "INSERT INTO webhooks (id, url, description, event_types, active, format, secret, version, "
            "created_at, updated_at) VALUES ('w1', 'https://example.com/h', '', '[]', 1, 'experimently', "
            "?, 1, '2026-12-07 00:00:00', '2026-12-07 00:00:00')",
            (KeyRing(ring).encrypt("whsec_1"),),
        )
    assert "ok  secrets    every stored secret opens" in cli("doctor").output
    # When the database is restored without its encryption_keys (a new ring is made on start)
    (embedded.parent / "encryption_keys").write_text(generate_key())
    result = cli("doctor")
    # Then the doctor fails and says which file to restore
    assert result.exit_code == 1, result.output
    assert "FAIL  secrets" in result.output and "webhooks.secret: 1" in result.output
    assert "encryption_keys from the backup" in result.output


# --- export / import --------------------------------------------------------------------------------


def test_export_import__round_trip_changes_nothing(embedded: Path) -> None:
    assert cli("import", str(write(embedded.parent / "c.yaml", CONFIG))).exit_code == 0
    exported = cli("export").output
    doc = yaml.safe_load(exported)
    assert [m["key"] for m in doc["metrics"]] == ["purchases"]
    assert doc["flags"][0]["environments"]["production"]["enabled"] is False
    audit_before = len(audit_rows(embedded))

    again = cli("import", str(write(embedded.parent / "out.yaml", doc)))
    assert again.exit_code == 0
    assert "created 0, updated 0, unchanged 4" in again.output
    assert len(audit_rows(embedded)) == audit_before  # nothing written, nothing audited
    assert cli("export").output == exported


def test_import__dry_run_prints_the_diff_and_writes_nothing(embedded: Path) -> None:
    assert cli("import", str(write(embedded.parent / "c.yaml", CONFIG))).exit_code == 0
    doc = yaml.safe_load(cli("export").output)
    doc["flags"][0]["name"] = "Newer checkout"
    doc["segments"].append({"key": "vip", "name": "VIP", "conditions": []})
    path = write(embedded.parent / "edit.yaml", doc)
    before = cli("export").output

    audited = len(audit_rows(embedded))
    dry = cli("import", str(path), "--dry-run")
    assert dry.exit_code == 0
    assert "-name: New checkout" in dry.output and "+name: Newer checkout" in dry.output
    assert "+++ b/segments/vip" in dry.output
    assert "would create 1, would update 1, unchanged 3 (dry run: nothing written)" in dry.output
    assert cli("export").output == before
    assert len(audit_rows(embedded)) == audited  # applied, then rolled back: no audit record stays

    applied = cli("import", str(path))
    assert "created 1, updated 1, unchanged 3" in applied.output
    after = yaml.safe_load(cli("export").output)
    assert after["flags"][0]["name"] == "Newer checkout"
    assert ("flag.updated", "flag") in [(a, r) for _, a, r in audit_rows(embedded)]


def test_import__refused_item_leaves_everything_as_it_was(embedded: Path) -> None:
    doc = {
        "segments": [{"key": "fine", "name": "Fine"}],
        "flags": [{"key": "bad", "name": "Bad", "environments": {"production": {"off_variation": "nope"}}}],
    }
    result = cli("import", str(write(embedded.parent / "bad.yaml", doc)))
    assert result.exit_code == EXIT_REFUSED
    assert "Traceback" not in result.output
    assert "error: flag 'bad': " in result.output  # which item of the file, not only why
    assert yaml.safe_load(cli("export").output)["segments"] == []


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("flags: [", "is not valid YAML"),
        ("- 1\n- 2\n", "expected a mapping"),
        ("widgets: []\n", "unknown section(s) widgets"),
        ("flags:\n  - name: no key\n", "'flags' must be a list of mappings, each with a key"),
        ("version: 9\n", "format version 9 is not supported"),
    ],
)
def test_import__bad_documents_refused_with_one_line(embedded: Path, content: str, message: str) -> None:
    path = embedded.parent / "bad.yaml"
    path.write_text(content)
    result = cli("import", str(path))
    assert result.exit_code == EXIT_CONFIG
    assert message in result.output


def test_import__missing_file(embedded: Path) -> None:
    result = cli("import", "no-such.yaml")
    assert result.exit_code == EXIT_CONFIG and "cannot read no-such.yaml" in result.output


def test_typos_refused__not_read_as_everything_off_or_nothing_there(embedded: Path) -> None:
    """An operator walk: ``flags list --env prod`` listed every flag as off (exit 0), ``experiments
    list --status bogus`` an empty list, and ``export -o`` to a missing folder a traceback."""
    assert cli("import", str(write(embedded.parent / "c.yaml", CONFIG))).exit_code == 0
    env = cli("flags", "list", "--env", "prod")
    assert env.exit_code == EXIT_REFUSED and "environment 'prod' not found" in env.output
    status = cli("experiments", "list", "--status", "bogus")
    assert status.exit_code == EXIT_CONFIG
    assert "unknown status 'bogus': one of draft, scheduled, running" in status.output
    assert "checkout-test" in cli("experiments", "list", "--status", "draft").output
    target = embedded.parent / "no-such-folder" / "x.yaml"
    export = cli("export", "-o", str(target))
    assert export.exit_code == EXIT_CONFIG and "Traceback" not in export.output
    assert export.output.strip() == f"error: cannot write {target}: No such file or directory"


# --- serve --workers ---------------------------------------------------------------------------------


def test_worker_count__one_embedded_every_core_with_postgres_and_redis(tmp_path: Path) -> None:
    from experimently.cli.server import worker_count
    from experimently.config import Settings

    embedded = Settings(data_dir=tmp_path)
    assert worker_count(embedded, None) == 1
    assert worker_count(embedded, 1) == 1
    shared = Settings(
        data_dir=tmp_path,
        database_url="postgresql+asyncpg://u@127.0.0.1:18799/x",
        redis_url="redis://127.0.0.1:18798/0",
        secret_key=SECRET,
    )
    assert worker_count(shared, None) == (os.cpu_count() or 1)
    assert worker_count(shared, 3) == 3
    without_redis = Settings(
        data_dir=tmp_path, database_url="postgresql+asyncpg://u@127.0.0.1:18799/x", secret_key=SECRET
    )
    assert worker_count(without_redis, None) == 1
    from experimently.cli.common import CliError

    with pytest.raises(CliError, match="needs an external database and Redis"):
        worker_count(without_redis, 2)
    with pytest.raises(CliError, match="at least 1"):
        worker_count(shared, 0)


def test_serve_first_start__announces_console_url_and_the_password(
    folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """What a new user reads when ``make run`` starts: where the console is, and the admin login once."""
    from experimently.cli.server import _announce
    from experimently.config import Settings

    settings = Settings().model_copy(update={"public_url": "http://127.0.0.1:9000"})  # serve's own
    _announce(settings, "generated-password", "http://0.0.0.0:9000", 1)
    out = capsys.readouterr().out
    assert "Experimently is starting on http://0.0.0.0:9000" in out
    assert "Sign in to the web console at http://127.0.0.1:9000" in out  # an address a browser opens
    assert "password: generated-password" in out and "shown ONCE" in out

    _announce(Settings(), None, "http://127.0.0.1:8000", 1)  # a restart: no password, no sign-in line
    out = capsys.readouterr().out
    assert "password" not in out and "Sign in" not in out


@pytest.mark.parametrize(
    ("host", "port", "url"),
    [
        ("127.0.0.1", 9000, "http://127.0.0.1:9000"),
        ("0.0.0.0", 8000, "http://127.0.0.1:8000"),  # a wildcard is shown as the loopback
        ("::1", 8080, "http://[::1]:8080"),
        ("flags.internal", 80, "http://flags.internal:80"),
    ],
)
def test_serve_public_url__its_own_address_unless_configured(
    folder: Path, monkeypatch: pytest.MonkeyPatch, host: str, port: int, url: str
) -> None:
    """``PORT=9000 make run``: webhook deliveries and the OIDC redirect link to port 9000, not 8000."""
    from experimently.cli.server import with_public_url
    from experimently.config import Settings

    monkeypatch.delenv("EXPERIMENTLY_PUBLIC_URL", raising=False)
    assert with_public_url(Settings(), host, port).public_url == url
    assert os.environ["EXPERIMENTLY_PUBLIC_URL"] == url  # the HTTP worker processes read it

    monkeypatch.setenv("EXPERIMENTLY_PUBLIC_URL", "https://flags.example.com")
    assert with_public_url(Settings(), host, port).public_url == "https://flags.example.com"


def test_import__dry_run_refuses_what_the_import_would_refuse(embedded: Path) -> None:
    """A dry run in a pull request's check must fail where the import would, not say "would create"."""
    flag = {
        "key": "checkout-v3",
        "name": "Checkout v3",
        "variations": [{"key": "on", "value": True}, {"key": "off", "value": False}],
        "environments": {
            "production": {
                "enabled": True,
                "rules": [
                    {
                        "id": "r1",
                        "conditions": [{"attribute": "country", "operator": "equals", "values": ["DE"]}],
                        "serve": {"variation": "on"},
                    }
                ],
            }
        },
    }
    path = write(embedded.parent / "bad.yaml", {"flags": [flag]})
    before = cli("export").output
    dry = cli("import", str(path), "--dry-run")
    real = cli("import", str(path))
    assert dry.exit_code == real.exit_code == EXIT_REFUSED
    assert "operator" in dry.output and "would create" not in dry.output
    assert dry.output.splitlines()[-1] == real.output.splitlines()[-1]  # the same refusal
    assert cli("export").output == before


def test_import__unquoted_yaml_on_off_says_to_quote_them(embedded: Path) -> None:
    """YAML 1.1 reads `key: on` as true: the refusal says why, and how to write it."""
    path = embedded.parent / "onoff.yaml"
    path.write_text(
        "flags:\n"
        "  - key: dark-mode\n"
        "    name: Dark mode\n"
        "    variations: [{key: on, value: true}, {key: off, value: false}]\n"
    )
    result = cli("import", str(path), "--dry-run")
    assert result.exit_code == EXIT_REFUSED
    assert "variations.0.key" in result.output
    assert "got true: quote on/off/yes/no in YAML, e.g. key: 'on'" in result.output
    path.write_text(path.read_text().replace("key: on", "key: 'on'").replace("key: off", "key: 'off'"))
    assert cli("import", str(path)).exit_code == 0


def test_explain__a_closed_pipe_is_not_an_unreachable_database() -> None:
    # "experimently keys list | head -5" said "cannot connect (...): Broken pipe" and exited 3; the
    # error is left to click, which ends quietly
    from experimently.cli.common import explain

    assert explain(BrokenPipeError(32, "Broken pipe"), None) is None
    assert explain(ConnectionRefusedError(111, "refused"), None) is not None
