"""Cut short chat-sized units out of public Reddit datasets, for labelling (docs/data.md).

Not run by `make`: the raw datasets are not in the repository (only the labelled units are kept).
Given the folders that hold them, it writes one JSON line per unit: an id, the stratum it was
drawn for, the source subreddit and a hash of the source post (to keep a post's units in one
split), and the text. Authors, links and post ids are never written.

    python scripts/real_corpus_units.py --reddit DIR --dreaddit DIR --out units.jsonl

Sources (licences in docs/data.md): umbrae/reddit-top-2.5-million (top posts of 2013, one CSV per
subreddit) and the Dreaddit corpus (Turcan & McKeown 2019: five-sentence segments of posts from
r/domesticviolence, r/survivorsofabuse, r/relationships, r/ptsd and others).
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import random
import re
from pathlib import Path
from typing import Dict, Iterable, Iterator, List, Tuple

csv.field_size_limit(10**9)

SEED = 20261207

# Stratum -> (sources, how many units). Sources are "reddit:<file stem>" or "dreaddit:<subreddit>".
RELATIONSHIP_SOURCES = [
    "reddit:relationships",
    "reddit:relationship_advice",
    "reddit:dating_advice",
    "reddit:BreakUps",
    "reddit:relationship_tips",
    "reddit:offmychest",
    "reddit:confession",
    "reddit:confessions",
    "reddit:TwoXChromosomes",
    "reddit:needadvice",
    "reddit:Advice",
    "reddit:legaladvice",
    "dreaddit:relationships",
]
GENERAL_SOURCES = [
    "reddit:AskReddit",
    "reddit:AskWomen",
    "reddit:AskMen",
    "reddit:teenagers",
    "reddit:Parenting",
    "reddit:Mommit",
    "reddit:daddit",
    "reddit:Anxiety",
]
STRATA = {
    # Survivor accounts and abuse forums: explicit and indirect disclosures, and their context.
    "abuse_forums": (["dreaddit:domesticviolence", "dreaddit:survivorsofabuse"], 1300),
    # Crisis and low-mood posts: explicit and passive self-harm, hopelessness without risk.
    "crisis": (["reddit:SuicideWatch", "reddit:depression", "dreaddit:ptsd"], 550),
    # Ordinary relationship posts, drawn at random: mostly conflict and other.
    "relationships": (RELATIONSHIP_SOURCES, 1000),
    # Any source, only units with a violent word: idioms and banter, and real danger in passing.
    "violent_words": (RELATIONSHIP_SOURCES + GENERAL_SOURCES, 700),
    # Relationship posts with a word of control, money, monitoring, isolation or fear: indirect
    # signs and the ordinary sentences that share their words.
    "control_words": (RELATIONSHIP_SOURCES, 500),
    # Post titles: short, often the whole situation in one line.
    "titles": (
        [
            "reddit:relationships",
            "reddit:relationship_advice",
            "reddit:SuicideWatch",
            "reddit:TwoXChromosomes",
            "reddit:BreakUps",
            "reddit:offmychest",
        ],
        300,
    ),
}

# A second round, drawn after the first was labelled, where the first was thin: indirect signs
# (survivor accounts and relationship posts with a word of control) and explicit danger in passing.
STRATA_ROUND_2 = {
    "abuse_forums": (["dreaddit:domesticviolence", "dreaddit:survivorsofabuse"], 900),
    "control_words": (RELATIONSHIP_SOURCES, 600),
    "violent_words": (RELATIONSHIP_SOURCES + GENERAL_SOURCES, 300),
    "crisis": (["reddit:SuicideWatch", "reddit:depression"], 200),
}

VIOLENT = re.compile(
    r"\b(kill\w*|murder\w*|die|died|dying|dead|death|suicid\w*|hit|hits|hitting|punch\w*|slap\w*|kick\w*|"
    r"beat|beats|beating|beaten|chok\w*|strangl\w*|shoot\w*|shot|gun\w*|knife|knives|stab\w*|hurt\w*|"
    r"abus\w*|rape\w*|raping|threat\w*|attack\w*|violen\w*|bruis\w*|scream\w*|smash\w*|throw\w*|threw|"
    r"strangle|hang|hanging|overdos\w*|pills|cut|cutting|blood\w*|weapon\w*|destroy\w*)\b",
    re.I,
)
CONTROL = re.compile(
    r"\b(allow\w*|let me|lets me|permission|forbid\w*|won't let|controll?\w*|check\w* my|my phone|"
    r"password\w*|track\w*|location|follow\w*|spy\w*|read my|go through my|money|paycheck|bank|"
    r"allowance|credit card|my friends|my family|isolat\w*|afraid|scared|terrified|fear\w*|walk on eggshells|"
    r"eggshells|careful what|mood|temper|rage|jealous\w*|accus\w*|blam\w*|yell\w*|insult\w*|call\w* me|"
    r"worthless|stupid|crazy|sex|pressur\w*|guilt\w*)\b",
    re.I,
)

_URL = re.compile(r"(https?://\S+|www\.\S+|\S+\.(com|org|net|ly)/\S*)", re.I)
_USER = re.compile(r"(?<!\w)/?u/[\w-]+", re.I)
_SUB = re.compile(r"(?<!\w)/?r/[\w-]+", re.I)
_EMAIL = re.compile(r"\S+@\S+\.\w+")
_PHONE = re.compile(r"\b\d{3}[-. ]\d{3}[-. ]\d{4}\b")
_MARKDOWN = re.compile(r"[*_>#~`\[\]]+")
_SPACE = re.compile(r"\s+")
_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[\"'(A-Z0-9])|\n+")
_EDIT = re.compile(r"^(edit|update|tl;?dr|eta)\b", re.I)


def clean(text: str) -> str:
    text = _URL.sub("", text)
    text = _USER.sub("", text)
    text = _SUB.sub("", text)
    text = _EMAIL.sub("", text)
    text = _PHONE.sub("", text)
    text = text.replace("&amp;", "&").replace("&gt;", ">").replace("&lt;", "<")
    text = _MARKDOWN.sub(" ", text)
    return _SPACE.sub(" ", text).strip()


def sentences(text: str) -> List[str]:
    out = []
    for part in _SENTENCE.split(text.replace("\r", "")):
        part = clean(part)
        if part and not _EDIT.match(part):
            out.append(part)
    return out


def read_posts(reddit: Path, dreaddit: Path, source: str) -> Iterator[Tuple[str, str, List[str]]]:
    """(post key, title, body sentences) of one source."""
    kind, name = source.split(":")
    if kind == "reddit":
        with open(reddit / f"{name}.csv", encoding="utf-8") as f:
            for row in csv.DictReader(f):
                yield row["id"], clean(row["title"]), sentences(row["selftext"])
    else:
        for split in ("train", "test"):
            with open(dreaddit / f"dreaddit-{split}.csv", encoding="utf-8") as f:
                for row in csv.DictReader(f):
                    if row["subreddit"] == name:
                        yield row["post_id"], "", sentences(row["text"])


def windows(body: List[str], rng: random.Random) -> Iterator[str]:
    """Units of one or two consecutive sentences, 4 to 60 words."""
    i = 0
    while i < len(body):
        size = 1 if rng.random() < 0.55 else 2
        unit = " ".join(body[i : i + size])
        words = len(unit.split())
        if size == 2 and words > 60:
            unit, size = body[i], 1
            words = len(unit.split())
        if 4 <= words <= 60:
            yield unit
        i += size


def post_hash(source: str, key: str) -> str:
    return hashlib.sha1(f"{source}:{key}".encode()).hexdigest()[:10]


def build(
    reddit: Path,
    dreaddit: Path,
    strata: Dict = STRATA,
    earlier: List[Dict[str, str]] = (),
    seed: int = SEED,
    first_id: int = 1,
    per_post_cap: int = 3,
) -> List[Dict[str, str]]:
    rng = random.Random(seed)
    seen = {re.sub(r"\W+", " ", u["text"].lower()).strip() for u in earlier}
    earlier_per_post: Dict[str, int] = {}
    for unit in earlier:
        earlier_per_post[unit["post"]] = earlier_per_post.get(unit["post"], 0) + 1
    units: List[Dict[str, str]] = []
    for stratum, (sources, wanted) in strata.items():
        pool = []
        for source in sources:
            for key, title, body in read_posts(reddit, dreaddit, source):
                group = post_hash(source, key)
                if stratum == "titles":
                    if 4 <= len(title.split()) <= 40:
                        pool.append((source, group, title))
                    continue
                for unit in windows(body, rng):
                    if stratum == "violent_words" and not VIOLENT.search(unit):
                        continue
                    if stratum == "control_words" and not CONTROL.search(unit):
                        continue
                    pool.append((source, group, unit))
        rng.shuffle(pool)
        per_post = dict(earlier_per_post)  # counted per stratum
        taken = 0
        for source, group, text in pool:
            norm = re.sub(r"\W+", " ", text.lower()).strip()
            # At most a few units a post, so no single story dominates.
            if norm in seen or per_post.get(group, 0) >= per_post_cap:
                continue
            seen.add(norm)
            per_post[group] = per_post.get(group, 0) + 1
            units.append({"stratum": stratum, "source": source.split(":")[1], "post": group, "text": text})
            taken += 1
            if taken >= wanted:
                break
    rng.shuffle(units)
    for n, unit in enumerate(units, first_id):
        unit["id"] = f"r{n:05d}"
    return units


def main(argv: Iterable[str] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reddit", type=Path, required=True)
    parser.add_argument("--dreaddit", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--round", type=int, choices=[1, 2], default=1)
    parser.add_argument("--earlier", type=Path, help="round 2: the first round's units (not drawn again)")
    args = parser.parse_args(argv)
    if args.round == 1:
        units = build(args.reddit, args.dreaddit)
    else:
        with open(args.earlier, encoding="utf-8") as f:
            earlier = [json.loads(line) for line in f]
        units = build(args.reddit, args.dreaddit, STRATA_ROUND_2, earlier, seed=SEED + 2, first_id=5001, per_post_cap=6)
    with open(args.out, "w", encoding="utf-8") as f:
        for unit in units:
            f.write(json.dumps({k: unit[k] for k in ("id", "stratum", "source", "post", "text")}) + "\n")
    counts: Dict[str, int] = {}
    for unit in units:
        counts[unit["stratum"]] = counts.get(unit["stratum"], 0) + 1
    print(len(units), "units", counts)


if __name__ == "__main__":
    main()
