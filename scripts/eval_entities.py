"""5-fold cross-validation of the entity extractor alone (PhraseEntityExtractor), in seconds.

`make eval` runs Rasa's own cross-validation of the whole NLU pipeline; Rasa keeps every entity
synonym in every fold, and the synonym lists repeat most annotated phrases, so a phrase extractor
is partly tested on phrases it has seen. This script also runs the stricter protocol: each fold
keeps only the synonyms whose text is annotated in that fold's training part, so the test phrases
are truly unseen. Both use the message's true intent (the extractor reads the predicted one in
the bot) and Rasa's way of scoring: labels per token, F1 weighted by support, `no entity` left out.

    python scripts/eval_entities.py            # both protocols, per entity and overall
    python scripts/eval_entities.py --errors   # ... and the messages it got wrong (strict protocol)
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Dict, List, Tuple
from unittest.mock import MagicMock

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def token_labels(message, entities) -> List[str]:
    from rasa.nlu.constants import TOKENS_NAMES

    labels = []
    for token in message.get(TOKENS_NAMES["text"]):
        label = "O"
        for entity in entities:
            if token.start < entity["end"] and entity["start"] < token.end:
                label = entity["entity"]
        labels.append(label)
    return labels


def run(strict: bool, folds: int, seed: int) -> Tuple[Dict[str, Tuple[float, float, float, int]], float, List]:
    from rasa.nlu.constants import TOKENS_NAMES
    from rasa.nlu.tokenizers.tokenizer import Token
    from rasa.shared.nlu.training_data.loading import load_data
    from rasa.shared.nlu.training_data.message import Message
    from rasa.shared.nlu.training_data.training_data import TrainingData
    from sklearn.metrics import f1_score, precision_recall_fscore_support
    from sklearn.model_selection import StratifiedKFold

    from bot.nlu.entity_extractor import PhraseEntityExtractor
    from bot.nlu.pipeline import load as load_spacy

    nlp = load_spacy()
    data = load_data(str(ROOT / "bot" / "data" / "nlu"))
    examples = [e for e in data.training_examples if e.get("text")]
    for example in examples:
        example.set(TOKENS_NAMES["text"], [Token(t.text, t.idx, lemma=t.lemma_) for t in nlp(example.get("text"))])
    gold, predicted, errors = [], [], []
    splits = StratifiedKFold(folds, shuffle=True, random_state=seed).split(
        examples, [e.get("intent") for e in examples]
    )
    for train_index, test_index in splits:
        train = TrainingData([examples[i] for i in train_index], entity_synonyms=dict(data.entity_synonyms))
        if strict:
            seen = {
                e.get("text")[x["start"] : x["end"]].lower()
                for e in train.training_examples
                for x in e.get("entities") or []
            }
            train.entity_synonyms = {k: v for k, v in data.entity_synonyms.items() if k.lower() in seen}
        extractor = PhraseEntityExtractor(PhraseEntityExtractor.get_default_config(), MagicMock(), MagicMock())
        extractor.persist = lambda: None  # nothing to store
        extractor.train(train)
        for i in test_index:
            example = examples[i]
            message = Message(
                data={
                    "text": example.get("text"),
                    "intent": {"name": example.get("intent")},
                    TOKENS_NAMES["text"]: example.get(TOKENS_NAMES["text"]),
                }
            )
            found = extractor.extract(message)
            gold += token_labels(example, example.get("entities") or [])
            predicted += token_labels(example, found)
            expected = sorted((x["entity"], str(x["value"])) for x in example.get("entities") or [])
            got = sorted((x["entity"], str(x["value"])) for x in found)
            if expected != got:
                errors.append((example.get("intent"), example.get("text"), expected, got))
    labels = sorted(set(gold) - {"O"})
    p, r, f, n = precision_recall_fscore_support(gold, predicted, labels=labels, zero_division=0)
    per_label = {label: (p[i], r[i], f[i], int(n[i])) for i, label in enumerate(labels)}
    return per_label, f1_score(gold, predicted, labels=labels, average="weighted"), errors


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--errors", action="store_true", help="list the messages the strict protocol got wrong")
    args = parser.parse_args()
    for strict in (False, True):
        per_label, weighted, errors = run(strict, args.folds, args.seed)
        name = "strict: synonyms of the training part only" if strict else "Rasa's: all synonyms in every fold"
        print(f"{args.folds}-fold, {name}")
        for label, (p, r, f, n) in per_label.items():
            print(f"  {label:<8} precision {p:.3f}  recall {r:.3f}  F1 {f:.3f}  tokens {n}")
        print(f"  weighted F1 {weighted:.3f}; messages with a wrong or missing entity: {len(errors)}")
        if strict and args.errors:
            for intent, text, expected, got in errors:
                print(f"    [{intent}] {text!r}: expected {expected}, got {got}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
