"""`make bench` end to end, small (`make bench-check`, not part of `make test`: it trains the
`rasa init` baseline and starts both bots, several minutes): the baseline made by `rasa init`, both bots' servers started,
every measure taken once (1 and 2 concurrent users), the in-process component times. Training and
the cold start are left out here (tens of minutes); their code is shared with the stages that run."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from bench.servers import REPO_ROOT

MODEL = REPO_ROOT / "bot" / "models" / "reluctant-partner-coach.tar.gz"


def test_both_bots_are_measured_side_by_side(tmp_path):
    if not MODEL.exists():
        pytest.fail("no trained model: run `make train` (make bench-check does)")
    done = subprocess.run(
        [
            sys.executable,
            "bench/compare.py",
            "--runs",
            "1",
            "--levels",
            "1,2",
            "--skip",
            "train,cold",
            "--results",
            str(tmp_path),
        ],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=1500,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    result = json.loads(next(tmp_path.glob("compare-*.json")).read_text())
    for key in ("ours", "baseline"):
        run = result["bots"][key]["servers"][0]
        assert 0 < run["startup_s"] < 600
        assert run["rasa_peak_rss_mib"] > 100  # Rasa with TensorFlow loaded
        assert len(run["parse_s"]) == 3 * 36 and len(run["single_turn_s"]) == 24
        for users in ("1", "2"):
            level = run["levels"][users]
            assert level["errors"] == 0, level["error_samples"]
            assert level["messages"] >= 14 * int(users) and level["messages_per_s"] > 0
        components = result["bots"][key]["components"][0]
        assert components["messages"] > 800 and components["parse_ms"]["mean"] > 0
    assert result["bots"]["ours"]["servers"][0]["actions_peak_rss_mib"] > 30
    assert result["bots"]["baseline"]["servers"][0]["actions_peak_rss_mib"] is None
    assert 0 < result["bots"]["ours"]["components"][0]["safety_component_ms_per_message"] < 50
    assert result["bots"]["baseline"]["components"][0]["safety_component_ms_per_message"] is None
    table = done.stdout
    assert "| single-turn reply, p50 | ms |" in table and "| conversation reply, 2 users, p95 | ms |" in table
