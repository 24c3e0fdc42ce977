"""Button titles typed as text: "On your own", "Yes, delete everything", "Start: Offer a test drive".

People type what a button says as often as they tap it (a widget that drops buttons, Telegram's
reply, a screen reader). This NLU component knows every button the bot shows, with its payload, and
when a message is exactly a button's title (case, punctuation and spacing aside) it gives the
message that payload's intent and entities, as a tap would. It runs after the intent classifier
and before the safety gate, which still checks every message.

The titles come from the files that define them: the domain's responses, messages.yml (the
questions' buttons, the readable "did you mean" names, the menu's group names and the buttons the
actions build from its texts), and the coaching steps ("Start: <title>", and the title alone). A
title that two buttons use with different intents is left out (ambiguous); the same title with the
same intent keeps the entities they share.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any, Dict, List, Optional, Text, Tuple

import yaml
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.constants import ENTITIES, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.nlu.forced_intent import force_intent

REPO_ROOT = Path(__file__).resolve().parents[2]
SOURCES = [
    REPO_ROOT / "domain.yml",
    REPO_ROOT / "bot" / "content" / "messages.yml",
    REPO_ROOT / "bot" / "coaching" / "steps.yml",
]
# Buttons the actions build from a messages.yml text, with the payload they give it (bot/actions/).
ACTION_BUTTONS = {
    ("menu", "button_next"): "/what_next",
    ("menu", "button_progress"): "/ask_progress",
    ("menu", "button_support"): "/ask_individual_support",
    ("menu", "button_all"): "/show_menu",
    ("step", "button_menu"): "/show_menu",
    ("step", "button_skip"): "/skip",
    ("fallback", "button_help"): "/ask_help",
    ("fallback", "something_else"): "/out_of_scope",
    ("welcome_back", "button_start_over"): "/start_over",
    ("practice", "button_again"): "/start_practice",
    ("practice", "button_practice"): "/start_practice",
}
_PAYLOAD = re.compile(r"^/(\w+)(\{.*\})?$", re.DOTALL)
_NOT_WORD = re.compile(r"[^\w\s]")


def normalise(text: str) -> str:
    text = str(text or "").replace("\u2019", "'").lower()
    return " ".join(_NOT_WORD.sub(" ", text).split())


def parse_payload(payload: str) -> Optional[Tuple[str, Dict[str, Any]]]:
    match = _PAYLOAD.match(str(payload or "").strip().replace("{{", "{").replace("}}", "}"))
    if not match:
        return None
    try:
        entities = json.loads(match.group(2)) if match.group(2) else {}
    except json.JSONDecodeError:
        return None
    return match.group(1), entities if isinstance(entities, dict) else {}


def _buttons_in(node: Any) -> List[Dict[str, Any]]:
    """Every {title, payload} mapping anywhere in a loaded YAML document."""
    found: List[Dict[str, Any]] = []
    if isinstance(node, dict):
        if "title" in node and "payload" in node:
            found.append(node)
        for value in node.values():
            found += _buttons_in(value)
    elif isinstance(node, list):
        for value in node:
            found += _buttons_in(value)
    return found


def collect_buttons(sources: List[Path] = SOURCES) -> List[Tuple[str, str]]:
    """(title, payload) of every button the bot can show."""
    domain = yaml.safe_load(sources[0].read_text(encoding="utf-8"))
    messages = yaml.safe_load(sources[1].read_text(encoding="utf-8"))
    steps = yaml.safe_load(sources[2].read_text(encoding="utf-8"))
    pairs = [
        (b["title"], b["payload"])
        for b in _buttons_in(domain.get("responses") or {}) + _buttons_in(messages)
        if isinstance(b.get("title"), str) and isinstance(b.get("payload"), str)
    ]
    for (section, key), payload in ACTION_BUTTONS.items():
        text = (messages.get(section) or {}).get(key)
        if isinstance(text, str):
            pairs.append((text, payload))
    for intent, title in ((messages.get("fallback") or {}).get("intents") or {}).items():
        pairs.append((title, f"/{intent}"))
    for group, title in ((messages.get("menu") or {}).get("groups") or {}).items():
        pairs.append((title, '/show_menu{"group": "%s"}' % group))
    start = (messages.get("step") or {}).get("button_continue", "Start: {title}")
    for step in steps.get("steps") or []:
        if step.get("status") == "available":
            payload = '/start_step{"step": "%s"}' % step["id"]
            pairs += [(start.format(title=step["title"]), payload), (step["title"], payload)]
    return pairs


def build_index(pairs: List[Tuple[str, str]]) -> Dict[str, Tuple[str, Dict[str, Any]]]:
    """normalised title -> (intent, entities); titles that mean different intents are left out."""
    index: Dict[str, Tuple[str, Dict[str, Any]]] = {}
    ambiguous = set()
    for title, payload in pairs:
        key = normalise(title)
        parsed = parse_payload(payload)
        if not key or parsed is None or key in ambiguous:
            continue
        if key in index:
            intent, entities = index[key]
            if intent != parsed[0]:
                ambiguous.add(key)
                del index[key]
            else:
                index[key] = (intent, {k: v for k, v in entities.items() if parsed[1].get(k) == v})
            continue
        index[key] = parsed
    return index


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=False)
class ButtonTitleMatcher(GraphComponent):
    """A message that is exactly a button's title gets that button's intent (module docstring)."""

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {}

    @classmethod
    def fingerprint_addon(cls, config: Dict[str, Any]) -> Optional[str]:
        digest = hashlib.sha256()
        for path in SOURCES:
            digest.update(path.read_bytes() if path.exists() else b"")
        return digest.hexdigest()

    def __init__(self, index: Optional[Dict[str, Tuple[str, Dict[str, Any]]]] = None) -> None:
        self.index = index if index is not None else build_index(collect_buttons())

    @classmethod
    def create(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> "ButtonTitleMatcher":
        return cls()

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        return training_data

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            self.match(message)
        return messages

    def match(self, message: Message) -> None:
        text = message.get(TEXT) or ""
        if not text or text.startswith("/") or len(text) > 120:
            return
        found = self.index.get(normalise(text))
        if found is None:
            return
        intent, entities = found
        force_intent(message, intent)
        kept = [e for e in (message.get(ENTITIES) or []) if e.get("entity") not in entities]
        kept += [
            {
                "entity": name,
                "value": value,
                "start": 0,
                "end": len(text),
                "confidence_entity": 1.0,
                "extractor": "ButtonTitleMatcher",
            }
            for name, value in entities.items()
        ]
        message.set(ENTITIES, kept, add_to_output=True)
