"""``ninefold flags …`` on SQLite and (with ``NINEFOLD_TEST_POSTGRES_URL``) PostgreSQL:
create, enable, roll out, schedule, show with history, evaluate, archive, stale."""

from __future__ import annotations

import json
from pathlib import Path

from tests.cli.harness import Ninefold


def test_a_flag_is_created_enabled_rolled_out_and_evaluated(ninefold: Ninefold) -> None:
    created = ninefold("flags", "create", "beta", "--reason", "launch", "--by", "olga")
    enabled = ninefold("flags", "enable", "beta", "--reason", "go", "--by", "olga")
    rolled = ninefold("flags", "rollout", "beta", "50", "--reason", "half", "--by", "olga")
    listed = ninefold("flags", "list")
    shown = ninefold("flags", "show", "beta", "--json")

    assert created.code == 0, created.err
    assert enabled.code == 0, enabled.err
    assert rolled.code == 0, rolled.err
    assert "dev:on 50% test:off prod:off" in listed.out
    detail = json.loads(shown.out)
    config = detail["flag"]["environments"]["development"]
    assert config["enabled"] is True
    assert config["rules"][0]["rollout"] == 50
    assert config["rules"][0]["name"] == "everyone"
    assert [(c["action"], c["actor"], c["reason"]) for c in detail["history"]] == [
        ("updated", "olga", "half"),
        ("updated", "olga", "go"),
        ("created", "olga", "launch"),
    ]
    answers = set()
    for user in ("usr_1", "usr_2", "usr_3", "usr_4", "usr_5", "usr_6", "usr_7", "usr_8"):
        result = ninefold("flags", "evaluate", "beta", "--user", user)
        assert result.code == 0, result.err
        answers.add(json.loads(result.out)["reason"])
    assert answers <= {"rollout", "default"}


def test_enabling_a_boolean_flag_without_rules_turns_it_on_for_everyone(
    ninefold: Ninefold,
) -> None:
    ninefold("flags", "create", "beta", "--reason", "r")
    off = json.loads(ninefold("flags", "evaluate", "beta", "--user", "usr_1").out)

    ninefold("flags", "enable", "beta", "--reason", "go")
    on = json.loads(ninefold("flags", "evaluate", "beta", "--user", "usr_1").out)
    ninefold("flags", "disable", "beta", "--reason", "stop")
    again = json.loads(ninefold("flags", "evaluate", "beta", "--user", "usr_1").out)

    assert (off["value"], off["reason"]) == (False, "disabled")
    assert (on["value"], on["reason"]) == (True, "rule")
    assert (again["value"], again["reason"]) == (False, "disabled")


def test_a_change_without_a_reason_is_a_usage_error(ninefold: Ninefold) -> None:
    refused = ninefold("flags", "create", "beta")
    blank = ninefold("flags", "create", "beta", "--reason", " ")

    assert refused.code == 2
    assert blank.code == 1
    assert "reason" in blank.err


def test_a_change_is_scheduled_with_at(ninefold: Ninefold) -> None:
    ninefold("flags", "create", "beta", "--reason", "r")

    scheduled = ninefold(
        "flags", "enable", "beta", "--reason", "at launch", "--at", "2999-01-01T09:00:00+00:00"
    )
    shown = ninefold("flags", "show", "beta", "--json")

    assert scheduled.code == 0, scheduled.err
    assert "scheduled fsc_" in scheduled.out
    detail = json.loads(shown.out)
    assert [s["reason"] for s in detail["schedules"]] == ["at launch"]
    assert detail["flag"]["environments"] == {}


def test_set_applies_a_json_change(ninefold: Ninefold, tmp_path: Path) -> None:
    ninefold("flags", "create", "beta", "--reason", "r")
    change = tmp_path / "change.json"
    change.write_text(
        json.dumps(
            {
                "client_visible": True,
                "environments": {
                    "production": {
                        "enabled": True,
                        "rules": [
                            {
                                "constraints": [
                                    {"attribute": "plan", "operator": "in", "values": ["pro"]}
                                ]
                            }
                        ],
                    }
                },
            }
        )
    )

    changed = ninefold("flags", "set", "beta", "--file", str(change), "--reason", "pro only")
    pro = ninefold("flags", "evaluate", "beta", "--plan", "pro", "--env", "production")
    free = ninefold("flags", "evaluate", "beta", "--plan", "free", "--env", "production")

    assert changed.code == 0, changed.err
    assert json.loads(pro.out)["value"] is True
    assert json.loads(free.out)["value"] is False


def test_archive_turns_a_flag_off_and_unknown_flags_fail(ninefold: Ninefold) -> None:
    ninefold("flags", "create", "beta", "--reason", "r")
    ninefold("flags", "enable", "beta", "--reason", "r")

    archived = ninefold("flags", "archive", "beta", "--reason", "done")
    result = json.loads(ninefold("flags", "evaluate", "beta").out)
    missing = ninefold("flags", "enable", "nope", "--reason", "r")
    stale = ninefold("flags", "stale", "--json")

    assert archived.code == 0, archived.err
    assert (result["value"], result["reason"]) == (False, "disabled")
    assert missing.code == 1
    assert "no flag 'nope'" in missing.err
    assert json.loads(stale.out) == []
