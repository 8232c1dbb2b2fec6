"""`pasar account ...` builds the documented policy arguments; bad options are one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from cli.main import cli
from cli.signing import read_signing_file
from contracts.account import parse_policy
from ledger.keys import address_to_text
from tests.chainkit import key

ACCOUNT, PHONE, FRIEND, SHOP = key("account"), key("phone"), key("friend"), key("shop")
OFFLINE = ["--chain-id", "pasar-test", "--nonce", "4"]


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def name(k: object) -> str:
    return address_to_text(k.public_key)  # type: ignore[attr-defined]


def test_recover_writes_a_signing_file_with_the_policy(tmp_path: Path) -> None:
    out = tmp_path / "recover.json"
    result = run(
        "account", "recover", "--from", name(ACCOUNT),
        "--policy-key", f"{name(PHONE)}=2", "--policy-key", name(FRIEND), "--thresholds", "1,2,3",
        "--large-amount", "5000", "--scoped", f"{name(SHOP)}=invoice.create,escrow.ship@700",
        "--recovery-key", name(FRIEND), "--recovery-delay", "2d",
        "--unsigned", "--out", str(out), *OFFLINE, "--json",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    tx, signatures = read_signing_file(out)
    assert signatures == [] and tx.method == "account.recover" and tx.nonce == 4
    assert tx.sender == ACCOUNT.public_key
    policy = parse_policy(tx.args[0])  # the contract's own validation accepts it
    assert dict(policy.keys) == {PHONE.public_key: 2, FRIEND.public_key: 1}
    assert policy.thresholds == (1, 2, 3) and policy.large_amount == 5000
    assert policy.scoped[0].methods == ("escrow.ship", "invoice.create")
    assert policy.scoped[0].allowance == 700
    assert policy.recovery is not None and policy.recovery.delay_ms == 2 * 86_400_000
    assert policy.recovery.threshold == 1
    assert json.loads(out.read_text())["method"] == "account.recover"


def test_cancel_recovery_has_no_arguments(tmp_path: Path) -> None:
    out = tmp_path / "cancel.json"
    result = run(
        "account", "cancel-recovery", "--from", name(ACCOUNT), "--unsigned", "--out", str(out),
        *OFFLINE,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    tx, _ = read_signing_file(out)
    assert tx.method == "account.cancel_recovery" and tx.args == ()


@pytest.mark.parametrize(
    ("options", "error"),
    [
        (["--policy-key", "nobody"], "neither a valid address"),
        (["--policy-key", "{phone}=0"], "weight must be 1..255"),
        (["--policy-key", "{phone}", "--policy-key", "{phone}"], "given twice"),
        (["--policy-key", "{phone}", "--thresholds", "1,2"], "LOW,MEDIUM,HIGH"),
        (["--policy-key", "{phone}", "--recovery-threshold", "1"], "needs at least one"),
        (["--policy-key", "{phone}", "--scoped", "{phone}"], "KEY=METHOD"),
        (
            ["--policy-key", "{phone}", "--recovery-key", "{phone}", "--recovery-delay", "soon"],
            "duration",
        ),
    ],
)
def test_bad_policy_options_are_one_line_errors(options: list[str], error: str) -> None:
    filled = [item.replace("{phone}", name(PHONE)) for item in options]
    result = run("account", "policy", "set", "--from", name(ACCOUNT), *filled, "--unsigned",
                 *OFFLINE)  # fmt: skip
    assert result.exit_code != 0
    assert error in result.output and "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1
