"""bench/profile_servers.py: py-spy's samples grouped by what the server was doing, and the
Markdown section it rewrites. (The profiling itself needs running servers and ptrace: run the script.)"""

from __future__ import annotations

import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT / "bench"))

import profile_servers  # noqa: E402

ROOT = "handle_request (handle_request:83);receive (rasa/core/channels/rest.py:162)"


def test_samples_are_grouped_inclusive_and_innermost(tmp_path):
    raw = tmp_path / "rasa.txt"
    raw.write_text(
        "\n".join(
            [
                ROOT
                + ";_parse_message_with_graph (rasa/core/processor.py:774);encode (bot/nlu/sentence_encoder.py:412) 6",
                ROOT + ";get_tracker (rasa/core/processor.py:391);retrieve (rasa/core/tracker_store.py:1440)"
                ";from_parameters (rasa/shared/core/events.py:324) 3",
                ROOT + ";save_tracker (rasa/core/processor.py:1095);save (bot/stores.py:106) 1",
                "garbage line without a count",
                "serve_single (sanic/server/runners.py:206);serve (sanic/server/runners.py:155) 5",  # waiting: apart
            ]
        )
        + "\n"
    )
    summary = profile_servers.summarise(raw)
    groups = {g["group"]: g for g in summary["groups"]}
    assert summary["samples"] == 10 and summary["idle_samples"] == 5
    assert groups["sentence encoder (ONNX Runtime)"] == {
        "group": "sentence encoder (ONNX Runtime)",
        "in": 60.0,
        "self": 60.0,
    }
    assert groups["NLU graph (Rasa + dask)"]["in"] == 60.0 and groups["NLU graph (Rasa + dask)"]["self"] == 0.0
    assert groups["tracker loading (SQL + replay)"]["in"] == 30.0
    assert groups["event deserialisation"]["self"] == 30.0
    assert groups["tracker saving (SQL)"]["self"] == 10.0
    assert sum(g["self"] for g in summary["groups"]) == 100.0
    assert summary["top_frames"][0]["in"] == 100.0  # the request's root frame


def test_the_markdown_section_is_replaced_or_appended(tmp_path):
    doc = tmp_path / "benchmarks.md"
    doc.write_text("# Benchmarks\n\nkept text\n")
    profile_servers.update_markdown(doc, "first table")
    profile_servers.update_markdown(doc, "second table")
    text = doc.read_text()
    assert text.count(profile_servers.BEGIN) == 1 and "second table" in text and "first table" not in text
    assert text.startswith("# Benchmarks\n\nkept text\n")
