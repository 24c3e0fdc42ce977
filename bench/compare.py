"""`make bench`: this bot and the stock `rasa init` assistant, side by side, on one machine in one run.

The baseline is made by this script: `rasa init --no-prompt` into a temporary directory, with the
same Rasa (this project's .venv). For both bots it measures, over several runs:

- training: a full `rasa train` (fresh cache), then a retrain after one NLU example was added;
- server start-up: from starting the servers to the first correctly answered message
  (this bot: scripts/run.sh as `make run` starts it, with the action server, the SQL tracker store
  and the progress database; the baseline: `rasa run`, its in-memory tracker store, no actions);
- NLU parse time per message (`POST /model/parse`, sequential);
- single-turn reply latency (each message the first of a new conversation, sequential);
- full conversations (this bot: bench/load.py's coaching conversation, 14 messages with custom
  actions and typed answers, every reply checked; the baseline: its stories' paths, every reply
  checked), with 1, 10 and 50 concurrent users: latency p50/p95/p99 and messages per second;
- peak resident memory (VmHWM) of the Rasa process and of the action server, after the load;
- once each (slow): a cold `make run` on a fresh `git clone` to the first reply, and for the
  baseline a new venv with `pip install rasa`, `rasa init` and `rasa run` to the first reply.
Also, in-process (bench/components.py): the time each NLU component takes per message, the
safety component alone among them.

Each figure is the median of the runs, with min and max; the ratio is this bot / baseline.
Writes results/bench/compare-<time>.json, and with --markdown the "This bot against `rasa init`"
section of docs/benchmarks.md and the chart docs/benchmarks-latency.png.

    python bench/compare.py --markdown                  # everything (about an hour on 2 cores)
    python bench/compare.py --runs 1 --skip train,cold  # a quick look at the servers only
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import re
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple

sys.path.insert(0, str(Path(__file__).resolve().parent))
import aiohttp  # noqa: E402
import load  # noqa: E402  (bench/load.py: the coaching conversation, the machine facts)
import yaml  # noqa: E402
from components import PARSE_TEXTS  # noqa: E402

# Servers started here get Ctrl-C at its default action (stop_group's SIGINT works even when this
# script runs in the background, which ignores SIGINT), as the tests start them.
from bench.servers import default_ctrl_c  # noqa: E402

REPO_ROOT = load.REPO_ROOT
VENV_BIN = REPO_ROOT / ".venv" / "bin"
RESULTS = REPO_ROOT / "results" / "bench"
MARKDOWN = REPO_ROOT / "docs" / "benchmarks.md"
CHART = REPO_ROOT / "docs" / "benchmarks-latency.png"
WEBHOOK = "/webhooks/rest/webhook"
TOKEN = secrets.token_hex(16)
LEVELS = (1, 10, 50)
STAGES = ("train", "servers", "components", "cold")
# Rasa reads these; the Makefile sets them for this bot, so the baseline gets the same.
QUIET = {
    "RASA_TELEMETRY_ENABLED": "false",
    "TF_CPP_MIN_LOG_LEVEL": "2",
    "SQLALCHEMY_SILENCE_UBER_WARNING": "1",
    "PYTHONHASHSEED": "0",
}
# Variables the Makefile exports for this checkout (bench/load.py sets them in this process); a
# fresh clone or the baseline must not inherit them.
CHECKOUT_VARS = (
    "ACTION_ENDPOINT_URL",
    "RASA_TRACKER_DB",
    "RASA_TRACKER_DB_URL",
    "RASA_LOCK_STORE_URL",
    "PROGRESS_DB_URL",
    "RASA_PORT",
    "ACTIONS_PORT",
    "WEB_PORT",
    "PYTHONPATH",
    "RASA_PUBLIC_URL",
)

# First messages of a conversation (single-turn latency).
OUR_FIRST = [
    "hi",
    "hello",
    "my partner won't go to couples therapy",
    "how do I get my husband to come to counselling?",
    "my wife says therapy is too expensive",
    "what can you do?",
    "he says therapy is for crazy people",
    "I want to go to therapy alone",
]
BASELINE_FIRST = [
    "hi",
    "hello",
    "good morning",
    "I am sad",
    "I feel great",
    "are you a bot?",
    "bye",
    "I am very unhappy",
]


# ----------------------------------------------------------------------------------- helpers


def run_env(**extra: str) -> Dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in CHECKOUT_VARS}
    env.update(QUIET)
    env.update(extra)
    return env


def percentile(values: List[float], p: int) -> Optional[float]:
    return load.percentile(sorted(values), p)


def spread(values: List[float]) -> Dict[str, Any]:
    """Median, min and max of one figure over the runs (None values are runs that did not give it)."""
    present = [v for v in values if v is not None]
    if not present:
        return {"median": None, "min": None, "max": None, "runs": values}
    return {"median": statistics.median(present), "min": min(present), "max": max(present), "runs": values}


def children(root: int) -> List[int]:
    """Every process below `root`."""
    parents: Dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                parents[int(entry)] = int(Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                pass
    found, frontier = [], [root]
    while frontier:
        pid = frontier.pop()
        kids = [p for p, parent in parents.items() if parent == pid]
        found += kids
        frontier += kids
    return found


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def find_process(root: int, needle: str) -> Optional[int]:
    for pid in [root] + children(root):
        if needle in cmdline(pid):
            return pid
    return None


def peak_rss_mib(pid: Optional[int]) -> Optional[float]:
    """The process's peak resident set (VmHWM), in MiB."""
    if not pid:
        return None
    try:
        match = re.search(r"VmHWM:\s+(\d+) kB", Path(f"/proc/{pid}/status").read_text())
    except OSError:
        return None
    return round(int(match.group(1)) / 1024, 1) if match else None


def stop_group(proc: Optional[subprocess.Popen], seconds: float = 60) -> None:
    """Ctrl-C to the process group, then SIGKILL if it has not stopped in time."""
    if not proc or proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGINT)
        proc.wait(timeout=seconds)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    except ProcessLookupError:
        pass


def timed_run(cmd: List[str], cwd: Path, env: Dict[str, str], log: Path, timeout: float) -> float:
    started = time.perf_counter()
    with open(log, "a") as out:
        out.write(f"\n$ {' '.join(cmd)}\n")
        out.flush()
        done = subprocess.run(cmd, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT, timeout=timeout)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd[:3])} ... failed with {done.returncode}: see {log}")
    return time.perf_counter() - started


async def post(http: aiohttp.ClientSession, url: str, body: Dict[str, Any], timeout: float = 60) -> Tuple[float, Any]:
    started = time.perf_counter()
    async with http.post(url, json=body, timeout=aiohttp.ClientTimeout(total=timeout)) as response:
        text = await response.text()
        elapsed = time.perf_counter() - started
        if response.status != 200:
            raise RuntimeError(f"HTTP {response.status} from {url}: {text[:200]}")
    return elapsed, json.loads(text)


def joined(replies: List[Dict[str, Any]]) -> str:
    return "\n".join(r.get("text") or "" for r in replies)


# ----------------------------------------------------------------------------------- the two bots


@dataclass
class Servers:
    proc: subprocess.Popen
    url: str
    rasa_needle: str
    actions_needle: Optional[str]
    log: Path

    def rasa_pid(self) -> Optional[int]:
        return find_process(self.proc.pid, self.rasa_needle)

    def actions_pid(self) -> Optional[int]:
        return find_process(self.proc.pid, self.actions_needle) if self.actions_needle else None


class OurBot:
    key = "ours"
    title = "this bot"

    def __init__(self) -> None:
        self.texts = load.Texts()
        self.first_reply = self.texts.onboarding["consent_storage"]

    # training
    def train_inputs(self, work: Path) -> Tuple[List[str], Path, Path]:
        data = work / "data"
        shutil.copytree(REPO_ROOT / "bot" / "data", data)
        args = ["--data", str(data), "--domain", "domain.yml", "--config", "config.yml"]
        return args, REPO_ROOT, data / "nlu" / "basics.yml"

    def train_env(self, cache: Path) -> Dict[str, str]:
        return run_env(PYTHONPATH=str(REPO_ROOT), RASA_CACHE_DIRECTORY=str(cache))

    # servers
    def start(self, work: Path) -> Servers:
        from bench.servers import free_port, start_script

        ports = {"RASA_PORT": free_port(), "ACTIONS_PORT": free_port(), "WEB_PORT": free_port()}
        env = run_env(
            **{k: str(v) for k, v in ports.items()},
            RASA_PUBLIC_URL=f"http://127.0.0.1:{ports['RASA_PORT']}",
            ACTION_ENDPOINT_URL=f"http://127.0.0.1:{ports['ACTIONS_PORT']}/webhook",
            RASA_TRACKER_DB_URL=f"sqlite:///{work / 'tracker.db'}",
            RASA_LOCK_STORE_URL="",
            RASA_TRACKER_DB=str(work / "tracker.db"),
            PROGRESS_DB_URL=f"sqlite:///{work / 'progress.db'}",
            PYTHONPATH=str(REPO_ROOT),
            RASA_ENABLE_API="true",
            RASA_API_TOKEN=TOKEN,
        )
        log = work / "servers.log"
        proc = start_script("scripts/run.sh", env, log)
        return Servers(proc, f"http://127.0.0.1:{ports['RASA_PORT']}", "bot.rasa_ext run", "run actions", log)

    def answered(self, replies: List[Dict[str, Any]]) -> bool:
        return self.first_reply in joined(replies)

    def conversation_users(self, n: int) -> List[Any]:
        return load.make_users(n, seed=n)

    async def converse(self, user: Any, http: aiohttp.ClientSession, url: str) -> None:
        await load.run_user(user, http, [url], self.texts, 0.0, 60.0, (0.0, 0.0))


class BaselineBot:
    """The stock `rasa init` project (moodbot), made in `home` by the script itself."""

    key = "baseline"
    title = "rasa init"

    def __init__(self, home: Path) -> None:
        self.home = home
        domain = yaml.safe_load((home / "domain.yml").read_text())
        self.responses = {k: [v["text"] for v in vs if "text" in v] for k, vs in domain["responses"].items()}
        self.first_reply = self.responses["utter_greet"][0]

    @classmethod
    def create(cls, parent: Path, log: Path) -> "BaselineBot":
        home = parent / "baseline"
        home.mkdir()  # rasa init wants the directory to exist
        timed_run(
            [str(VENV_BIN / "rasa"), "init", "--no-prompt", "--init-dir", str(home)], parent, run_env(), log, 1800
        )
        return cls(home)

    def train_inputs(self, work: Path) -> Tuple[List[str], Path, Path]:
        data = work / "data"
        shutil.copytree(self.home / "data", data)
        args = [
            "--data",
            str(data),
            "--domain",
            str(self.home / "domain.yml"),
            "--config",
            str(self.home / "config.yml"),
        ]
        return args, self.home, data / "nlu.yml"

    def train_env(self, cache: Path) -> Dict[str, str]:
        return run_env(RASA_CACHE_DIRECTORY=str(cache))

    def start(self, work: Path) -> Servers:
        from bench.servers import free_port

        port = free_port()
        log = work / "servers.log"
        cmd = [
            str(VENV_BIN / "rasa"),
            "run",
            "--model",
            str(self.home / "models"),
            "--port",
            str(port),
            "--enable-api",
            "--auth-token",
            TOKEN,
            "--cors",
            "*",
        ]
        proc = subprocess.Popen(
            cmd,
            cwd=self.home,
            env=run_env(),
            start_new_session=True,
            preexec_fn=default_ctrl_c,
            stdout=open(log, "a"),
            stderr=subprocess.STDOUT,
        )
        return Servers(proc, f"http://127.0.0.1:{port}", "rasa run", None, log)

    def answered(self, replies: List[Dict[str, Any]]) -> bool:
        return any(r in joined(replies) for r in self.responses["utter_greet"])

    def conversation_users(self, n: int) -> List[Any]:
        return [load.User(number=i, sender="", objection=("", ""), answers=[]) for i in range(n)]

    async def converse(self, user: Any, http: aiohttp.ClientSession, url: str) -> None:
        """Four conversations along the moodbot's stories and rules (20 messages, as many as the
        coaching conversation's 19), each reply checked against the domain's responses."""
        paths = [
            [
                ("hello", "utter_greet"),
                ("I am sad", "utter_did_that_help"),
                ("yes", "utter_happy"),
                ("are you a bot?", "utter_iamabot"),
                ("bye", "utter_goodbye"),
            ],
            [
                ("hi", "utter_greet"),
                ("I am feeling very good", "utter_happy"),
                ("am I talking to a bot?", "utter_iamabot"),
                ("see you later", "utter_goodbye"),
                ("goodbye", "utter_goodbye"),
            ],
            [
                ("good morning", "utter_greet"),
                ("I'm so sad", "utter_did_that_help"),
                ("no", "utter_goodbye"),
                ("are you a human?", "utter_iamabot"),
                ("bye", "utter_goodbye"),
            ],
            [
                ("hey", "utter_greet"),
                ("very sad", "utter_did_that_help"),
                ("of course", "utter_happy"),
                ("am I talking to a human?", "utter_iamabot"),
                ("see you around", "utter_goodbye"),
            ],
        ]
        for number, path in enumerate(paths):
            sender = secrets.token_hex(16)
            for text, expected in path:
                turn = f"{number}:{text}"
                try:
                    seconds, replies = await post(http, url + WEBHOOK, {"sender": sender, "message": text})
                except Exception as error:
                    user.samples.append(load.Sample(turn, 0.0, False))
                    user.failure = load.Failure("http", turn, f"{type(error).__name__}: {error}")
                    return
                user.samples.append(load.Sample(turn, seconds, True))
                if not any(r in joined(replies) for r in self.responses[expected]):
                    user.failure = load.Failure(
                        "unexpected", turn, f"expected {expected}; got {joined(replies)[:120]!r}"
                    )
                    return
        user.finished = True


# ----------------------------------------------------------------------------------- stages


def edit_one_example(nlu_file: Path) -> str:
    """Add one example to the file's first intent, as a person editing the data would."""
    lines = nlu_file.read_text(encoding="utf-8").splitlines(keepends=True)
    for i, line in enumerate(lines):
        if re.match(r"\s*examples: \|", line):
            indent = re.match(r"(\s*)- ", lines[i + 1]).group(1)
            added = "hey there, nice to meet you today"
            lines.insert(i + 1, f"{indent}- {added}\n")
            nlu_file.write_text("".join(lines), encoding="utf-8")
            return added
    raise RuntimeError(f"no intent examples in {nlu_file}")


def measure_training(bot: Any, work: Path, log: Path) -> Dict[str, float]:
    """A full training with an empty cache, then a retrain after one NLU example was added."""
    work.mkdir(parents=True)
    args, cwd, nlu_file = bot.train_inputs(work)
    env = bot.train_env(work / "cache")
    cmd = [str(VENV_BIN / "rasa"), "train", *args, "--out", str(work / "models"), "--fixed-model-name", "model"]
    full = timed_run(cmd, cwd, env, log, 3600)
    model = work / "models" / "model.tar.gz"
    first = model.stat().st_mtime
    edit_one_example(nlu_file)
    retrain = timed_run(cmd, cwd, env, log, 3600)
    if model.stat().st_mtime == first:
        raise RuntimeError(f"the retrain after the NLU edit wrote no new model: see {log}")
    shutil.rmtree(work / "cache", ignore_errors=True)
    return {"full_train_s": round(full, 1), "retrain_one_nlu_edit_s": round(retrain, 1)}


async def first_answer(bot: Any, servers: Servers, started: float, limit: float = 900) -> float:
    """Seconds from `started` to the first message answered as the bot answers a greeting.

    Gives up after `wrong_for` seconds of answers that are not that one (a server that is up but
    misconfigured, e.g. its action server unreachable) instead of waiting out `limit`."""
    wrong_since: Optional[float] = None
    wrong_for = 120.0
    async with aiohttp.ClientSession() as http:
        while time.perf_counter() - started < limit:
            if servers.proc.poll() is not None:
                raise RuntimeError(f"the servers exited with {servers.proc.returncode}: see {servers.log}")
            try:
                _, replies = await post(
                    http, servers.url + WEBHOOK, {"sender": secrets.token_hex(16), "message": "hi"}, 30
                )
            except (aiohttp.ClientError, asyncio.TimeoutError, RuntimeError, ValueError):
                await asyncio.sleep(0.1)  # not up yet
                continue
            if bot.answered(replies):
                return time.perf_counter() - started
            wrong_since = wrong_since or time.perf_counter()
            if time.perf_counter() - wrong_since > wrong_for:
                raise RuntimeError(
                    f"wrong answers for {wrong_for:.0f} s (last: {joined(replies)[:200]!r}): see {servers.log}"
                )
            await asyncio.sleep(0.1)
    raise RuntimeError(f"no answer within {limit:.0f} s: see {servers.log}")


async def parse_times(url: str, rounds: int = 3) -> List[float]:
    """Seconds per `POST /model/parse`, each text `rounds` times, one after another."""
    times = []
    async with aiohttp.ClientSession() as http:
        for _ in range(rounds):
            for text in PARSE_TEXTS:
                seconds, parsed = await post(http, f"{url}/model/parse?token={TOKEN}", {"text": text})
                if not parsed.get("intent", {}).get("name"):
                    raise RuntimeError(f"no intent for {text!r}: {parsed}")
                times.append(seconds)
    return times


async def single_turn_times(bot: Any, url: str, rounds: int = 3) -> List[float]:
    """Seconds per reply to the first message of a new conversation, one after another."""
    texts = OUR_FIRST if bot.key == "ours" else BASELINE_FIRST
    times = []
    async with aiohttp.ClientSession() as http:
        for _ in range(rounds):
            for text in texts:
                seconds, replies = await post(http, url + WEBHOOK, {"sender": secrets.token_hex(16), "message": text})
                if not replies:
                    raise RuntimeError(f"no reply to {text!r}")
                times.append(seconds)
    return times


async def conversations(bot: Any, url: str, users: int, per_user: int) -> Dict[str, Any]:
    """`users` concurrent users (started 0.1 s apart), each holding `per_user` full conversations one
    after another; every reply is checked. Latencies, messages per second, errors."""
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as http:
        crowd = bot.conversation_users(users * per_user)

        async def one(i: int) -> None:
            await asyncio.sleep(0.1 * i)
            for user in crowd[i * per_user : (i + 1) * per_user]:
                await bot.converse(user, http, url)
                if user.failure:
                    return

        started = time.perf_counter()
        await asyncio.gather(*(one(i) for i in range(users)))
        seconds = time.perf_counter() - started
    samples = [s.seconds for u in crowd for s in u.samples if s.ok]
    failures = [f"{u.failure.kind} at {u.failure.turn}: {u.failure.detail}" for u in crowd if u.failure]
    return {
        "users": users,
        "messages": len(samples),
        "seconds": round(seconds, 2),
        "messages_per_s": round(len(samples) / seconds, 2),
        "latencies_s": samples,
        "p50_ms": ms(percentile(samples, 50)),
        "p95_ms": ms(percentile(samples, 95)),
        "p99_ms": ms(percentile(samples, 99)),
        "errors": len(failures),
        "error_samples": failures[:5],
    }


def ms(seconds: Optional[float]) -> Optional[float]:
    return None if seconds is None else round(seconds * 1000, 1)


def measure_servers(bot: Any, work: Path, levels_wanted: Tuple[int, ...] = LEVELS) -> Dict[str, Any]:
    """One run: start, first answer, parse, single turns, conversations at 1/10/50 users, peak memory."""
    work.mkdir(parents=True)
    started = time.perf_counter()
    servers = bot.start(work)
    try:
        startup = asyncio.run(first_answer(bot, servers, started))
        parse = asyncio.run(parse_times(servers.url))
        single = asyncio.run(single_turn_times(bot, servers.url))
        levels = {}
        for users in levels_wanted:
            # One user holds three conversations in a row: enough replies for a p95 without queueing.
            levels[str(users)] = asyncio.run(conversations(bot, servers.url, users, 3 if users == 1 else 1))
        memory = {
            "rasa_peak_rss_mib": peak_rss_mib(servers.rasa_pid()),
            "actions_peak_rss_mib": peak_rss_mib(servers.actions_pid()),
        }
    finally:
        stop_group(servers.proc)
    errors = load.scan_log(servers.log)
    return {
        "startup_s": round(startup, 2),
        "parse_s": parse,
        "single_turn_s": single,
        "levels": levels,
        **memory,
        "server_log": {k: errors.get(k) for k in ("error", "traceback", "samples")},
    }


def measure_components(bot: Any, model: Path, log: Path) -> Dict[str, Any]:
    """bench/components.py in its own process: each NLU component's time per message."""
    out = log.with_suffix(".json")
    env = run_env(PYTHONPATH=str(REPO_ROOT)) if bot.key == "ours" else run_env()
    cmd = [
        str(VENV_BIN / "python"),
        str(REPO_ROOT / "bench" / "components.py"),
        "--model",
        str(model),
        "--json",
        str(out),
    ]
    timed_run(cmd, REPO_ROOT if bot.key == "ours" else bot.home, env, log, 1800)
    return json.loads(out.read_text())


def measure_cold_ours(work: Path, log: Path) -> Dict[str, Any]:
    """`make run` on a fresh clone of this checkout's HEAD, to the first correctly answered message."""
    from bench.servers import free_port

    clone = work / "clone"
    subprocess.run(["git", "clone", "--quiet", str(REPO_ROOT), str(clone)], check=True)
    ports = {"RASA_PORT": free_port(), "ACTIONS_PORT": free_port(), "WEB_PORT": free_port()}
    env = run_env(**{k: str(v) for k, v in ports.items()})
    env.pop("RASA_CACHE_DIRECTORY", None)
    started = time.perf_counter()
    proc = subprocess.Popen(
        ["make", "run"],
        cwd=clone,
        env=env,
        start_new_session=True,
        preexec_fn=default_ctrl_c,
        stdout=open(log, "a"),
        stderr=subprocess.STDOUT,
    )
    servers = Servers(proc, f"http://127.0.0.1:{ports['RASA_PORT']}", "bot.rasa_ext run", "run actions", log)
    try:
        seconds = asyncio.run(first_answer(OurBot(), servers, started, limit=3600))
    finally:
        stop_group(proc, 90)
        shutil.rmtree(clone, ignore_errors=True)
    return {"cold_first_reply_s": round(seconds, 1)}


def measure_cold_baseline(work: Path, log: Path) -> Dict[str, Any]:
    """A newcomer's path with the stock assistant: a new venv, `pip install rasa` (this project's
    pins as constraints, so the same versions), `rasa init --no-prompt`, `rasa run`, first reply."""
    from bench.servers import free_port

    python = subprocess.run(
        [str(REPO_ROOT / "scripts" / "find_python.sh")], capture_output=True, text=True, check=True
    ).stdout.strip()
    venv, home, port = work / "venv", work / "project", free_port()
    env = run_env()
    started = time.perf_counter()
    home.mkdir()
    timed_run([python, "-m", "venv", str(venv)], work, env, log, 600)
    timed_run(
        [
            str(venv / "bin" / "pip"),
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "-c",
            str(REPO_ROOT / "requirements.txt"),
            "rasa==3.6.21",
        ],
        work,
        env,
        log,
        3600,
    )
    timed_run([str(venv / "bin" / "rasa"), "init", "--no-prompt", "--init-dir", str(home)], work, env, log, 3600)
    proc = subprocess.Popen(
        [str(venv / "bin" / "rasa"), "run", "--port", str(port)],
        cwd=home,
        env=env,
        start_new_session=True,
        preexec_fn=default_ctrl_c,
        stdout=open(log, "a"),
        stderr=subprocess.STDOUT,
    )
    servers = Servers(proc, f"http://127.0.0.1:{port}", "rasa run", None, log)
    try:
        seconds = asyncio.run(first_answer(BaselineBot(home), servers, started, limit=3600))
    finally:
        stop_group(proc)
        shutil.rmtree(venv, ignore_errors=True)
    return {"cold_first_reply_s": round(seconds, 1)}


# ----------------------------------------------------------------------------------- report


@dataclass
class Row:
    label: str
    unit: str
    ours: Dict[str, Any]
    base: Optional[Dict[str, Any]]
    target: str = ""
    check: Optional[Callable[[float, Optional[float]], bool]] = None
    notes: str = ""

    @property
    def ratio(self) -> Optional[float]:
        if not self.base or self.ours["median"] is None or not self.base["median"]:
            return None
        return self.ours["median"] / self.base["median"]

    @property
    def met(self) -> Optional[bool]:
        if not self.check or self.ours["median"] is None:
            return None
        return self.check(self.ours["median"], self.base["median"] if self.base else None)


def within(factor: float) -> Callable[[float, Optional[float]], bool]:
    return lambda ours, base: base is not None and ours <= factor * base


def below(limit: float) -> Callable[[float, Optional[float]], bool]:
    return lambda ours, base: ours < limit


def per_run(runs: List[Dict[str, Any]], get: Callable[[Dict[str, Any]], Optional[float]]) -> Dict[str, Any]:
    values = []
    for run in runs:
        try:
            values.append(get(run))
        except (KeyError, TypeError):
            values.append(None)
    return spread(values)


def rows(result: Dict[str, Any]) -> List[Row]:
    ours, base = result["bots"]["ours"], result["bots"]["baseline"]
    out: List[Row] = []

    def both(label: str, unit: str, section: str, get: Callable, target: str = "", check=None, notes: str = "") -> None:
        if ours.get(section) is None:
            return
        b = per_run(base[section], get) if base.get(section) else None
        out.append(Row(label, unit, per_run(ours[section], get), b, target, check, notes))

    def lat(values: List[float], p: int) -> Optional[float]:
        return ms(percentile(values, p))

    for p, target in ((50, True), (95, True), (99, False)):
        both(
            f"single-turn reply, p{p}",
            "ms",
            "servers",
            lambda r, p=p: lat(r["single_turn_s"], p),
            "≤ 1.2 × baseline" if target else "",
            within(1.2) if target else None,
        )
    for users in result.get("levels", LEVELS):
        for p, target in ((50, True), (95, True), (99, False)):
            both(
                f"conversation reply, {users} user{'s' if users > 1 else ''}, p{p}",
                "ms",
                "servers",
                lambda r, u=users, p=p: r["levels"][str(u)][f"p{p}_ms"],
                "≤ 1.2 × baseline" if target else "",
                within(1.2) if target else None,
            )
        both(
            f"throughput, {users} user{'s' if users > 1 else ''}",
            "msg/s",
            "servers",
            lambda r, u=users: r["levels"][str(u)]["messages_per_s"],
        )
    both("NLU parse over HTTP, p50", "ms", "servers", lambda r: lat(r["parse_s"], 50), "≤ 1.2 × baseline", within(1.2))
    both("NLU parse over HTTP, p95", "ms", "servers", lambda r: lat(r["parse_s"], 95))
    both(
        "NLU parse in-process, mean",
        "ms",
        "components",
        lambda r: r["parse_ms"]["mean"],
        "≤ 1.2 × baseline",
        within(1.2),
    )
    both("start-up to the first answer", "s", "servers", lambda r: r["startup_s"], "≤ baseline", within(1.0))
    both(
        "Rasa process peak memory", "MiB", "servers", lambda r: r["rasa_peak_rss_mib"], "≤ baseline + 10%", within(1.1)
    )
    both(
        "action server peak memory",
        "MiB",
        "servers",
        lambda r: r["actions_peak_rss_mib"],
        notes="the stock assistant has no custom actions",
    )
    both("full training", "s", "train", lambda r: r["full_train_s"], "< 300 s", below(300))
    both("retrain after one NLU example", "s", "train", lambda r: r["retrain_one_nlu_edit_s"], "< 60 s", below(60))
    if ours.get("components"):
        out.append(
            Row(
                "safety component alone",
                "ms/msg",
                per_run(ours["components"], lambda r: r["safety_component_ms_per_message"]),
                None,
                "< 1 ms",
                below(1.0),
            )
        )
    both(
        "cold `make run` on a fresh clone to the first reply",
        "s",
        "cold",
        lambda r: r["cold_first_reply_s"],
        notes="baseline: new venv, pip install rasa, rasa init, rasa run",
    )
    return out


def number(value: Optional[float]) -> str:
    if value is None:
        return "–"
    return (
        f"{value:.0f}"
        if abs(value) >= 100
        else f"{value:.1f}"
        if abs(value) >= 10
        else f"{value:.2f}"
        if abs(value) >= 0.1
        else f"{value:.3f}"
    )


def cell(figure: Optional[Dict[str, Any]]) -> str:
    if not figure or figure["median"] is None:
        return "–"
    count = len([v for v in figure["runs"] if v is not None])
    if count == 1:
        return number(figure["median"])
    return f"{number(figure['median'])} ({number(figure['min'])}–{number(figure['max'])})"


def table_lines(result: Dict[str, Any]) -> List[str]:
    lines = [
        "| measure | unit | this bot | `rasa init` | ratio | target | met |",
        "| --- | --- | ---: | ---: | ---: | --- | --- |",
    ]
    for row in rows(result):
        met = {True: "yes", False: "**no**", None: ""}[row.met]
        ratio = f"{row.ratio:.2f}" if row.ratio is not None else "–"
        label = row.label + (f" ({row.notes})" if row.notes else "")
        lines.append(f"| {label} | {row.unit} | {cell(row.ours)} | {cell(row.base)} | {ratio} | {row.target} | {met} |")
    return lines


def chart(result: Dict[str, Any], path: Path) -> None:
    """Latency distributions (every reply of every run), as cumulative curves on a log scale."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = (
        [("single-turn replies", lambda r: r["single_turn_s"])]
        + [
            (
                f"conversations, {u} concurrent user{'s' if u > 1 else ''}",
                lambda r, u=u: r["levels"][str(u)]["latencies_s"],
            )
            for u in result.get("levels", LEVELS)
        ]
        + [("NLU parse (HTTP)", lambda r: r["parse_s"])]
    )
    fig, axes = plt.subplots(1, len(panels), figsize=(4 * len(panels), 3.6), sharey=True)
    for ax, (title, get) in zip(axes, panels):
        for key, colour, name in (("ours", "tab:blue", "this bot"), ("baseline", "tab:orange", "rasa init")):
            values = sorted(v * 1000 for run in result["bots"][key].get("servers") or [] for v in get(run))
            if values:
                ax.step(
                    values,
                    [(i + 1) / len(values) for i in range(len(values))],
                    where="post",
                    color=colour,
                    label=f"{name} (p50 {number(percentile(values, 50))} ms)",
                )
        ax.set_xscale("log")
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("reply time (ms, log scale)")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8, loc="lower right")
    axes[0].set_ylabel("share of replies at most this fast")
    m = result["machine"]
    fig.suptitle(
        f"Reply time distributions, {result['date'][:10]}, {m.get('cores')} cores, "
        f"{len(result['bots']['ours'].get('servers') or [])} runs each",
        fontsize=11,
    )
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


MARK_BEGIN, MARK_END = "<!-- bench:compare:begin -->", "<!-- bench:compare:end -->"


def markdown_block(result: Dict[str, Any]) -> str:
    m = result["machine"]
    changed = len(result["uncommitted"])
    commit = result["commit"][:10] + (f" with uncommitted changes in {changed} files" if changed else "")
    runs = result["runs"]
    ours_c = (result["bots"]["ours"].get("components") or [None])[0]
    base_c = (result["bots"]["baseline"].get("components") or [None])[0]
    lines = [
        MARK_BEGIN,
        "",
        f"Measured {result['date'][:10]} by `{result['command']}` in one run, both bots on the same machine: "
        f"{m.get('cores')} cores ({m.get('cpu', '?')}), {m.get('memory_gib')} GiB memory, Rasa {m.get('rasa')}, "
        f"Python {m.get('python')}; commit {commit}. Runs: servers {runs['servers']}, training "
        f"{runs['train']}, cold start {runs['cold']}, in-process parse {runs['components']}. Each cell is the "
        "median of the runs with (min–max); ratio = this bot / `rasa init`. CPU taken by other processes "
        f"during the run: {result['cpu']['other_cores']} of {result['cpu']['cores']} cores on average.",
        "",
        *table_lines(result),
        "",
        "![Reply time distributions](benchmarks-latency.png)",
        "",
    ]
    if ours_c or base_c:
        lines += [
            "NLU parse time per component (in-process, `bench/components.py`, "
            f"{(ours_c or base_c)['messages']} messages, ms per message):",
            "",
            "| component | this bot | `rasa init` |",
            "| --- | ---: | ---: |",
        ]
        names = list(dict.fromkeys(list((ours_c or {}).get("nodes", {})) + list((base_c or {}).get("nodes", {}))))
        for name in names:
            a = (ours_c or {}).get("nodes", {}).get(name, {}).get("ms_per_message")
            b = (base_c or {}).get("nodes", {}).get(name, {}).get("ms_per_message")
            if (a or 0) >= 0.01 or (b or 0) >= 0.01:
                lines.append(f"| `{name}` | {number(a)} | {number(b)} |")
        lines.append("")
    for key, title in (("ours", "this bot"), ("baseline", "rasa init")):
        errors = [
            e
            for run in result["bots"][key].get("servers") or []
            for lvl in run["levels"].values()
            for e in lvl["error_samples"]
        ]
        total = sum(lvl["errors"] for run in result["bots"][key].get("servers") or [] for lvl in run["levels"].values())
        lines.append(f"Conversation errors, {title}: {total}" + (f" (e.g. {errors[0]})" if errors else "") + ".")
    lines += ["", MARK_END]
    return "\n".join(lines)


def update_markdown(path: Path, result: Dict[str, Any]) -> None:
    text = path.read_text(encoding="utf-8")
    block = markdown_block(result)
    if MARK_BEGIN in text and MARK_END in text:
        text = text[: text.index(MARK_BEGIN)] + block + text[text.index(MARK_END) + len(MARK_END) :]
    else:
        heading = "\n## This bot against `rasa init` (`make bench`)\n\n"
        at = text.find("\n## Load")
        text = (
            (text[:at].rstrip("\n") + "\n" + heading + block + "\n" + text[at:])
            if at >= 0
            else text.rstrip("\n") + "\n" + heading + block + "\n"
        )
    path.write_text(text, encoding="utf-8")


# ----------------------------------------------------------------------------------- main


def parse_args(argv: List[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--runs", type=int, default=3, help="server runs per bot (default 3)")
    p.add_argument("--train-runs", type=int, default=3, help="training runs per bot (default 3)")
    p.add_argument("--cold-runs", type=int, default=1, help="cold starts per bot (default 1: each takes minutes)")
    p.add_argument(
        "--levels",
        default=",".join(map(str, LEVELS)),
        help=f"concurrent users of the conversation runs (default {','.join(map(str, LEVELS))})",
    )
    p.add_argument(
        "--results", type=Path, default=RESULTS, help="where the JSON and the logs go (default results/bench)"
    )
    p.add_argument("--skip", default="", help=f"comma-separated stages to leave out: {', '.join(STAGES)}")
    p.add_argument("--markdown", action="store_true", help="rewrite the section in docs/benchmarks.md and the chart")
    p.add_argument("--keep", action="store_true", help="keep the temporary directory (the baseline project, logs)")
    args = p.parse_args(argv)
    args.skip = {s for s in args.skip.split(",") if s}
    try:
        args.levels = tuple(sorted({int(v) for v in args.levels.split(",") if v}))
    except ValueError:
        p.error("--levels takes numbers separated by commas")
    if not args.levels or args.levels[0] < 1:
        p.error("--levels takes positive numbers")
    unknown = args.skip - set(STAGES)
    if unknown:
        p.error(f"unknown stage(s): {', '.join(sorted(unknown))}")
    return args


def main(argv: List[str]) -> int:
    args = parse_args(argv)
    if not load.MODEL.exists():
        raise SystemExit(f"{load.MODEL.relative_to(REPO_ROOT)} is missing: run `make train` first (make bench does)")
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    args.results.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="bench-compare-"))
    logs = args.results / f"compare-{stamp}"
    logs.mkdir()
    result: Dict[str, Any] = {
        "benchmark": "compare",
        "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "commit": load._git("rev-parse", "HEAD"),
        "uncommitted": [re.sub(r"^\S+\s+", "", line) for line in load._git("status", "--porcelain").splitlines()],
        "command": "make bench" if os.environ.get("MAKELEVEL") else "python bench/compare.py " + " ".join(argv),
        "machine": load.machine(),
        "model": load.model_facts(),
        "runs": {
            "servers": 0 if "servers" in args.skip else args.runs,
            "train": 0 if "train" in args.skip else args.train_runs,
            "cold": 0 if "cold" in args.skip else args.cold_runs,
            "components": 0 if "components" in args.skip else 1,
        },
        "levels": list(args.levels),
        "bots": {"ours": {}, "baseline": {}},
    }
    meter = load.CpuMeter()
    meter.start()

    def say(text: str) -> None:
        print(f"[{time.strftime('%H:%M:%S')}] {text}", flush=True)

    try:
        say(f"making the baseline: rasa init --no-prompt in {tmp} (log: {logs / 'baseline-init.log'})")
        bots = [OurBot(), BaselineBot.create(tmp, logs / "baseline-init.log")]
        # Alternate the bots run by run, so a slow spell of the machine does not hit one bot only.
        if "train" not in args.skip:
            for r in range(args.train_runs):
                for bot in bots:
                    say(f"training {bot.title}, run {r + 1} of {args.train_runs}")
                    figures = measure_training(bot, tmp / f"train-{bot.key}-{r}", logs / f"train-{bot.key}.log")
                    say(
                        f"  full {figures['full_train_s']} s, retrain after one NLU edit {figures['retrain_one_nlu_edit_s']} s"
                    )
                    result["bots"][bot.key].setdefault("train", []).append(figures)
        if "servers" not in args.skip:
            for r in range(args.runs):
                for bot in bots:
                    say(f"servers of {bot.title}, run {r + 1} of {args.runs}")
                    figures = measure_servers(bot, logs / f"servers-{bot.key}-{r}", args.levels)
                    levels = ", ".join(
                        f"{u} users {v['messages_per_s']} msg/s p50 {v['p50_ms']} ms"
                        f"{' ' + str(v['errors']) + ' errors' if v['errors'] else ''}"
                        for u, v in figures["levels"].items()
                    )
                    say(
                        f"  start-up {figures['startup_s']} s, single p50 {ms(percentile(figures['single_turn_s'], 50))} ms,"
                        f" {levels}; Rasa peak {figures['rasa_peak_rss_mib']} MiB"
                    )
                    result["bots"][bot.key].setdefault("servers", []).append(figures)
        if "components" not in args.skip:
            for bot, model in ((bots[0], load.MODEL), (bots[1], bots[1].home / "models")):
                say(f"NLU components of {bot.title}, in-process")
                result["bots"][bot.key]["components"] = [
                    measure_components(bot, model, logs / f"components-{bot.key}.log")
                ]
        if "cold" not in args.skip:
            for r in range(args.cold_runs):
                say(f"cold start of this bot: git clone + make run, run {r + 1} (log: {logs / 'cold-ours.log'})")
                work = tmp / f"cold-ours-{r}"
                work.mkdir()
                result["bots"]["ours"].setdefault("cold", []).append(measure_cold_ours(work, logs / "cold-ours.log"))
                say(f"  {result['bots']['ours']['cold'][-1]['cold_first_reply_s']} s")
                say(f"cold start of rasa init: venv + pip install + rasa init + rasa run, run {r + 1}")
                work = tmp / f"cold-baseline-{r}"
                work.mkdir()
                result["bots"]["baseline"].setdefault("cold", []).append(
                    measure_cold_baseline(work, logs / "cold-baseline.log")
                )
                say(f"  {result['bots']['baseline']['cold'][-1]['cold_first_reply_s']} s")
    finally:
        result["cpu"] = meter.stop()
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)
    out = args.results / f"compare-{stamp}.json"
    out.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    print("\n".join(table_lines(result)))
    print(f"\nresults: {out}; logs: {logs}")
    if args.markdown:
        chart(result, CHART)
        update_markdown(MARKDOWN, result)
        print(f"updated {MARKDOWN.relative_to(REPO_ROOT)} and {CHART.relative_to(REPO_ROOT)}")
    missed = [r.label for r in rows(result) if r.met is False]
    if missed:
        print("targets missed: " + "; ".join(missed))
    errors = sum(
        level["errors"]
        for bot in result["bots"].values()
        for run in bot.get("servers") or []
        for level in run["levels"].values()
    )
    if errors:
        print(f"{errors} conversations failed (a reply was missing or wrong): the figures are not comparable")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
