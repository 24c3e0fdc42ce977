"""bench/compare.py's own logic (no servers, no training): the one-example edit, the figures over
runs, the ratio and target columns, and the section it writes into docs/benchmarks.md."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT / "bench"))

import compare  # noqa: E402


def nlu_examples(path: Path) -> dict:
    data = yaml.safe_load(path.read_text())
    return {
        item["intent"]: [line[2:] for line in item["examples"].splitlines() if line.startswith("- ")]
        for item in data["nlu"]
        if "intent" in item
    }


def test_one_nlu_edit_adds_exactly_one_example_to_the_first_intent(tmp_path):
    original = REPO_ROOT / "bot" / "data" / "nlu" / "basics.yml"
    copy = tmp_path / "basics.yml"
    copy.write_text(original.read_text())
    before = nlu_examples(copy)
    added = compare.edit_one_example(copy)
    after = nlu_examples(copy)
    first = next(iter(before))
    assert after[first] == [added] + before[first]
    assert {k: v for k, v in after.items() if k != first} == {k: v for k, v in before.items() if k != first}


def test_the_baseline_conversations_follow_its_responses(tmp_path):
    (tmp_path / "domain.yml").write_text(
        yaml.safe_dump(
            {"responses": {"utter_greet": [{"text": "Hey! How are you?"}], "utter_goodbye": [{"text": "Bye"}]}}
        )
    )
    bot = compare.BaselineBot(tmp_path)
    assert bot.answered([{"text": "Hey! How are you?"}])
    assert not bot.answered([{"text": "Bye"}])


def test_our_conversations_call_the_load_driver_as_it_expects(monkeypatch):
    # A changed signature in bench/load.py (think became a range) once failed every conversation
    # of `make bench` on the client side, and only the hour-long run showed it.
    import asyncio
    import inspect

    seen = {}
    signature = inspect.signature(compare.load.run_user)

    async def fake_run_user(*args, **kwargs):
        bound = signature.bind(*args, **kwargs)
        seen.update(bound.arguments)

    monkeypatch.setattr(compare.load, "run_user", fake_run_user)
    bot = compare.OurBot()
    user = bot.conversation_users(1)[0]
    asyncio.run(bot.converse(user, None, "http://127.0.0.1:1"))
    low, high = seen["think"]
    assert 0 <= low <= high and seen["targets"] == ["http://127.0.0.1:1"]


def test_spread_is_the_median_with_min_and_max_and_skips_missing_runs():
    assert compare.spread([3.0, None, 1.0, 2.0]) == {
        "median": 2.0,
        "min": 1.0,
        "max": 3.0,
        "runs": [3.0, None, 1.0, 2.0],
    }
    assert compare.spread([None])["median"] is None


def server_run(single_ms, conv_ms, parse_ms, startup, rss, actions_rss=None):
    level = {
        "p50_ms": conv_ms,
        "p95_ms": conv_ms * 2,
        "p99_ms": conv_ms * 3,
        "messages_per_s": 1000 / conv_ms,
        "latencies_s": [conv_ms / 1000] * 3,
        "errors": 0,
        "error_samples": [],
    }
    return {
        "single_turn_s": [single_ms / 1000] * 5,
        "parse_s": [parse_ms / 1000] * 5,
        "startup_s": startup,
        "rasa_peak_rss_mib": rss,
        "actions_peak_rss_mib": actions_rss,
        "levels": {str(u): level for u in compare.LEVELS},
    }


def result(ours_single, base_single, ours_train=200.0):
    return {
        "date": "2026-11-23T00:00:00+00:00",
        "command": "make bench",
        "commit": "0" * 40,
        "uncommitted": [],
        "machine": {"cores": 2, "memory_gib": 23.5, "cpu": "test", "rasa": "3.6.21", "python": "3.10"},
        "runs": {"servers": 2, "train": 1, "cold": 0, "components": 0},
        "cpu": {"other_cores": 0.0, "cores": 2},
        "bots": {
            "ours": {
                "servers": [
                    server_run(ours_single, 100, 10, 20.0, 900.0, 150.0),
                    server_run(ours_single + 10, 100, 10, 22.0, 910.0, 150.0),
                ],
                "train": [{"full_train_s": ours_train, "retrain_one_nlu_edit_s": 50.0}],
            },
            "baseline": {
                "servers": [
                    server_run(base_single, 100, 10, 25.0, 1000.0),
                    server_run(base_single, 100, 10, 25.0, 1000.0),
                ],
                "train": [{"full_train_s": 60.0, "retrain_one_nlu_edit_s": 20.0}],
            },
        },
    }


def row(res, label):
    return next(r for r in compare.rows(res) if r.label == label)


def test_ratio_and_targets():
    res = result(ours_single=115, base_single=100)  # medians 120 (115, 125) against 100
    single = row(res, "single-turn reply, p50")
    assert single.ours["median"] == pytest.approx(120) and single.ours["min"] == pytest.approx(115)
    assert single.ratio == pytest.approx(1.2) and single.met is True
    assert row(result(ours_single=125, base_single=100), "single-turn reply, p50").met is False
    assert row(res, "single-turn reply, p99").met is None  # no target on p99
    assert row(res, "start-up to the first answer").met is True  # 21 s against 25 s
    assert row(res, "Rasa process peak memory").met is True  # 905 MiB against 1000 MiB
    assert row(res, "full training").met is True
    assert row(result(115, 100, ours_train=301.0), "full training").met is False
    actions = row(res, "action server peak memory")
    assert (
        actions.ours["median"] == 150.0 and actions.base["median"] is None and actions.ratio is None
    )  # the stock bot has none


def test_the_section_is_written_before_load_and_replaced_in_place(tmp_path):
    doc = tmp_path / "benchmarks.md"
    doc.write_text("# Benchmarks\n\nintro\n\n## Load\n\nload figures\n")
    compare.update_markdown(doc, result(115, 100))
    text = doc.read_text()
    assert text.index(compare.MARK_BEGIN) < text.index("## Load") and "load figures" in text
    assert "| single-turn reply, p50 | ms | 120 (115–125) | 100 (100–100) | 1.20 | ≤ 1.2 × baseline | yes |" in text
    compare.update_markdown(doc, result(125, 100))
    text = doc.read_text()
    assert text.count(compare.MARK_BEGIN) == 1 and "1.30" in text and "intro" in text and "load figures" in text


def test_the_chart_is_written(tmp_path):
    compare.chart(result(115, 100), tmp_path / "chart.png")
    assert (tmp_path / "chart.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
