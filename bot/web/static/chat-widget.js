/*
 * The coach's chat widget. A practice embeds it with one script tag and a settings object:
 *
 *   <script>
 *     window.CoachChatSettings = { serverUrl: "https://chat.example.org", practiceName: "...",
 *       title: "Chat", greeting: "...", exitUrl: "https://www.bbc.co.uk/weather",
 *       colours: { primary: "#1d4e89", primaryText: "#ffffff" } };
 *   </script>
 *   <script src="https://chat.example.org:8000/chat-widget.js" defer></script>
 *
 * The served file starts with socket.io-client (npm, see bot/web/package.json); this part is
 * plain ES5+DOM with no other dependency. What it promises (tests/web/ checks each in Chromium):
 * - user and bot text is always inserted as text (textContent), never parsed as HTML; links are
 *   built as <a> elements and only for http(s) addresses;
 * - the conversation lives in sessionStorage (this tab only) or in memory, never localStorage
 *   or cookies;
 * - quick exit (button first in keyboard order, or Shift pressed 3 times in a row) clears it,
 *   disconnects and replaces the page, so Back does not return to it;
 * - a labelled dialog, a message log announced to screen readers, keyboard use throughout,
 *   an offline notice while the server is unreachable, and reconnection when it is back.
 */
(function () {
  "use strict";

  if (window.__coachChatLoaded) { return; }
  window.__coachChatLoaded = true;

  var STORE_KEY = "coach-chat:v1";
  var SHIFT_PRESSES = 3;
  var SHIFT_WINDOW_MS = 5000;
  var MAX_INPUT = 2000;
  var TYPING_TIMEOUT_MS = 20000;

  var script = document.currentScript;
  var base = script && script.src ? script.src.replace(/[^\/]*(\?.*)?$/, "") : "";

  var DEFAULTS = {
    serverUrl: window.location.protocol + "//" + window.location.hostname + ":5005",
    socketPath: "/socket.io/",
    practiceName: "",
    title: "Chat",
    greeting: "A private space to think about couples therapy.",
    launcherLabel: "Chat",
    exitUrl: "https://www.bbc.co.uk/weather",
    exitLabel: "Exit this page",
    pageTitle: "",
    initPayload: "/greet",
    openOnLoad: false,
    colours: {}
  };
  var DEFAULT_COLOURS = { primary: "#1d4e89", primaryText: "#ffffff" };

  var settings = merge(DEFAULTS, window.CoachChatSettings || {});

  // ------------------------------------------------------------------ storage (tab session only)
  var memoryStore = null;

  function loadState() {
    var raw = null;
    try { raw = window.sessionStorage.getItem(STORE_KEY); } catch (e) { raw = memoryStore; }
    if (raw === null || raw === undefined) { raw = memoryStore; }
    if (!raw) { return freshState(); }
    try {
      var state = JSON.parse(raw);
      if (!state || !Array.isArray(state.messages)) { return freshState(); }
      return state;
    } catch (e) {
      return freshState();
    }
  }

  function freshState() {
    return { sessionId: null, messages: [], open: false, greeted: false };
  }

  function saveState() {
    var raw = JSON.stringify(state);
    memoryStore = raw;
    try { window.sessionStorage.setItem(STORE_KEY, raw); } catch (e) { /* memory only */ }
  }

  function clearState() {
    memoryStore = null;
    try { window.sessionStorage.removeItem(STORE_KEY); } catch (e) { /* nothing stored */ }
  }

  var state = loadState();

  // ------------------------------------------------------------------ colours (WCAG AA)
  function luminance(hex) {
    var m = /^#?([0-9a-f]{6})$/i.exec(String(hex || "").trim());
    if (!m) { return null; }
    var n = parseInt(m[1], 16);
    var rgb = [(n >> 16) & 255, (n >> 8) & 255, n & 255].map(function (c) {
      c = c / 255;
      return c <= 0.03928 ? c / 12.92 : Math.pow((c + 0.055) / 1.055, 2.4);
    });
    return 0.2126 * rgb[0] + 0.7152 * rgb[1] + 0.0722 * rgb[2];
  }

  function contrast(a, b) {
    var la = luminance(a), lb = luminance(b);
    if (la === null || lb === null) { return 0; }
    return (Math.max(la, lb) + 0.05) / (Math.min(la, lb) + 0.05);
  }

  function pickColours(wanted) {
    var primary = wanted.primary || DEFAULT_COLOURS.primary;
    var primaryText = wanted.primaryText || DEFAULT_COLOURS.primaryText;
    // Buttons use the primary colour as text on white, the header white-ish text on it: both must pass AA.
    if (contrast(primary, primaryText) < 4.5 || contrast(primary, "#ffffff") < 4.5) {
      if (window.console) {
        console.warn("chat widget: colours " + primary + "/" + primaryText + " fail WCAG AA contrast; using the defaults");
      }
      return DEFAULT_COLOURS;
    }
    return { primary: primary, primaryText: primaryText };
  }

  // ------------------------------------------------------------------ DOM helpers
  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    if (attrs) {
      Object.keys(attrs).forEach(function (k) {
        if (k === "className") { node.className = attrs[k]; } else { node.setAttribute(k, attrs[k]); }
      });
    }
    if (text !== undefined && text !== null) { node.textContent = String(text); }
    return node;
  }

  var LINK = /\[([^\]\n]{1,200})\]\((https?:\/\/[^\s)]+)\)|(https?:\/\/[^\s<>"]+[^\s<>".,;:!?)\]])/g;

  // Text with links: every piece is a text node or an <a> we build; nothing is parsed as HTML.
  function appendRichText(node, text) {
    text = String(text === undefined || text === null ? "" : text);
    var last = 0, m;
    LINK.lastIndex = 0;
    while ((m = LINK.exec(text)) !== null) {
      if (m.index > last) { node.appendChild(document.createTextNode(text.slice(last, m.index))); }
      var href = m[2] || m[3];
      var a = el("a", { href: href, target: "_blank", rel: "noopener noreferrer" }, m[1] || m[3]);
      node.appendChild(a);
      last = LINK.lastIndex;
    }
    if (last < text.length) { node.appendChild(document.createTextNode(text.slice(last))); }
  }

  // ------------------------------------------------------------------ build the widget
  var exitButton = el("button", { type: "button", className: "cc-exit", id: "cc-exit" }, settings.exitLabel);
  exitButton.setAttribute("aria-describedby", "cc-exit-help");
  var exitHelp = el("span", { id: "cc-exit-help", className: "cc-sr" },
    "Leaves this page at once and clears this chat. You can also press Shift three times. It does not erase your browser history.");
  exitButton.appendChild(exitHelp);

  var root = el("div", { className: "cc-root" });
  var launcher = el("button", { type: "button", className: "cc-launcher", "aria-expanded": "false", "aria-controls": "cc-dialog" },
    settings.launcherLabel);
  var dialog = el("section", { className: "cc-dialog", id: "cc-dialog", role: "dialog", "aria-modal": "false",
    "aria-labelledby": "cc-title", "aria-describedby": "cc-greeting" });
  dialog.hidden = true;

  var header = el("div", { className: "cc-header" });
  var headerText = el("div", { className: "cc-header-text" });
  var titleText = settings.title + (settings.practiceName ? " \u2013 " + settings.practiceName : "");
  headerText.appendChild(el("h2", { className: "cc-title", id: "cc-title" }, titleText));
  headerText.appendChild(el("p", { className: "cc-greeting", id: "cc-greeting" }, settings.greeting));
  var closeButton = el("button", { type: "button", className: "cc-close", "aria-label": "Close chat" }, "\u00d7");
  header.appendChild(headerText);
  header.appendChild(closeButton);

  var status = el("p", { className: "cc-status", role: "status", "aria-live": "polite" });
  var log = el("div", { className: "cc-log", role: "log", "aria-live": "polite", "aria-relevant": "additions",
    "aria-label": "Conversation", tabindex: "0" });

  var form = el("form", { className: "cc-form" });
  var inputLabel = el("label", { "for": "cc-input", className: "cc-sr" }, "Your message");
  var input = el("textarea", { id: "cc-input", className: "cc-input", rows: "1", maxlength: String(MAX_INPUT),
    autocomplete: "off", placeholder: "Type a message" });
  var send = el("button", { type: "submit", className: "cc-send" }, "Send");
  form.appendChild(inputLabel);
  form.appendChild(input);
  form.appendChild(send);

  var privacy = el("p", { className: "cc-privacy", id: "cc-privacy" },
    "Quick exit (the red button, or Shift pressed 3 times) leaves this page and clears this chat from this tab. " +
    "It does not erase your browser history. Closing this tab closes the chat on this screen; if you " +
    "let the coach keep your progress, type your resume code in a new tab or on another device to continue.");

  dialog.appendChild(header);
  dialog.appendChild(status);
  dialog.appendChild(log);
  dialog.appendChild(form);
  dialog.appendChild(privacy);
  root.appendChild(dialog);
  root.appendChild(launcher);

  function applyColours() {
    var c = pickColours(settings.colours || {});
    [root, exitButton].forEach(function (node) {
      node.style.setProperty("--cc-primary", c.primary);
      node.style.setProperty("--cc-primary-text", c.primaryText);
    });
  }

  // ------------------------------------------------------------------ rendering
  var typing = null;
  var typingTimer = null;

  function showTyping(on) {
    if (typingTimer) { clearTimeout(typingTimer); typingTimer = null; }
    if (on && !typing) {
      typing = el("p", { className: "cc-typing", "aria-hidden": "true" }, "typing\u2026");
      log.appendChild(typing);
      typingTimer = setTimeout(function () { showTyping(false); }, TYPING_TIMEOUT_MS);
    } else if (!on && typing) {
      typing.remove();
      typing = null;
    }
    scrollDown();
  }

  function scrollDown() { log.scrollTop = log.scrollHeight; }

  function renderMessage(msg, index) {
    var wrap = el("div", { className: "cc-msg cc-msg-" + (msg.from === "user" ? "user" : "bot") });
    wrap.appendChild(el("span", { className: "cc-sr" }, msg.from === "user" ? "You said: " : "Coach: "));
    appendRichText(wrap, msg.text);
    var anchor = typing && typing.parentNode === log ? typing : null;
    if (msg.text) { log.insertBefore(wrap, anchor); }
    if (msg.buttons && msg.buttons.length) {
      var group = el("div", { className: "cc-buttons", role: "group", "aria-label": "Choices" });
      msg.buttons.forEach(function (b) {
        var choice = el("button", { type: "button", className: "cc-choice" }, b.title);
        if (msg.used) { choice.disabled = true; }
        choice.addEventListener("click", function () { choose(index, b); });
        group.appendChild(choice);
      });
      log.insertBefore(group, anchor);
    }
    scrollDown();
  }

  function renderAll() {
    while (log.firstChild) { log.removeChild(log.firstChild); }
    typing = null;
    state.messages.forEach(renderMessage);
  }

  function addMessage(msg) {
    state.messages.push(msg);
    saveState();
    renderMessage(msg, state.messages.length - 1);
  }

  function setStatus(text) { status.textContent = text || ""; }

  // ------------------------------------------------------------------ connection
  var socket = null;
  var ready = false;
  var queue = [];
  // A random key for this page, sent with every socket.io request: a load balancer keeps all
  // requests of this connection on one Rasa process by it (deploy/nginx.conf), even when many
  // users share one address. It says nothing about the user.
  var awaiting = false;  // a message was sent and no reply has come yet
  var OFFLINE = "You are offline. Trying to reconnect\u2026 Messages you send now will go when the chat is back.";
  var MAYBE_LOST = "You are offline. Trying to reconnect\u2026 Your last message may not have reached me.";
  var SEND_AGAIN = "The chat is back. If I don't answer your last message in a moment, please send it again.";
  var stickyKey = (function () {
    try {
      var bytes = new Uint8Array(8);
      window.crypto.getRandomValues(bytes);
      return Array.prototype.map.call(bytes, function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");
    } catch (e) {
      return Math.random().toString(16).slice(2);
    }
  })();

  function connect() {
    if (socket) { return; }
    if (typeof window.io !== "function") {
      setStatus("The chat could not start. Please reload the page.");
      return;
    }
    setStatus("Connecting\u2026");
    socket = window.io(settings.serverUrl, {
      path: settings.socketPath,
      query: { sticky: stickyKey },
      transports: ["websocket", "polling"],
      reconnection: true,
      reconnectionDelay: 1000,
      reconnectionDelayMax: 5000,
      withCredentials: false
    });
    socket.on("connect", function () {
      socket.emit("session_request", { session_id: state.sessionId });
    });
    socket.on("session_confirm", function (sessionId) {
      var id = typeof sessionId === "string" ? sessionId : (sessionId && sessionId.session_id);
      if (!id) { return; }
      if (state.sessionId && state.sessionId !== id) {
        // The server did not accept the stored id: a new conversation.
        state.messages = [];
        state.greeted = false;
        renderAll();
      }
      state.sessionId = id;
      saveState();
      ready = true;
      // The connection broke while a reply was awaited: that message may not have arrived.
      setStatus(awaiting ? SEND_AGAIN : "");
      awaiting = false;
      if (!state.greeted) {
        state.greeted = true;
        saveState();
        emitMessage(settings.initPayload);
      }
      while (queue.length) { emitMessage(queue.shift()); }
    });
    socket.on("bot_uttered", function (data) {
      awaiting = false;
      if (ready) { setStatus(""); }
      showTyping(false);
      receive(data);
    });
    socket.on("disconnect", function () {
      ready = false;
      showTyping(false);
      setStatus(awaiting ? MAYBE_LOST : OFFLINE);
    });
    socket.on("connect_error", function () {
      ready = false;
      setStatus(awaiting ? MAYBE_LOST : OFFLINE);
    });
  }

  function emitMessage(text) {
    if (!text) { return; }
    if (!ready || !socket) { queue.push(text); return; }
    socket.emit("user_uttered", { message: text, session_id: state.sessionId });
    awaiting = true;
    showTyping(true);
  }

  function receive(data) {
    if (!data || typeof data !== "object") { return; }
    var buttons = [];
    var raw = data.quick_replies || data.buttons || [];
    if (Array.isArray(raw)) {
      raw.forEach(function (b) {
        if (b && typeof b.title === "string") {
          buttons.push({ title: b.title, payload: typeof b.payload === "string" ? b.payload : b.title });
        }
      });
    }
    var text = typeof data.text === "string" ? data.text : "";
    if (!text && data.attachment && typeof data.attachment === "string") { text = data.attachment; }
    if (!text && !buttons.length) { return; }
    addMessage({ from: "bot", text: text, buttons: buttons, used: false });
  }

  // ------------------------------------------------------------------ user actions
  function sendText(text) {
    text = String(text || "").replace(/\s+$/, "");
    if (!text.trim()) { return; }
    text = text.slice(0, MAX_INPUT);
    addMessage({ from: "user", text: text });
    emitMessage(text);
  }

  function choose(index, button) {
    var msg = state.messages[index];
    if (!msg || msg.used) { return; }
    msg.used = true;
    addMessage({ from: "user", text: button.title });
    renderAll();  // the choices of that message are shown disabled from now on
    emitMessage(button.payload);
    input.focus();
  }

  function open(moveFocus) {
    dialog.hidden = false;
    root.classList.add("cc-open");
    launcher.setAttribute("aria-expanded", "true");
    state.open = true;
    saveState();
    connect();
    scrollDown();
    if (moveFocus !== false) { input.focus(); }
  }

  function close() {
    dialog.hidden = true;
    root.classList.remove("cc-open");
    launcher.setAttribute("aria-expanded", "false");
    state.open = false;
    saveState();
    launcher.focus();
  }

  // Quick exit: forget everything this widget holds, then leave without a history entry.
  function quickExit() {
    clearState();
    state = freshState();
    queue = [];
    try { if (socket) { socket.disconnect(); } } catch (e) { /* leaving anyway */ }
    try {
      root.remove();
      document.title = "";
      document.body.style.visibility = "hidden";
    } catch (e) { /* leaving anyway */ }
    window.location.replace(settings.exitUrl);
  }

  var shiftTimes = [];
  function onKeyDown(event) {
    if (event.key === "Shift") {
      if (event.repeat) { return; }
      var now = Date.now();
      shiftTimes = shiftTimes.filter(function (t) { return now - t < SHIFT_WINDOW_MS; });
      shiftTimes.push(now);
      if (shiftTimes.length >= SHIFT_PRESSES) {
        shiftTimes = [];
        quickExit();
      }
      return;
    }
    // Any other key in between (typing a capital letter) starts the count again.
    shiftTimes = [];
    if (event.key === "Escape" && !dialog.hidden && dialog.contains(document.activeElement)) {
      close();
    }
  }

  exitButton.addEventListener("click", function (event) { event.preventDefault(); quickExit(); });
  launcher.addEventListener("click", function () { if (dialog.hidden) { open(); } else { close(); } });
  closeButton.addEventListener("click", close);
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var text = input.value;
    input.value = "";
    sendText(text);
  });
  input.addEventListener("keydown", function (event) {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      form.requestSubmit ? form.requestSubmit() : form.dispatchEvent(new Event("submit", { cancelable: true }));
    }
  });
  document.addEventListener("keydown", onKeyDown, true);

  // ------------------------------------------------------------------ start
  function start() {
    if (base) {
      var css = el("link", { rel: "stylesheet", href: base + "chat-widget.css" });
      document.head.appendChild(css);
    }
    if (settings.pageTitle) { document.title = settings.pageTitle; }
    applyColours();
    document.body.insertBefore(exitButton, document.body.firstChild);
    document.body.appendChild(root);
    renderAll();
    // Restored after a reload: open again, but leave the focus where the page puts it (quick exit first).
    if (state.open || settings.openOnLoad) { open(false); }
    window.CoachChat = { open: open, close: close, quickExit: quickExit };
  }

  function merge(defaults, given) {
    var out = {};
    Object.keys(defaults).forEach(function (k) { out[k] = defaults[k]; });
    Object.keys(given || {}).forEach(function (k) {
      if (given[k] !== undefined && given[k] !== null) { out[k] = given[k]; }
    });
    return out;
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
