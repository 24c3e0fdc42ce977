"""The chat widget in a real headless Chromium, against the real servers that `make run` starts.

Debian's chromium and chromium-driver (installed by `.ci/run`) are driven by Selenium with explicit
paths, so nothing is downloaded. Locally these tests skip when Chromium, the chromedriver or the
trained model is missing; under CI=true that is a failure.

One set of servers (scripts/run.sh: action server, Rasa with the socket.io channel, web page) for
the module; each test gets a fresh browser, so a fresh tab session. The last test restarts the
servers to check the widget's offline notice and reconnection.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import time
from pathlib import Path

import pytest

from bench.servers import us_dv_number
from tests.integration.conftest import IN_CI, MODEL, REPO_ROOT
from tests.safety_harness import ONBOARDING_NEGATIVE
from tests.servers import Nginx, Servers

pytestmark = pytest.mark.integration

CHROMIUM = os.environ.get("CHROMIUM_BIN", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("CHROMEDRIVER_BIN", "/usr/bin/chromedriver")
RESULTS = REPO_ROOT / "results" / "web"
STORE_KEY = "coach-chat:v1"
US_DV_HOTLINE = us_dv_number()
WAIT = 60


def _missing(what: str):
    if IN_CI:
        pytest.fail(f"{what} is missing: .ci/run must install it")
    pytest.skip(f"{what} is missing")


@pytest.fixture(scope="module")
def servers(tmp_path_factory):
    if not MODEL.exists():
        _missing(f"the trained model {MODEL}")
    if not (REPO_ROOT / "bot/web/node_modules/socket.io-client").exists():
        _missing("socket.io-client (make setup runs npm ci in bot/web)")
    from bot.progress.store import upgrade

    workdir = tmp_path_factory.mktemp("web")
    upgrade(f"sqlite:///{workdir / 'progress.db'}")
    s = Servers(workdir)
    # The browser talks to nginx only, as on a practice's site (deploy/nginx.conf): the page, the
    # widget's socket.io, over HTTPS with a self-signed certificate that the browser is told to trust.
    if shutil.which("nginx") is None and not Path("/usr/sbin/nginx").exists():
        _missing("nginx (apt-get install nginx)")
    s.nginx = Nginx(workdir, [s.rasa_port], s.web_port, s.actions_port)
    s.env["RASA_PUBLIC_URL"] = s.nginx.url
    s.env["WEB_EXIT_URL"] = f"{s.nginx.url}/neutral.html"
    s.nginx.start()
    try:
        s.start()
        yield s
        s.stop()
    finally:
        s.nginx.stop()


def spki_hash(cert_file: Path) -> str:
    """Chromium's pin for one certificate: base64 of the SHA-256 of its public key."""
    import base64
    import hashlib

    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    cert = x509.load_pem_x509_certificate(cert_file.read_bytes())
    der = cert.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return base64.b64encode(hashlib.sha256(der).digest()).decode()


@pytest.fixture
def browser(servers):
    if not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()):
        _missing("Debian's chromium and chromium-driver")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="chromium-profile-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        f"--user-data-dir={profile}",
        # Trust nginx's self-signed certificate, and only it.
        f"--ignore-certificate-errors-spki-list={spki_hash(servers.nginx.cafile)}",
        "--window-size=1280,900",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


# ----------------------------------------------------------------------------------- helpers


def page_url(servers) -> str:
    return f"{servers.nginx.url}/"


def wait_until(predicate, timeout: float = WAIT, message: str = "condition"):
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        try:
            last = predicate()
            if last:
                return last
        except Exception as error:  # the page may be mid-update
            last = error
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {message} (last: {last!r})")


def bot_texts(driver):
    return [e.text for e in driver.find_elements("css selector", ".cc-msg-bot")]


def open_chat(driver, servers):
    driver.get(page_url(servers))
    driver.find_element("css selector", ".cc-launcher").click()
    wait_until(lambda: len(bot_texts(driver)) >= 2, message="the greeting")


def say(driver, text: str, expect_reply: bool = True):
    before = len(bot_texts(driver))
    box = driver.find_element("id", "cc-input")
    box.send_keys(text)
    driver.find_element("css selector", ".cc-send").click()
    if expect_reply:
        wait_until(lambda: len(bot_texts(driver)) > before, message=f"a reply to {text!r}")
        time.sleep(0.8)  # later parts of the same turn
    return bot_texts(driver)[before:]


def stored(driver):
    return driver.execute_script("return window.sessionStorage.getItem(arguments[0]);", STORE_KEY)


# ----------------------------------------------------------------------------------- tests


def test_page_loads_greeting_arrives_and_a_button_works(servers, browser):
    open_chat(browser, servers)
    texts = bot_texts(browser)
    assert "not therapy" in " ".join(texts)
    choices = browser.find_elements("css selector", ".cc-choice")
    assert [c.text for c in choices][:2] == ["Yes, keep my progress", "No, don't store anything"]
    before = len(bot_texts(browser))
    choices[0].click()
    wait_until(lambda: len(bot_texts(browser)) > before, message="the reply to a button")
    users = [e.text for e in browser.find_elements("css selector", ".cc-msg-user")]
    assert users[-1].endswith("Yes, keep my progress")
    # A choice can't be sent twice.
    assert all(
        not c.is_enabled()
        for c in browser.find_elements("css selector", ".cc-buttons")[0].find_elements("css selector", "button")
    )
    RESULTS.mkdir(parents=True, exist_ok=True)
    browser.save_screenshot(str(RESULTS / "widget.png"))


def test_a_danger_message_shows_the_hotline_in_the_same_turn(servers, browser):
    open_chat(browser, servers)
    replies = say(browser, "he hit me last night and I'm scared to go home")
    assert any(US_DV_HOTLINE in r for r in replies), replies


def test_markup_from_the_user_and_from_the_bot_stays_text(servers, browser):
    """The user's markup is shown as typed; a stored answer with markup comes back in "show my
    progress" (bot text) and is shown as text too. Nothing runs, no element is created."""
    open_chat(browser, servers)
    attack = '<img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script><b>bold</b>'
    for text in ONBOARDING_NEGATIVE[1:] + ['/start_step{"step": "accountability"}']:
        say(browser, text)
    say(browser, "I want to listen more and stay calm when we argue " + attack)
    replies = say(browser, "show my progress")
    assert any("<img src=x" in r for r in replies), replies
    log = browser.find_element("css selector", ".cc-log")
    assert log.find_elements("css selector", "img, script, b") == []
    assert browser.execute_script("return window.__pwned === undefined;")
    users = [e.text for e in browser.find_elements("css selector", ".cc-msg-user")]
    assert any(attack in u for u in users)


def test_links_are_real_links_only_for_web_addresses(servers, browser):
    open_chat(browser, servers)
    say(browser, "see https://example.org/x and javascript:alert(1)", expect_reply=False)
    links = browser.find_elements("css selector", ".cc-msg-user a")
    assert [a.get_attribute("href") for a in links] == ["https://example.org/x"]
    assert links[0].get_attribute("rel") == "noopener noreferrer"


def test_reload_keeps_the_conversation_in_the_tab_session_only(servers, browser):
    open_chat(browser, servers)
    say(browser, "/affirm")
    count = len(bot_texts(browser))
    assert stored(browser)
    browser.refresh()
    wait_until(lambda: len(bot_texts(browser)) == count, message="the restored conversation")
    time.sleep(2)
    assert len(bot_texts(browser)) == count, "the greeting was sent again after a reload"
    # The same conversation continues on the server: the next question follows on.
    replies = say(browser, "/affirm")
    assert replies
    assert browser.execute_script("return window.localStorage.length;") == 0
    assert browser.execute_script("return document.cookie;") == ""


def test_quick_exit_button_is_first_in_keyboard_order_and_leaves_for_good(servers, browser):
    neutral = f"{servers.nginx.url}/neutral.html"
    browser.get(neutral)  # a page before the chat, to see where Back goes
    open_chat(browser, servers)
    assert stored(browser)
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.keys import Keys

    browser.refresh()  # the open chat is restored without taking the focus
    wait_until(lambda: bot_texts(browser), message="the restored conversation")
    ActionChains(browser).send_keys(Keys.TAB).perform()
    assert browser.switch_to.active_element.get_attribute("id") == "cc-exit"
    browser.switch_to.active_element.send_keys(Keys.ENTER)
    wait_until(lambda: browser.current_url == neutral, message="the neutral page")
    assert stored(browser) is None
    browser.back()
    time.sleep(1)
    assert browser.current_url != page_url(servers), "Back returned to the chat page"


def test_shift_three_times_exits_but_typing_capitals_does_not(servers, browser):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.keys import Keys

    open_chat(browser, servers)
    box = browser.find_element("id", "cc-input")
    box.send_keys("I Think We Need Help")  # Shift for each capital, other keys in between
    assert browser.current_url == page_url(servers)
    for _ in range(3):
        ActionChains(browser).key_down(Keys.SHIFT).key_up(Keys.SHIFT).perform()
    wait_until(lambda: browser.current_url.endswith("/neutral.html"), message="quick exit by Shift x3")
    assert stored(browser) is None


def test_accessible_dialog_log_keyboard_and_contrast(servers, browser):
    open_chat(browser, servers)
    say(browser, "/affirm")  # a user message and new choices on screen too
    dialog = browser.find_element("css selector", "[role=dialog]")
    label_id = dialog.get_attribute("aria-labelledby")
    assert browser.find_element("id", label_id).text.strip()
    log = browser.find_element("css selector", "[role=log]")
    assert log.get_attribute("aria-live") == "polite" and log.get_attribute("aria-label")
    assert browser.find_element("css selector", "label[for=cc-input]").get_attribute("textContent").strip()
    # Keyboard: Escape closes and returns focus to the launcher; Enter on it opens again.
    from selenium.webdriver.common.keys import Keys

    browser.find_element("id", "cc-input").send_keys(Keys.ESCAPE)
    assert not dialog.is_displayed()
    assert "cc-launcher" in browser.switch_to.active_element.get_attribute("class")
    browser.switch_to.active_element.send_keys(Keys.ENTER)
    assert dialog.is_displayed()
    assert browser.switch_to.active_element.get_attribute("id") == "cc-input"
    # Visible focus: an outline on the focused control.
    outline = browser.execute_script("return getComputedStyle(document.activeElement).outlineStyle;")
    assert outline not in ("none", "")
    # WCAG AA: text against its own background, 4.5:1 at least, for every kind of element.
    ratios = browser.execute_script(CONTRAST_JS)
    low = {k: v for k, v in ratios.items() if v < 4.5}
    assert not low, ratios


def test_usable_at_360_pixels(servers, browser):
    browser.set_window_size(360, 740)
    open_chat(browser, servers)
    width = browser.execute_script("return document.documentElement.clientWidth;")
    assert browser.execute_script("return document.documentElement.scrollWidth;") <= width
    box = browser.find_element("css selector", ".cc-dialog").rect
    assert box["x"] >= 0 and box["x"] + box["width"] <= width
    exit_box = browser.find_element("id", "cc-exit").rect
    assert exit_box["y"] + exit_box["height"] <= box["y"], "quick exit hidden behind the open chat"
    for choice in browser.find_elements("css selector", ".cc-choice"):
        assert choice.rect["x"] + choice.rect["width"] <= width
    RESULTS.mkdir(parents=True, exist_ok=True)
    browser.save_screenshot(str(RESULTS / "widget-360px.png"))


def click_choice(driver, label: str):
    """Click the newest enabled choice whose text starts with `label`, as a user would."""
    before = len(bot_texts(driver))
    choices = [
        c
        for c in driver.find_elements("css selector", ".cc-choice")
        if c.is_enabled() and c.text.lower().startswith(label.lower())
    ]
    assert choices, (
        f"no choice {label!r} on screen: {[c.text for c in driver.find_elements('css selector', '.cc-choice') if c.is_enabled()]}"
    )
    choices[-1].click()
    wait_until(lambda: len(bot_texts(driver)) > before, message=f"the reply to {label!r}")
    time.sleep(0.8)
    return bot_texts(driver)[before:]


def test_a_new_user_on_a_phone_completes_a_coaching_step_with_buttons_and_free_text(servers, browser):
    """The whole way a new user goes on a 360 px screen: onboarding and screen by buttons, a step
    suggested by "What's next?", an answer typed in their own words, progress, and an objection."""
    browser.set_window_size(360, 740)
    open_chat(browser, servers)
    for label in ["Yes, keep my progress", "Yes, I can talk", "United States", "None of these"]:
        replies = click_choice(browser, label)
    assert any("parts of the program" in r for r in replies), replies
    replies = click_choice(browser, "What's next")
    assert any("I suggest this next" in r for r in replies), replies
    replies = click_choice(browser, "Start:")
    assert len(replies) >= 2  # why, what to do, and the reflective question
    replies = say(
        browser, "I go quiet for days instead of saying what bothers me; next time I'll say it the same evening"
    )
    assert not any(US_DV_HOTLINE in r for r in replies), replies
    assert any("saved your answer" in r.lower() for r in replies), replies
    replies = say(browser, "show my progress")
    assert any("done" in r.lower() for r in replies), replies
    replies = say(browser, "he says we can't afford therapy")
    assert replies and not any(US_DV_HOTLINE in r for r in replies)
    width = browser.execute_script("return document.documentElement.clientWidth;")
    assert browser.execute_script("return document.documentElement.scrollWidth;") <= width
    RESULTS.mkdir(parents=True, exist_ok=True)
    browser.save_screenshot(str(RESULTS / "widget-360px-step.png"))


def test_a_resume_code_continues_in_a_new_tab(servers, browser):
    """Agree to keep progress, finish a step, close the tab; in a fresh browser session (a new tab
    or another device) the code typed alone brings the progress back. The page says what closing
    the tab does."""
    open_chat(browser, servers)
    assert "resume code" in browser.find_element("id", "cc-privacy").text
    for label in ["Yes, keep my progress", "Yes, I can talk", "United States", "None of these"]:
        replies = click_choice(browser, label)
    found = re.search(r"\b[a-z]+(?:-[a-z]+){3}\b", " ".join(replies))
    assert found, replies
    code = found.group(0)
    replies = click_choice(browser, "What's next")
    click_choice(browser, "Start:")
    replies = say(browser, "I tend to go quiet for days; next time I'll say what bothers me the same evening")
    assert any("saved your answer" in r.lower() for r in replies), replies
    browser.execute_script("window.sessionStorage.clear();")  # the tab is closed: its session is gone
    browser.delete_all_cookies()
    browser.get("about:blank")
    # A new tab session: the widget starts a new conversation; the code, typed alone, resumes.
    open_chat(browser, servers)
    replies = say(browser, code.replace("-", " "))
    assert any("Welcome back" in r and "1 step done" in r for r in replies), replies
    replies = say(browser, "show my progress")
    assert any("done" in r.lower() for r in replies), replies


def test_offline_notice_and_reconnection_after_a_server_restart(servers, browser):
    open_chat(browser, servers)
    servers.stop()
    status = browser.find_element("css selector", ".cc-status")
    wait_until(lambda: "offline" in status.text.lower(), timeout=30, message="the offline notice")
    servers.start()
    wait_until(lambda: status.text == "", timeout=120, message="reconnection")
    replies = say(browser, "/affirm")
    assert replies


CONTRAST_JS = r"""
function rgb(s) { var m = s.match(/\d+(\.\d+)?/g).map(Number); return {r: m[0], g: m[1], b: m[2], a: m.length > 3 ? m[3] : 1}; }
function lum(c) { return [c.r, c.g, c.b].map(function (v) { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); })
  .reduce(function (s, v, i) { return s + v * [0.2126, 0.7152, 0.0722][i]; }, 0); }
function bg(el) { while (el) { var c = rgb(getComputedStyle(el).backgroundColor); if (c.a > 0) { return c; } el = el.parentElement; } return {r: 255, g: 255, b: 255, a: 1}; }
function ratio(el) { var a = lum(rgb(getComputedStyle(el).color)), b = lum(bg(el)); return (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05); }
var out = {};
[".cc-exit", ".cc-launcher", ".cc-title", ".cc-greeting", ".cc-close", ".cc-msg-bot", ".cc-msg-user", ".cc-choice",
 ".cc-input", ".cc-send", ".cc-privacy"].forEach(function (sel) {
  var el = document.querySelector(sel); if (el) { out[sel] = Math.round(ratio(el) * 100) / 100; } else { out[sel] = 0; }
});
return out;
"""


def test_server_logs_carry_no_message_text(servers):
    """Everything typed in this module went through Rasa, the action server and the web server,
    whose output is in one log at the default level: none of it may appear there (issue 6)."""
    log = servers.log.read_text(encoding="utf-8", errors="replace")
    assert "Rasa server is up and running" in log and "Action endpoint is up and running" in log
    # nginx's access log: paths, status and times only (no query string, no address).
    access = "\n".join(servers.nginx.access_log())
    assert "/socket.io/" in access and "sticky" not in access and "sid=" not in access
    assert "127.0.0.1 -" not in access
    log += access
    for typed in [
        "he hit me last night",
        "I want to listen more",
        "I go quiet for days",
        "we can't afford therapy",
        "I Think We Need Help",
        "onerror",
    ]:
        assert typed not in log, f"{typed!r} appears in the server log"
