"""Load test: N simulated users hold full coaching conversations over REST at the same time.

Each user (a fresh random 32-hex sender id) says hello, goes through onboarding (consent to storing,
safe to talk, country, the screening items answered at once with "None of these"), asks "what's next?", does
the suggested step and types its reflective answer, asks "what's next?" again, reports what the
partner says (an objection), does the step the answer offers, asks for the progress and says
goodbye: 14 messages, strictly one after another (each waits for its reply). Users start spread
over a ramp and run concurrently (asyncio + aiohttp). Every reply is checked loosely but
meaningfully (the next onboarding question, the step's reflective question, "saved your answer",
the step titles in the progress, no escalation), so a misrouted conversation counts as an error;
a user stops at the first error. Afterwards every row the bot confirmed is looked up in the
progress database: a users row with consent, region and onboarding date, each step done in
step_progress with completed_at, each typed answer in reflections, and no safety flag.

    python bench/load.py --start                    # starts scripts/run.sh on free ports, 50 users
    python bench/load.py --rasa-url http://127.0.0.1:5005 --progress-db-url sqlite:///var/progress.db
    python bench/load.py --start scaled             # scripts/run_scaled.sh (two Rasa processes)

Prints a table, writes results/bench/load-<time>.json (with the machine, the commit and the
model), and with --markdown rewrites this setup's part of the "Load" section of
docs/benchmarks.md. Exits 1 when there was any error or any lost row.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import hashlib
import json
import os
import platform
import random
import re
import secrets
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))


def _makefile_defaults() -> None:
    """The Makefile's `export NAME ?= value` defaults, so servers started without make see them too."""
    for line in (REPO_ROOT / "Makefile").read_text(encoding="utf-8").splitlines():
        match = re.match(r"export (\w+) [?:]= ?(.*)$", line)
        value = match.group(2).strip().replace("$(CURDIR)", str(REPO_ROOT)) if match else "$("
        if "$(" not in value:
            os.environ.setdefault(match.group(1), value)


_makefile_defaults()

import aiohttp  # noqa: E402
import yaml  # noqa: E402

from bench.servers import us_dv_number  # noqa: E402
from bot.coaching import curriculum  # noqa: E402
from bot.coaching.menu import start_payload  # noqa: E402

MODEL = REPO_ROOT / "bot" / "models" / "reluctant-partner-coach.tar.gz"
RESULTS = REPO_ROOT / "results" / "bench"
MARKDOWN = REPO_ROOT / "docs" / "benchmarks.md"
SCALED_SCRIPT = REPO_ROOT / "scripts" / "run_scaled.sh"
DEFAULT_URL = "http://127.0.0.1:5005"
WEBHOOK = "/webhooks/rest/webhook"
REGION = "US"
OTHER_CPU_WARNING = 0.2  # cores used by processes not part of the benchmark: above this, say the figures are skewed

# What the partner says, and the step the bot's answer must offer first.
OBJECTIONS = [
    ("my partner says it's too expensive", "budget"),
    ("my husband says we can't afford couples therapy", "budget"),
    ("she says therapy is only for crazy people", "stigma"),
    ("he says he's way too busy with work for weekly sessions", "test_drive"),
]
# Reflective answers, typed (benign: nothing here may trip the safety gate).
ANSWERS = [
    "I tend to shut down when we argue, and next time I'd like to stay in the conversation.",
    "I raise my voice too fast; I want to pause and breathe before I answer.",
    "I go quiet for days instead of saying what bothers me; next time I'll say it the same evening.",
    "I could ask for one session and tell him he can decide afterwards, with no promise of more.",
    "We could set aside a small amount each month and check what our insurance pays.",
    "I'd like to listen to the end before I reply, and say what I feel rather than what he did wrong.",
]


# ----------------------------------------------------------------------------------- texts


def _domain_texts(name: str) -> List[str]:
    with open(REPO_ROOT / "domain.yml", encoding="utf-8") as f:
        responses = yaml.safe_load(f).get("responses", {})
    return [v["text"].strip() for v in responses.get(name, []) if v.get("text")]


class Texts:
    """What the replies must contain, read from the bot's own content (so a wording change is followed)."""

    def __init__(self) -> None:
        self.steps = {s.id: s for s in curriculum.steps()}
        self.onboarding = {
            slot: _domain_texts(f"utter_ask_{slot}")[0]
            for slot in (
                "consent_storage",
                "safe_to_talk",
                "region",
                "screen_all",
                "screen_humiliated",
                "screen_afraid",
                "screen_forced",
                "screen_hurt",
                "screen_feels_safe",
                "screen_ex_unsafe",
            )
        }
        self.consent_yes = curriculum.text("onboarding.consent_yes")
        self.negative_screen = curriculum.text("onboarding.negative_screen")
        self.menu_header = curriculum.text("menu.header")
        self.recommend = _fixed_words("what_next.recommend")
        self.saved = curriculum.text("step.saved", acknowledge="", title="{title}").strip()
        self.progress_header = curriculum.text("progress.header")
        self.done = curriculum.text("menu.status_done")
        self.goodbye = _domain_texts("utter_goodbye")
        self.hotline = us_dv_number()
        # What the user is told when a message must be sent again: by nginx (no Rasa process could
        # take it) and by Rasa (a custom action failed).
        self.not_delivered = curriculum.text("system.not_delivered")
        self.action_failed = curriculum.text("system.action_failed")
        # Replies that name a failure on the server side: shown by name in the error details.
        self.known_failures = {"save failed": _fixed_words("step.save_failed", after=True)}
        if "action_failed" in curriculum.messages().get(
            "system", {}
        ):  # bot/rasa_ext/actions.py's reply to a failed action
            self.known_failures["action failed"] = curriculum.text("system.action_failed")


def _fixed_words(template_path: str, after: bool = False) -> str:
    """The fixed words of a messages.yml text before (or after) its first placeholder."""
    parts = curriculum.text(template_path, **{k: "\0" for k in _placeholders(template_path)}).split("\0")
    return (parts[1] if after and len(parts) > 1 else parts[0]).strip()


def _placeholders(template_path: str) -> List[str]:
    node: Any = curriculum.messages()
    for part in template_path.split("."):
        node = node[part]
    return re.findall(r"\{(\w+)\}", str(node))


# ----------------------------------------------------------------------------------- one user


class Failure(Exception):
    def __init__(self, kind: str, turn: str, detail: str) -> None:
        super().__init__(f"{kind} at {turn}: {detail}")
        self.kind, self.turn, self.detail = kind, turn, detail


@dataclass
class Sample:
    turn: str
    seconds: float
    ok: bool


@dataclass
class User:
    number: int
    sender: str
    objection: Tuple[str, str]
    answers: List[str]
    samples: List[Sample] = field(default_factory=list)
    failure: Optional[Failure] = None
    # Messages sent again because the bot said it could not take them (--resend): by what it said.
    resends: Dict[str, int] = field(default_factory=dict)
    answered: int = 0  # messages that got Rasa's answer (HTTP 200): each must be in the tracker once
    finished: bool = False
    # What the bot confirmed, so what must be in the progress database.
    consent: bool = False
    region: Optional[str] = None
    onboarded: bool = False
    saved: Dict[str, str] = field(default_factory=dict)  # step id -> answer


def joined(replies: List[Dict[str, Any]]) -> str:
    return "\n".join(r.get("text") or "" for r in replies)


def payloads(replies: List[Dict[str, Any]]) -> List[str]:
    return [b.get("payload", "") for r in replies for b in r.get("buttons") or []]


# Seconds a user waits before sending a message again, each time a little longer (about a minute
# in all, as a patient person would).
RESEND_PAUSES = (2.0, 4.0, 8.0, 15.0, 30.0)


class Conversation:
    def __init__(
        self,
        user: User,
        http: aiohttp.ClientSession,
        targets: List[str],
        texts: Texts,
        timeout: float,
        think: Tuple[float, float],
        resend: bool = False,
    ) -> None:
        self.user, self.http, self.targets, self.t = user, http, targets, texts
        self.timeout, self.think, self.resend = aiohttp.ClientTimeout(total=timeout), think, resend
        self.rng = random.Random(user.sender)
        self.sent = 0

    async def say(self, turn: str, text: str) -> List[Dict[str, Any]]:
        """One message and its replies. With `resend`, a user told the message did not get through
        ("send it again", "try again in a moment") sends it again after a pause, as a person would."""
        if self.sent and self.think[1] > 0:
            await asyncio.sleep(self.rng.uniform(*self.think))
        for pause in RESEND_PAUSES + (None,):
            told = await self._say_once(turn, text)
            if isinstance(told, list):
                return told
            self.user.resends[told] = self.user.resends.get(told, 0) + 1
            if pause is None:
                break
            await asyncio.sleep(pause)
        raise Failure("http", turn, f"still not taken after {len(RESEND_PAUSES)} tries in {sum(RESEND_PAUSES):.0f} s")

    async def _say_once(self, turn: str, text: str) -> Any:
        """The replies, or (with `resend`) what the user was told when the message must be sent again."""
        # A user's messages go round-robin over the targets (each user starts on another one).
        url = self.targets[(self.user.number + self.sent) % len(self.targets)] + WEBHOOK
        self.sent += 1
        started = time.perf_counter()
        try:
            async with self.http.post(
                url, json={"sender": self.user.sender, "message": text}, timeout=self.timeout
            ) as response:
                body = await response.text()
                elapsed = time.perf_counter() - started
                if response.status != 200:
                    self.user.samples.append(Sample(turn, elapsed, False))
                    if self.resend and response.status == 503 and self.t.not_delivered in body:
                        return "not delivered (nginx)"
                    raise Failure("http", turn, f"HTTP {response.status}: {body[:200]}")
                self.user.answered += 1
        except asyncio.TimeoutError:
            self.user.samples.append(Sample(turn, time.perf_counter() - started, False))
            raise Failure("timeout", turn, f"no reply within {self.timeout.total:.0f} s") from None
        except aiohttp.ClientError as error:
            self.user.samples.append(Sample(turn, time.perf_counter() - started, False))
            raise Failure("http", turn, f"{type(error).__name__}: {error}") from None
        self.user.samples.append(Sample(turn, elapsed, True))
        try:
            replies = json.loads(body)
        except ValueError:
            raise Failure("http", turn, f"not JSON: {body[:200]}") from None
        if not replies:
            raise Failure("empty", turn, "no reply")
        if self.resend and self.t.action_failed in joined(replies):
            return "try again (Rasa: a custom action failed)"
        if self.t.hotline in joined(replies):
            self.fail(turn, "the reply escalated (hotline shown)", replies)
        return replies

    def fail(self, turn: str, what: str, replies: List[Dict[str, Any]]) -> None:
        text = joined(replies)
        named = [name for name, words in self.t.known_failures.items() if words and words in text]
        detail = f"{what}{' [' + ', '.join(named) + ']' if named else ''}; got: {text[:240]!r}"
        raise Failure("unexpected", turn, detail)

    def expect(self, turn: str, replies: List[Dict[str, Any]], *needles: str) -> str:
        text = joined(replies)
        for needle in needles:
            if needle not in text:
                self.fail(turn, f"expected {needle[:70]!r}", replies)
        return text

    async def run(self) -> None:
        t, u = self.t, self.user
        # Onboarding, as the widget's buttons send it.
        replies = await self.say("greet", "hi")
        self.expect("greet", replies, "not therapy", t.onboarding["consent_storage"])
        if "/affirm" not in payloads(replies):
            self.fail("greet", "no consent buttons", replies)
        self.expect("consent", await self.say("consent", "/affirm"), t.consent_yes, t.onboarding["safe_to_talk"])
        self.expect("safe to talk", await self.say("safe to talk", "/affirm"), t.onboarding["region"])
        replies = await self.say("region", '/inform_region{"region": "%s"}' % REGION)
        self.expect("region", replies, t.onboarding["screen_all"])
        # The six screening items at once: "None of these".
        replies = await self.say("screen_all", "none of these")
        self.expect("screen_all", replies, t.negative_screen, t.menu_header)
        # The end of onboarding writes consent, country and its date (action_onboarding_outcome).
        u.consent, u.region, u.onboarded = True, REGION, True
        # A step suggested by "what's next?", its reflective answer typed.
        first = self.suggested("what's next", await self.say("what's next", "what's next?"))
        await self.step(first, u.answers[0])
        second = self.suggested("what's next again", await self.say("what's next again", "what's next?"))
        if second == first:
            self.fail("what's next again", f"suggested {first} again after it was done", [])
        # What the partner says; the answer's first step, done too.
        objection, step = u.objection
        replies = await self.say("objection", objection)
        offered = [p for p in payloads(replies) if p.startswith("/start_step")]
        if not offered or offered[0] != start_payload(step):
            self.fail("objection", f"expected the {step} step offered first", replies)
        await self.step(step, u.answers[1])
        # Progress names both steps as done, with the answers.
        replies = await self.say("progress", "show my progress")
        needles = [t.progress_header] + [f"{t.steps[s].title}: {t.done}" for s in u.saved] + list(u.saved.values())
        self.expect("progress", replies, *needles)
        replies = await self.say("goodbye", "bye")
        if not any(g in joined(replies) for g in t.goodbye):
            self.fail("goodbye", "expected a goodbye", replies)
        u.finished = True

    def suggested(self, turn: str, replies: List[Dict[str, Any]]) -> str:
        text = self.expect(turn, replies, self.t.recommend)
        steps = [p.split('"step": "', 1)[1].split('"', 1)[0] for p in payloads(replies) if p.startswith("/start_step")]
        if not steps or steps[0] not in self.t.steps or self.t.steps[steps[0]].title not in text:
            self.fail(turn, "expected a step suggested with its Start button", replies)
        return steps[0]

    async def step(self, step_id: str, answer: str) -> None:
        step = self.t.steps[step_id]
        turn = f"start {step_id}"
        replies = await self.say(turn, start_payload(step_id))
        if not (replies[0].get("text") or "").startswith(step.title):
            self.fail(turn, f"expected the step to open with {step.title!r}", replies)
        if (replies[-1].get("text") or "") not in step.question or "/skip" not in payloads(replies):
            self.fail(turn, "expected the step's reflective question last, with Skip", replies)
        turn = f"answer {step_id}"
        self.expect(turn, await self.say(turn, answer), self.t.saved.format(title=step.title))
        self.user.saved[step_id] = answer


async def run_user(
    user: User,
    http: aiohttp.ClientSession,
    targets: List[str],
    texts: Texts,
    delay: float,
    timeout: float,
    think: Tuple[float, float],
    resend: bool = False,
) -> None:
    await asyncio.sleep(delay)
    try:
        await Conversation(user, http, targets, texts, timeout, think, resend).run()
    except Failure as failure:
        user.failure = failure
    except Exception as error:  # a bug here must show, not hang the run
        user.failure = Failure("client", "?", f"{type(error).__name__}: {error}")


async def drive(
    users: List[User],
    targets: List[str],
    ramp: float,
    timeout: float,
    think: Tuple[float, float],
    cafile: Optional[Path] = None,
    resend: bool = False,
    faults: Optional[List[Tuple[str, float]]] = None,
    servers: Any = None,
) -> Tuple[float, List[Dict[str, Any]]]:
    """Run the users; the faults (kind, seconds after the start) are made to happen meanwhile."""
    import ssl

    texts = Texts()
    context = ssl.create_default_context(cafile=str(cafile)) if cafile else None
    connector = aiohttp.TCPConnector(limit=0, force_close=False, ssl=context if context else None)
    done: List[Dict[str, Any]] = []
    async with aiohttp.ClientSession(connector=connector) as http:
        started = time.perf_counter()
        step = ramp / max(len(users) - 1, 1)
        injector = asyncio.ensure_future(inject(faults or [], servers, started, done))
        await asyncio.gather(
            *(run_user(u, http, targets, texts, i * step, timeout, think, resend) for i, u in enumerate(users))
        )
        if not injector.done():
            injector.cancel()
        return time.perf_counter() - started, done


FAULTS = ("kill-rasa", "kill-actions", "restart-postgres")


async def inject(faults: List[Tuple[str, float]], servers: Any, started: float, done: List[Dict[str, Any]]) -> None:
    """kill -9 a Rasa process (the second one) or the action server, or restart PostgreSQL (fast
    shutdown, then start), at the given seconds into the run; scripts/run_scaled.sh starts a killed
    process again, as a service manager would."""
    for kind, at in sorted(faults, key=lambda f: f[1]):
        await asyncio.sleep(max(0.0, started + at - time.perf_counter()))
        when = round(time.perf_counter() - started, 1)
        if kind == "restart-postgres":
            seconds = await asyncio.get_running_loop().run_in_executor(None, servers.restart_postgres)
            done.append({"fault": kind, "at_seconds": when, "took_seconds": round(seconds, 1)})
        else:
            name = f"rasa-{servers.rasa_ports[-1]}" if kind == "kill-rasa" else "actions"
            pid = servers.pid(name)
            os.kill(pid, 9)
            done.append({"fault": kind, "at_seconds": when, "process": name})
        print(f"fault at {when} s: {done[-1]}", flush=True)


def make_users(n: int, seed: Optional[int]) -> List[User]:
    rng = random.Random(seed)
    return [
        User(number=i, sender=secrets.token_hex(16), objection=rng.choice(OBJECTIONS), answers=rng.sample(ANSWERS, 2))
        for i in range(n)
    ]


# ----------------------------------------------------------------------------------- progress rows


def check_rows(url: str, users: List[User]) -> Dict[str, Any]:
    """Every row the bot confirmed to a user must be in the progress database."""
    from sqlalchemy import create_engine, select

    from bot.progress.store import Reflection, SafetyFlag, StepProgress
    from bot.progress.store import User as UserRow

    senders = [u.sender for u in users]
    engine = create_engine(url, future=True)
    try:
        with engine.connect() as db:
            people = {r.sender_id: r for r in db.execute(select(UserRow).where(UserRow.sender_id.in_(senders)))}
            steps: Dict[Tuple[str, str], List[Any]] = {}
            for r in db.execute(select(StepProgress).where(StepProgress.sender_id.in_(senders))):
                steps.setdefault((r.sender_id, r.step_id), []).append(r)
            answers: Dict[Tuple[str, str], List[str]] = {}
            for r in db.execute(select(Reflection).where(Reflection.sender_id.in_(senders))):
                answers.setdefault((r.sender_id, r.step_id), []).append(r.answer)
            flags = [r.sender_id for r in db.execute(select(SafetyFlag).where(SafetyFlag.sender_id.in_(senders)))]
    finally:
        engine.dispose()
    expected = missing = 0
    problems: List[str] = []

    def need(ok: bool, what: str) -> None:
        nonlocal expected, missing
        expected += 1
        if not ok:
            missing += 1
            problems.append(what)

    for u in users:
        person = people.get(u.sender)
        if u.consent:
            need(person is not None and person.consent is True, f"user {u.number}: users row with consent")
        if u.region:
            need(person is not None and person.region == u.region, f"user {u.number}: region {u.region}")
        if u.onboarded:
            need(person is not None and person.onboarded_at is not None, f"user {u.number}: onboarded_at")
        for step_id, answer in u.saved.items():
            rows = steps.get((u.sender, step_id), [])
            need(
                any(r.completed_at is not None for r in rows), f"user {u.number}: step_progress {step_id} completed_at"
            )
            need(
                " ".join(answer.split()) in answers.get((u.sender, step_id), []),
                f"user {u.number}: reflection {step_id}",
            )
    duplicates = [f"{k[1]} x{len(v)}" for k, v in list(steps.items()) + list(answers.items()) if len(v) > 1]
    return {
        "rows_expected": expected,
        "rows_missing": missing,
        "missing": problems[:50],
        "duplicate_rows": len(duplicates),
        "duplicates": duplicates[:20],
        "unexpected_safety_flags": len(flags),
    }


def handled_twice(url: Optional[str], users: List[User]) -> Optional[Dict[str, Any]]:
    """Each user's messages in the tracker against the ones Rasa answered (HTTP 200). More in the
    tracker: a message was handled but its answer never reached the user (the process died before it
    answered, or nginx gave up), and the user, told to send it again, had it handled twice. Fewer:
    an answered message was not recorded (lost). None without a tracker to read."""
    if not url:
        return None
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    twice: List[Dict[str, Any]] = []
    lost: List[Dict[str, Any]] = []
    try:
        with engine.connect() as conn:
            for user in users:
                recorded = conn.execute(
                    text("select count(*) from events where sender_id = :s and type_name = 'user'"), {"s": user.sender}
                ).scalar()
                if recorded > user.answered:
                    twice.append({"user": user.number, "recorded": recorded, "answered": user.answered})
                elif recorded < user.answered:
                    lost.append({"user": user.number, "recorded": recorded, "answered": user.answered})
    finally:
        engine.dispose()
    return {
        "messages": sum(t["recorded"] - t["answered"] for t in twice),
        "answered_not_recorded": sum(t["answered"] - t["recorded"] for t in lost),
        "details": (twice + lost)[:20],
    }


def progress_rows(url: Optional[str], users: List[User]) -> Dict[str, Any]:
    if not url:
        return {"error": "not checked: no --progress-db-url or PROGRESS_DB_URL"}
    try:
        return check_rows(url, users)
    except Exception as error:  # reported, never hidden: the bar is zero lost rows
        return {"error": f"could not check: {type(error).__name__}: {error}"}


# ----------------------------------------------------------------------------------- servers


class SingleServers:
    """scripts/run.sh on free ports with its own SQLite stores, as the integration tests start it."""

    name = "single"
    title = "One Rasa process"
    description = "one Rasa process, one action server, SQLite tracker store and progress database (scripts/run.sh)"

    def __init__(self, workdir: Path) -> None:
        from bench.servers import Servers

        self.servers = Servers(workdir)
        self.log = self.servers.log
        self.urls = [f"http://127.0.0.1:{self.servers.rasa_port}"]
        self.progress_db_url = self.servers.env["PROGRESS_DB_URL"]

    def start(self) -> None:
        self.servers.start()

    def stop(self) -> None:
        self.servers.stop()


class ScaledServers:
    """scripts/run_scaled.sh on free ports with its own PostgreSQL cluster and Redis under the run's
    directory: two Rasa processes (RASA_PORTS), one action server, the web page."""

    name = "scaled"
    title = "Two Rasa processes"
    description = (
        "nginx (HTTPS) in front of two Rasa processes sharing PostgreSQL (tracker store, progress "
        "database) and Redis (lock store), one action server (scripts/run_scaled.sh); nginx spreads "
        "the messages over the processes"
    )

    def __init__(self, workdir: Path, processes: int = 2) -> None:
        from bench.servers import free_port

        if not SCALED_SCRIPT.exists():
            raise SystemExit(f"{SCALED_SCRIPT.relative_to(REPO_ROOT)} is not there: the scaled setup cannot be started")
        rasa = [free_port() for _ in range(processes)]
        if processes != 2:
            self.title = f"{processes} Rasa process{'es' if processes > 1 else ''} (scaled setup)"
            self.description = self.description.replace("two Rasa processes", f"{processes} Rasa process(es)")
        ports = {
            "ACTIONS_PORT": free_port(),
            "ACTIONS_PROXY_PORT": free_port(),
            "HTTPS_PORT": free_port(),
            "WEB_PORT": free_port(),
            "SCALED_PG_PORT": free_port(),
            "SCALED_REDIS_PORT": free_port(),
        }
        self.dir = workdir / "scaled"
        self.env = dict(
            os.environ,
            RASA_PORTS=" ".join(map(str, rasa)),
            SCALED_DIR=str(self.dir),
            **{k: str(v) for k, v in ports.items()},
        )
        self.rasa_ports = rasa
        # Users reach the bot through nginx, as on a practice's site.
        self.urls = [f"https://localhost:{ports['HTTPS_PORT']}"]
        self.cafile = self.dir / "nginx" / "tls" / "cert.pem"
        self.health = [
            f"http://127.0.0.1:{ports['ACTIONS_PROXY_PORT']}/health",
            f"http://127.0.0.1:{ports['WEB_PORT']}/health",
        ] + [f"http://127.0.0.1:{port}/" for port in rasa]
        self.pg_port = ports["SCALED_PG_PORT"]
        self.log = workdir / "servers.log"
        self.proc: Optional[subprocess.Popen] = None

    def pid(self, name: str) -> int:
        """A server's process id as scripts/run_scaled.sh writes it (rasa-<port>, actions, web)."""
        return int((self.dir / "run" / f"{name}.pid").read_text())

    def restart_postgres(self) -> float:
        """PostgreSQL stopped (fast: open connections cut) and started again; the seconds it took."""
        import glob

        pg_ctl = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), key=lambda p: int(Path(p).parts[-3]))[-1]
        as_pg = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        started = time.perf_counter()
        subprocess.run(
            as_pg + [pg_ctl, "-D", str(self.dir / "pg" / "data"), "-m", "fast", "-w", "-t", "60", "restart"],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        return time.perf_counter() - started

    @property
    def tracker_db_url(self) -> str:
        secret = (self.dir / "secret").read_text().strip()
        return f"postgresql+psycopg2://coach:{secret}@127.0.0.1:{self.pg_port}/tracker"

    def own_pids(self) -> List[int]:
        """PostgreSQL's postmaster, which pg_ctl detaches from the script (for CpuMeter)."""
        try:
            return [int((self.dir / "pg" / "data" / "postmaster.pid").read_text().split()[0])]
        except (OSError, ValueError, IndexError):
            return []

    @property
    def progress_db_url(self) -> str:
        """The script's PostgreSQL progress database (its password is made at the first start)."""
        secret = (self.dir / "secret").read_text().strip()
        return f"postgresql+psycopg2://coach:{secret}@127.0.0.1:{self.pg_port}/progress"

    def start(self) -> None:
        from bench.servers import start_script, wait_for

        self.proc = start_script(str(SCALED_SCRIPT), self.env, self.log)
        for url in self.health:
            wait_for(url, self.proc, 300)

    def stop(self) -> None:
        from bench.servers import ctrl_c

        ctrl_c(self.proc, 90)  # the script stops PostgreSQL and Redis too


class CpuMeter:
    """CPU used on the machine during the run, by this benchmark's processes (this one, the servers it
    started, a PostgreSQL it started) and by everything else: other work on a shared machine skews
    the figures, and this says by how much."""

    def __init__(self, extra_roots=lambda: []) -> None:
        self.extra_roots = extra_roots
        self.hz = os.sysconf("SC_CLK_TCK")

    @staticmethod
    def _machine() -> Tuple[int, int]:
        values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
        return sum(values) - values[3] - values[4], sum(values)  # busy, total (idle and iowait are not busy)

    def _ours(self) -> Dict[int, int]:
        procs: Dict[int, Tuple[int, int]] = {}
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
                except (OSError, IndexError):
                    continue
                procs[int(entry)] = (int(fields[1]), sum(int(v) for v in fields[11:15]))
        ours = {os.getpid()} | {pid for pid in self.extra_roots() if pid in procs}
        grew = True
        while grew:
            found = {pid for pid, (ppid, _) in procs.items() if ppid in ours} - ours
            ours |= found
            grew = bool(found)
        return {pid: procs[pid][1] for pid in ours if pid in procs}

    def start(self) -> None:
        self.t0, self.machine0, self.ours0, self.load0 = (
            time.monotonic(),
            self._machine(),
            self._ours(),
            os.getloadavg(),
        )

    def stop(self) -> Dict[str, Any]:
        seconds, (busy, total), ours = time.monotonic() - self.t0, self._machine(), self._ours()
        cores = os.cpu_count() or 1
        machine = (busy - self.machine0[0]) / max(total - self.machine0[1], 1) * cores
        mine = sum(j - self.ours0.get(pid, 0) for pid, j in ours.items()) / self.hz / max(seconds, 1e-9)
        return {
            "machine_busy_cores": round(machine, 2),
            "benchmark_cores": round(mine, 2),
            "other_cores": round(max(machine - mine, 0.0), 2),
            "cores": cores,
            "load_average_before": [round(v, 2) for v in self.load0],
            "load_average_after": [round(v, 2) for v in os.getloadavg()],
        }


def scan_log(path: Optional[Path]) -> Dict[str, Any]:
    """Errors and warnings in the servers' log, with a few distinct examples."""
    if not path or not path.exists():
        return {"path": None}
    counts = {"error": 0, "warning": 0, "traceback": 0}
    samples: List[str] = []
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        level = (
            "traceback"
            if re.match(r"(\[[\w-]+\] )?Traceback", line)
            else "error"
            if re.search(r"\b(ERROR|CRITICAL)\b", line)
            else "warning"
            if re.search(r"\bWARNING\b", line)
            else None
        )
        if level:
            counts[level] += 1
            short = re.sub(r"^\S+ \S+ ", "", line.strip())[:320]
            if level != "warning" and short not in samples and len(samples) < 10:
                samples.append(short)
    return {
        "path": str(path.relative_to(REPO_ROOT) if path.is_relative_to(REPO_ROOT) else path),
        **counts,
        "samples": samples,
    }


# ----------------------------------------------------------------------------------- report


def percentile(values: List[float], p: int) -> Optional[float]:
    if not values:
        return None
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[p - 1]


def _git(*args: str) -> str:
    try:
        # Trailing newline only: `status --porcelain` lines start with a space (" M file").
        return subprocess.run(["git", *args], cwd=REPO_ROOT, capture_output=True, text=True, check=True).stdout.rstrip()
    except (OSError, subprocess.CalledProcessError):
        return ""


def machine() -> Dict[str, Any]:
    facts: Dict[str, Any] = {
        "cores": os.cpu_count(),
        "usable_cores": len(os.sched_getaffinity(0)),
        "platform": platform.platform(),
        "python": platform.python_version(),
    }
    try:
        meminfo = Path("/proc/meminfo").read_text()
        facts["memory_gib"] = round(int(re.search(r"MemTotal:\s+(\d+)", meminfo).group(1)) / 2**20, 1)
        cpu = re.search(r"model name\s*:\s*(.+)", Path("/proc/cpuinfo").read_text())
        facts["cpu"] = cpu.group(1).strip() if cpu else platform.processor()
    except (OSError, AttributeError):
        pass
    try:
        from importlib.metadata import version

        facts["rasa"] = version("rasa")
    except Exception:
        pass
    return facts


def model_facts() -> Dict[str, Any]:
    if not MODEL.exists():
        return {"path": str(MODEL.relative_to(REPO_ROOT)), "present": False}
    digest = hashlib.sha256()
    with open(MODEL, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    stat = MODEL.stat()
    return {
        "path": str(MODEL.relative_to(REPO_ROOT)),
        "sha256": digest.hexdigest()[:16],
        "modified": dt.datetime.fromtimestamp(stat.st_mtime, dt.timezone.utc).isoformat(timespec="seconds"),
    }


def summarise(users: List[User], seconds: float) -> Dict[str, Any]:
    samples = [s for u in users for s in u.samples]
    answered = [s.seconds for s in samples if s.ok]
    kinds: Dict[str, int] = {"http": 0, "timeout": 0, "empty": 0, "unexpected": 0, "client": 0}
    for u in users:
        if u.failure:
            kinds[u.failure.kind] = kinds.get(u.failure.kind, 0) + 1
    by_turn: Dict[str, List[float]] = {}
    for s in samples:
        if s.ok:
            by_turn.setdefault(
                re.sub(r" \w+$", "", s.turn) if s.turn.startswith(("start ", "answer ")) else s.turn, []
            ).append(s.seconds)

    def ms(value: Optional[float]) -> Optional[float]:
        return None if value is None else round(value * 1000, 1)

    return {
        "duration_seconds": round(seconds, 1),
        "messages_sent": len(samples),
        "messages_answered": len(answered),
        "messages_per_second": round(len(answered) / seconds, 2) if seconds else None,
        "latency_ms": {
            "p50": ms(percentile(answered, 50)),
            "p95": ms(percentile(answered, 95)),
            "p99": ms(percentile(answered, 99)),
            "max": ms(max(answered, default=None)),
            "mean": ms(statistics.fmean(answered) if answered else None),
        },
        "latency_ms_by_turn": {
            k: {"p50": ms(percentile(v, 50)), "p95": ms(percentile(v, 95))} for k, v in by_turn.items()
        },
        "conversations_completed": sum(u.finished for u in users),
        "errors": {"total": sum(kinds.values()), **kinds},
        "error_details": [
            {
                "user": u.number,
                "sender": u.sender,
                "kind": u.failure.kind,
                "turn": u.failure.turn,
                "detail": u.failure.detail,
            }
            for u in users
            if u.failure
        ],
    }


def table(result: Dict[str, Any]) -> str:
    lat, err, rows = result["latency_ms"], result["errors"], result.get("progress_rows") or {}
    lines = [
        ("setup", f"{result['setup']} ({', '.join(result['targets'])})"),
        (
            "users",
            f"{result['users']} ({result['conversations_completed']} conversations completed), "
            f"ramp {result['ramp_seconds']} s",
        ),
        (
            "messages",
            f"{result['messages_answered']} answered of {result['messages_sent']} sent "
            f"({result['messages_per_user']} per user)",
        ),
        ("run time", f"{result['duration_seconds']} s"),
        ("messages/s", f"{result['messages_per_second']}"),
        ("latency ms", f"p50 {lat['p50']}  p95 {lat['p95']}  p99 {lat['p99']}  max {lat['max']}"),
        (
            "errors",
            f"{err['total']} (http {err['http']}, timeout {err['timeout']}, empty {err['empty']}, "
            f"unexpected {err['unexpected']}, client {err['client']})",
        ),
        (
            "progress rows",
            f"{rows.get('rows_expected', '-')} expected, {rows.get('rows_missing', '-')} missing, "
            f"{rows.get('duplicate_rows', '-')} duplicated, "
            f"{rows.get('unexpected_safety_flags', '-')} unexpected safety flags"
            if "rows_expected" in rows
            else rows.get("error", "not checked"),
        ),
    ]
    resends, twice = result.get("resends") or {}, result.get("handled_twice")
    if result.get("faults"):
        lines.append(("faults", "; ".join(f"{f['fault']} at {f['at_seconds']} s" for f in result["faults"])))
    if resends.get("users"):
        told = ", ".join(f"{k}: {v}" for k, v in resends["by_what_the_user_was_told"].items())
        lines.append(("sent again", f"{resends['users']} user(s) were told to send a message again ({told})"))
    if twice is not None:
        lines.append(
            (
                "tracker",
                f"{twice['messages']} messages handled twice, {twice['answered_not_recorded']} answered but not recorded",
            )
        )
    cpu = result["cpu_during_run"]
    lines.append(
        (
            "cpu (cores)",
            f"machine {cpu['machine_busy_cores']} of {cpu['cores']} busy: this benchmark "
            f"{cpu['benchmark_cores']}, other processes {cpu['other_cores']}"
            + ("  <- other work on the machine skews these figures" if contended(cpu) else ""),
        )
    )
    log = result.get("server_log") or {}
    if log.get("path"):
        lines.append(
            (
                "server log",
                f"{log['error']} error, {log['traceback']} traceback, {log['warning']} warning lines ({log['path']})",
            )
        )
    width = max(len(k) for k, _ in lines)
    out = [f"{k.ljust(width)}  {v}" for k, v in lines]
    out += ["", "latency by turn (ms)     p50      p95"]
    out += [f"  {k:<20} {v['p50']:>8} {v['p95']:>8}" for k, v in result["latency_ms_by_turn"].items()]
    for e in result["error_details"][:15]:
        out.append(f"error: user {e['user']} {e['kind']} at {e['turn']}: {e['detail']}")
    for line in rows.get("missing", [])[:15]:
        out.append(f"lost row: {line}")
    for line in log.get("samples", []):
        out.append(f"server log: {line}")
    return "\n".join(out)


MARK = "<!-- bench:load:{setup}:{end} -->"
HEADER = """# Benchmarks

Measured figures, each section with the machine, commit and date it was measured on. Each
section is written by the script that measures it; text outside its markers is kept.

- This bot against the stock `rasa init` assistant (`bench/compare.py`, `bench/README.md`):
  `make bench` measures both side by side in one run (latency, throughput, start-up, memory, NLU
  parse, training, cold start); `make bench BENCH_ARGS=--markdown` rewrites that section and its
  chart, `docs/benchmarks-latency.png`. Raw results: `results/bench/compare-*.json`.
- Load (`bench/load.py`, `bench/README.md`): `make bench-load` starts the servers as `make run`
  does (scripts/run.sh, on free ports with their own SQLite stores) and drives 50 simulated users
  through full coaching conversations; `make bench-load BENCH_ARGS=--markdown` also rewrites the
  Load section here. Raw results: `results/bench/load-*.json`.
"""


def contended(cpu: Dict[str, Any]) -> bool:
    return cpu["other_cores"] >= OTHER_CPU_WARNING


def ms_text(value: Optional[float]) -> str:
    return "-" if value is None else f"{value:.0f} ms"


def markdown_block(result: Dict[str, Any]) -> str:
    lat, err, rows, m = result["latency_ms"], result["errors"], result.get("progress_rows") or {}, result["machine"]
    changed = len(result["uncommitted"])
    commit = result["commit"][:10] + (
        f" with uncommitted changes in {changed} files (listed in the JSON)" if changed else ""
    )
    row_text = (
        f"{rows['rows_expected']} expected, {rows['rows_missing']} missing"
        if "rows_expected" in rows
        else rows.get("error", "not checked")
    )
    log, cpu = result.get("server_log") or {}, result["cpu_during_run"]
    return "\n".join(
        [
            MARK.format(setup=result["setup"], end="begin"),
            f"### {result['setup_title']}",
            "",
            f"Setup: {result['setup_description']}. Measured {result['date'][:10]}, commit {commit}, model {result['model'].get('sha256', '?')}; "
            f"{m.get('cores')} cores ({m.get('cpu', '?')}), {m.get('memory_gib')} GiB, Rasa {m.get('rasa', '?')}, "
            f"Python {m.get('python')}. The load generator ran on the same machine. {result['users']} users started "
            f"over {result['ramp_seconds']} s, {result['messages_per_user']} messages each, one after another; "
            f"command: `{result['command']}`.",
            "",
            "| users | messages | run time | messages/s | p50 | p95 | p99 | max | errors | progress rows |",
            "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
            f"| {result['users']} | {result['messages_answered']} | {result['duration_seconds']} s "
            f"| {result['messages_per_second']} | {ms_text(lat['p50'])} | {ms_text(lat['p95'])} | {ms_text(lat['p99'])} | {ms_text(lat['max'])} "
            f"| {err['total']} | {row_text} |",
            "",
            f"Errors by kind: HTTP {err['http']}, timeout {err['timeout']}, empty reply {err['empty']}, "
            f"unexpected reply {err['unexpected']}. Conversations completed: {result['conversations_completed']} "
            f"of {result['users']}. Duplicated rows: {rows.get('duplicate_rows', '-')}; safety flags on these "
            f"users: {rows.get('unexpected_safety_flags', '-')}."
            + (f" Server log: {log['error']} error and {log['traceback']} traceback lines." if log.get("path") else "")
            + f" CPU during the run: {cpu['machine_busy_cores']} of {cpu['cores']} cores busy, "
            f"{cpu['benchmark_cores']} by the benchmark and its servers, {cpu['other_cores']} by other processes"
            + (" (other work on the machine: these figures are skewed)." if contended(cpu) else "."),
            *([""] if result["error_details"] or log.get("samples") else []),
            *[
                f'- error, user {e["user"]} at "{e["turn"]}" ({e["kind"]}): {e["detail"]}'
                for e in result["error_details"][:10]
            ],
            *[f"- server log: `{line}`" for line in log.get("samples", [])],
            MARK.format(setup=result["setup"], end="end"),
        ]
    )


def update_markdown(path: Path, result: Dict[str, Any]) -> None:
    """Rewrite this setup's block in the "## Load" section (created when missing); keep the rest."""
    text = path.read_text(encoding="utf-8") if path.exists() else HEADER
    block = markdown_block(result)
    begin, end = MARK.format(setup=result["setup"], end="begin"), MARK.format(setup=result["setup"], end="end")
    if begin in text and end in text:
        text = text[: text.index(begin)] + block + text[text.index(end) + len(end) :]
    elif "\n## Load\n" in text:
        start = text.index("\n## Load\n") + len("\n## Load\n")
        following = text.find("\n## ", start)
        at = len(text.rstrip("\n")) if following < 0 else following
        text = text[:at].rstrip("\n") + "\n\n" + block + "\n" + text[at:]
    else:
        text = text.rstrip("\n") + "\n\n## Load\n\n" + block + "\n"
    path.write_text(text if text.endswith("\n") else text + "\n", encoding="utf-8")


# ----------------------------------------------------------------------------------- main


def parse_args(argv: List[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--users", type=int, default=50, help="simulated users (default 50)")
    p.add_argument(
        "--rasa-url",
        action="append",
        dest="rasa_urls",
        metavar="URL",
        help=f"a Rasa server; several: each user's messages go round-robin over them (default {DEFAULT_URL})",
    )
    p.add_argument(
        "--start",
        nargs="?",
        const="single",
        choices=["single", "scaled"],
        help="start the servers first: single (scripts/run.sh, the default) or scaled (scripts/run_scaled.sh)",
    )
    p.add_argument(
        "--progress-db-url", help="without --start: the progress database to check (default PROGRESS_DB_URL)"
    )
    p.add_argument("--ramp", type=float, default=10.0, help="seconds over which users start (default 10)")
    p.add_argument("--timeout", type=float, default=60.0, help="seconds to wait for one reply (default 60)")
    p.add_argument("--think", type=float, default=0.0, help="pause before each message after the first (default 0)")
    p.add_argument(
        "--think-range",
        type=float,
        nargs=2,
        metavar=("MIN", "MAX"),
        help="instead: a pause drawn between MIN and MAX seconds before each message (people reading and typing)",
    )
    p.add_argument(
        "--fault",
        action="append",
        default=[],
        metavar="KIND@SECONDS",
        help=f"with --start scaled: make a fault happen during the run ({', '.join(FAULTS)}); implies --resend",
    )
    p.add_argument("--processes", type=int, default=2, help="with --start scaled: Rasa processes (default 2)")
    p.add_argument(
        "--resend",
        action="store_true",
        help="users send a message again when told it did not get through, instead of stopping",
    )
    p.add_argument("--seed", type=int, default=None, help="seed for the objections and answers users pick")
    p.add_argument("--server-log", type=Path, help="without --start: a server log to scan for errors")
    p.add_argument("--markdown", action="store_true", help="rewrite this setup's figures in docs/benchmarks.md")
    p.add_argument("--out", type=Path, default=RESULTS, help="where the JSON goes (default results/bench)")
    args = p.parse_args(argv)
    if args.users < 1:
        p.error("--users must be 1 or more")
    if args.start and (args.rasa_urls or args.progress_db_url or args.server_log):
        p.error("--start chooses its own ports, stores and log: leave out --rasa-url, --progress-db-url, --server-log")
    faults = []
    for fault in args.fault:
        kind, _, at = fault.partition("@")
        try:
            faults.append((kind, float(at)))
        except ValueError:
            p.error(f"--fault {fault!r}: KIND@SECONDS, e.g. kill-rasa@20")
        if kind not in FAULTS:
            p.error(f"--fault {kind!r}: one of {', '.join(FAULTS)}")
    if faults and args.start != "scaled":
        p.error("--fault needs --start scaled")
    args.faults = faults
    args.resend = args.resend or bool(faults)
    args.think_range = tuple(args.think_range) if args.think_range else (args.think, args.think)
    return args


def main(argv: List[str]) -> int:
    args = parse_args(argv)
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    args.out.mkdir(parents=True, exist_ok=True)
    workdir = args.out / f"load-{stamp}"
    servers = None
    if args.start:
        workdir.mkdir(parents=True)
        servers = SingleServers(workdir) if args.start == "single" else ScaledServers(workdir, args.processes)
        targets, log = servers.urls, servers.log
        setup, title, description = servers.name, servers.title, servers.description
    else:
        targets = [u.rstrip("/") for u in args.rasa_urls or [DEFAULT_URL]]
        db_url, log = args.progress_db_url or os.environ.get("PROGRESS_DB_URL"), args.server_log
        setup, title, description = "external", "Servers already running", ", ".join(targets)
    model = model_facts()  # before the servers load it: the file may be replaced while this runs
    users = make_users(args.users, args.seed)
    meter = CpuMeter(getattr(servers, "own_pids", lambda: []))
    try:
        if servers:
            print(f"starting the servers ({servers.description}); log: {log}", flush=True)
            servers.start()
            db_url = servers.progress_db_url
        print(f"{args.users} users, ramp {args.ramp} s, against {', '.join(targets)}", flush=True)
        meter.start()
        seconds, faults = asyncio.run(
            drive(
                users,
                targets,
                args.ramp,
                args.timeout,
                args.think_range,
                cafile=getattr(servers, "cafile", None),
                resend=args.resend,
                faults=args.faults,
                servers=servers,
            )
        )
        cpu = meter.stop()
        rows = progress_rows(db_url, users)  # before the servers stop: the scaled setup's PostgreSQL stops with them
        handled = handled_twice(getattr(servers, "tracker_db_url", None), users)
    finally:
        if servers:
            servers.stop()
    result: Dict[str, Any] = {
        "benchmark": "load",
        "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "commit": _git("rev-parse", "HEAD"),
        "uncommitted": [line[3:] for line in _git("status", "--porcelain").splitlines()],
        "command": "python bench/load.py " + " ".join(argv),
        "machine": machine(),
        "model": model,
        "setup": setup,
        "setup_title": title,
        "setup_description": description,
        "targets": targets,
        "users": args.users,
        "messages_per_user": max((len(u.samples) for u in users if u.finished), default=None),
        "ramp_seconds": args.ramp,
        "timeout_seconds": args.timeout,
        "think_seconds": list(args.think_range),
        "faults": faults,
        "resends": {
            "users": sum(1 for u in users if u.resends),
            "by_what_the_user_was_told": {
                kind: sum(u.resends.get(kind, 0) for u in users)
                for kind in sorted({k for u in users for k in u.resends})
            },
        },
        "handled_twice": handled,
        **summarise(users, seconds),
        "cpu_during_run": cpu,
    }
    if db_url:
        from sqlalchemy.engine import make_url

        result["progress_db"] = make_url(db_url).render_as_string(hide_password=True)
    result["progress_rows"] = rows
    result["server_log"] = scan_log(log)
    out = args.out / f"load-{stamp}.json"
    out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(table(result))
    print(f"\nresults: {out.relative_to(REPO_ROOT) if out.is_relative_to(REPO_ROOT) else out}")
    if args.markdown:
        update_markdown(MARKDOWN, result)
        print(f"updated {MARKDOWN.relative_to(REPO_ROOT)} (load, {setup})")
    rows = result["progress_rows"]
    clean = (
        result["errors"]["total"] == 0
        and not (handled or {}).get("messages")
        and not (handled or {}).get("answered_not_recorded")
        and rows.get("rows_missing") == 0
        and not rows.get("duplicate_rows")
        and not rows.get("unexpected_safety_flags")
    )
    return 0 if clean else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
