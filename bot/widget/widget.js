/*
 * The after-sales chat widget. One tag embeds it on any page:
 *
 *   <script src="https://service.example.com/widget.js" async data-lang="zh"></script>
 *
 * It talks to the gateway's WebSocket (/channels/web/ws on the host the script came
 * from, so it works embedded on another origin; the protocol is described in
 * bot/channels/web.py). Options, as data- attributes of the script tag: data-lang ("zh"
 * or "en"; default: the page's <html lang>, then the browser's language), data-title
 * (the panel's title). The customer can switch the language in the panel.
 *
 * Nothing is lost across reloads and dropped connections: the session token, the last
 * message id and the transcript are kept in localStorage; a message not yet
 * acknowledged stays in an outbox and is sent again, with the same id, on reconnect
 * (the server logs it once). The widget sends nothing but what the customer typed (or
 * the button pressed) and the protocol's hello and language frames.
 */
(() => {
  "use strict";

  const script =
    document.currentScript || document.querySelector('script[src*="widget.js"]');
  if (!script || window.__afterSalesWidget) return;
  window.__afterSalesWidget = true;

  const origin = new URL(script.src, location.href);
  const SOCKET_URL =
    (origin.protocol === "https:" ? "wss://" : "ws://") + origin.host + "/channels/web/ws";
  const STORE = "aftersales-widget:" + origin.host;
  const MAX_KEPT = 200; // messages kept for a reload
  const MAX_TEXT = 4096;
  const MAX_RETRY_MS = 30000;

  const TEXTS = {
    zh: {
      launcher: "在线客服",
      title: script.dataset.title || "售后服务",
      close: "关闭对话窗口",
      language: "English",
      languageLabel: "Switch to English",
      placeholder: "请输入您的问题…",
      input: "您的消息",
      send: "发送",
      quickReplies: "快捷回复",
      typing: "客服正在输入…",
      connecting: "正在连接…",
      reconnecting: "连接已断开，正在重新连接…",
      offline: "网络已断开，恢复后会自动发送您的消息。",
      pending: "待发送",
      kept: "已保存，系统恢复后登记",
      notSent: "未发出",
      from: { customer: "您", bot: "客服助手", agent: "人工客服", system: "系统消息" },
      messageFailed: "抱歉，这条消息没有发出，请稍后再试，或换一种说法。",
      failed: "抱歉，出了点问题，请稍后再试。",
      tooLong: `消息太长了，请不要超过 ${MAX_TEXT} 个字。`,
      welcome: "您好！我是售后服务助手，可以为您解答问题、登记投诉和报修，或转接人工客服。",
      unread: (count) => `${count} 条新消息`,
    },
    en: {
      launcher: "Chat with us",
      title: script.dataset.title || "After-sales service",
      close: "Close the chat",
      language: "中文",
      languageLabel: "切换到中文",
      placeholder: "Type your question…",
      input: "Your message",
      send: "Send",
      quickReplies: "Quick replies",
      typing: "Typing…",
      connecting: "Connecting…",
      reconnecting: "Connection lost, reconnecting…",
      offline: "You are offline; your messages will be sent when you are back.",
      pending: "not sent yet",
      kept: "kept, recorded when the system is back",
      notSent: "not sent",
      from: { customer: "You", bot: "Assistant", agent: "Agent", system: "Notice" },
      messageFailed:
        "Sorry, this message could not be sent. Please try again later, or put it another way.",
      failed: "Sorry, something went wrong. Please try again later.",
      tooLong: `That message is too long: ${MAX_TEXT} characters at most.`,
      welcome:
        "Hello! I'm the after-sales assistant: I can answer questions, take a complaint or " +
        "a repair request, or put you through to an agent.",
      unread: (count) => `${count} new ${count === 1 ? "message" : "messages"}`,
    },
  };

  // ---------------------------------------------------------------- state (localStorage)

  /*
   * transcript: {id (log id or null), clientId (the customer's own), from, text, buttons,
   *              status: "pending" | "kept" | "failed" | undefined, notice (a TEXTS key)}
   * outbox:     {id, text, payload?}: sent (or to send) but not acknowledged
   */
  function load() {
    try {
      return JSON.parse(localStorage.getItem(STORE)) || {};
    } catch {
      return {};
    }
  }

  function pickLanguage() {
    const wanted = script.dataset.lang || document.documentElement.lang || navigator.language;
    return String(wanted || "zh").toLowerCase().startsWith("en") ? "en" : "zh";
  }

  const saved = load();
  const state = {
    session: saved.session || null,
    lastId: saved.lastId || 0,
    transcript: saved.transcript || [],
    outbox: saved.outbox || [],
    lang: saved.lang || pickLanguage(),
    open: Boolean(saved.open),
  };

  function persist() {
    const { session, lastId, outbox, lang, open } = state;
    const transcript = state.transcript.slice(-MAX_KEPT);
    try {
      localStorage.setItem(
        STORE,
        JSON.stringify({ session, lastId, transcript, outbox, lang, open }),
      );
    } catch {
      /* storage full or disabled: the conversation still works, a reload forgets it */
    }
  }

  /** Another tab of the same site wrote: take its conversation, so neither undoes the other. */
  function adopt(other) {
    state.session = other.session || state.session;
    state.lastId = Math.max(state.lastId, other.lastId || 0);
    state.transcript = other.transcript || state.transcript;
    state.outbox = other.outbox || state.outbox;
    state.lang = other.lang || state.lang;
    renderLabels();
    renderTranscript();
  }

  /** A client message id: 32 letters and digits (the protocol allows 8–64 of [A-Za-z0-9_-]). */
  function newId() {
    if (crypto.randomUUID) return crypto.randomUUID().replace(/-/g, "");
    const bytes = crypto.getRandomValues(new Uint8Array(16)); // insecure contexts lack randomUUID
    return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  }

  function t() {
    return TEXTS[state.lang];
  }

  // ---------------------------------------------------------------- the view (Shadow DOM)

  // Colours: text on its background reaches WCAG AA (4.5:1) or better everywhere.
  const STYLE = `
    :host { all: initial; }
    * { box-sizing: border-box; font-family: system-ui, -apple-system, "PingFang SC",
        "Microsoft YaHei", sans-serif; }
    button, textarea { font: inherit; }
    /* focus: a white ring inside a dark one, visible on the blue header and on any page */
    :focus-visible { outline: 3px solid #1f1f1f; outline-offset: 2px;
      box-shadow: 0 0 0 2px #fff; }
    .launcher { position: fixed; right: 20px; bottom: 20px; z-index: 2147483000;
      border: 0; border-radius: 28px; padding: 14px 20px; background: #0b57d0;
      color: #fff; font-size: 16px; cursor: pointer; box-shadow: 0 4px 14px rgba(0,0,0,.25); }
    .badge { display: inline-block; min-width: 22px; margin-left: 8px; padding: 0 6px;
      border-radius: 11px; background: #fff; color: #0b57d0; font-weight: 700;
      text-align: center; }
    .badge[hidden] { display: none; }
    .panel { position: fixed; right: 20px; bottom: 84px; z-index: 2147483001;
      width: 370px; height: min(600px, calc(100vh - 110px)); display: flex;
      flex-direction: column; background: #fff; color: #1f1f1f; border-radius: 12px;
      box-shadow: 0 8px 30px rgba(0,0,0,.3); overflow: hidden; font-size: 15px; }
    .panel[hidden] { display: none; }
    header { display: flex; align-items: center; gap: 8px; padding: 12px 14px;
      background: #0b57d0; color: #fff; }
    header h2 { flex: 1; margin: 0; font-size: 17px; }
    header button { border: 1px solid #fff; background: transparent; color: #fff;
      border-radius: 6px; padding: 4px 10px; cursor: pointer; font-size: 14px; }
    .status { padding: 6px 14px; background: #fef7e0; color: #5f4200; font-size: 13px; }
    .status:empty { display: none; }
    .log { flex: 1; overflow-y: auto; padding: 12px; background: #f6f8fc; }
    .msg { max-width: 85%; width: fit-content; margin: 6px 0; padding: 8px 12px;
      border-radius: 12px; line-height: 1.45; overflow-wrap: anywhere; }
    .msg.customer { margin-left: auto; background: #0b57d0; color: #fff; }
    .msg.bot { background: #fff; border: 1px solid #c4c7c5; }
    .msg.agent { background: #e6f4ea; border: 1px solid #81c995; }
    .msg.system { background: #fef7e0; border: 1px solid #f9dc8c; }
    .who { display: block; font-size: 12px; font-weight: 600; margin-bottom: 2px;
      color: #444746; }
    .msg.agent .who { color: #0d652d; }
    .msg.system .who { color: #5f4200; }
    .note { display: block; font-size: 12px; margin-top: 2px; }
    .msg.failed { background: #fce8e6; color: #8c1d18; border: 1px solid #ee675c; }
    .replies { display: flex; flex-wrap: wrap; gap: 6px; padding: 0 12px 8px;
      background: #f6f8fc; }
    .replies:empty { display: none; }
    .replies button { border: 1px solid #0b57d0; background: #fff; color: #0b57d0;
      border-radius: 16px; padding: 6px 12px; cursor: pointer; font-size: 14px; }
    .replies button:hover { background: #e8f0fe; }
    .typing { min-height: 0; padding: 0 14px; font-size: 13px; color: #444746;
      background: #f6f8fc; }
    .typing:not(:empty) { padding: 2px 14px 6px; }
    form { display: flex; gap: 8px; padding: 10px;
      padding-bottom: max(10px, env(safe-area-inset-bottom)); border-top: 1px solid #c4c7c5; }
    textarea { flex: 1; resize: none; height: 44px; padding: 10px; border: 1px solid #747775;
      border-radius: 8px; font-size: 16px; color: #1f1f1f; background: #fff; }
    textarea::placeholder { color: #5e5e5e; }
    form button { border: 0; border-radius: 8px; padding: 0 16px; background: #0b57d0;
      color: #fff; font-size: 15px; cursor: pointer; }
    .sr { position: absolute; width: 1px; height: 1px; overflow: hidden; white-space: nowrap;
      clip: rect(0 0 0 0); clip-path: inset(50%); }
    @media (max-width: 480px) {  /* phones: the panel takes the whole screen */
      .panel { inset: 0; width: 100%; height: 100%; height: 100dvh; border-radius: 0; }
    }`;

  const MARKUP = `
    <button class="launcher" type="button" aria-expanded="false" aria-controls="panel">
      <span class="launcher-text"></span>
      <span class="badge" aria-hidden="true" hidden></span><span class="sr unread"></span>
    </button>
    <section class="panel" id="panel" role="dialog" aria-labelledby="title" hidden>
      <header>
        <h2 id="title"></h2>
        <button type="button" class="lang"></button>
        <button type="button" class="close"><span aria-hidden="true">✕</span></button>
      </header>
      <div class="status" role="status"></div>
      <div class="log" role="log" aria-live="polite" aria-relevant="additions"
        aria-busy="false" tabindex="0"></div>
      <div class="typing" role="status"></div>
      <div class="replies" role="group"></div>
      <form>
        <label class="sr" for="input"></label>
        <textarea id="input" rows="1" maxlength="${MAX_TEXT}" autocomplete="off"></textarea>
        <button type="submit" class="send"></button>
      </form>
    </section>`;

  // A custom element as the host: the page's styles for div, section… cannot reach it.
  const host = document.createElement("aftersales-chat");
  host.id = "aftersales-widget";
  const root = host.attachShadow({ mode: "open" });
  root.innerHTML = `<style>${STYLE}</style>${MARKUP}`; // our own constant markup only

  const $ = (selector) => root.querySelector(selector);
  const view = {
    launcher: $(".launcher"),
    launcherText: $(".launcher-text"),
    badge: $(".badge"),
    unread: $(".unread"),
    panel: $(".panel"),
    title: $("#title"),
    lang: $(".lang"),
    close: $(".close"),
    status: $(".status"),
    log: $(".log"),
    typing: $(".typing"),
    replies: $(".replies"),
    form: $("form"),
    label: $("label"),
    input: $("textarea"),
    send: $(".send"),
  };
  const nodes = new WeakMap(); // transcript entry → its node in the log
  let unread = 0;
  let statusKey = null; // what the status line says (a TEXTS key), kept across a switch

  function renderLabels() {
    const texts = t();
    host.lang = state.lang === "zh" ? "zh-CN" : "en";
    view.launcherText.textContent = texts.launcher;
    view.title.textContent = texts.title;
    view.lang.textContent = texts.language;
    view.lang.setAttribute("aria-label", texts.languageLabel);
    view.lang.lang = state.lang === "zh" ? "en" : "zh-CN"; // its label is in the other one
    view.close.setAttribute("aria-label", texts.close);
    view.replies.setAttribute("aria-label", texts.quickReplies);
    view.label.textContent = texts.input;
    view.input.placeholder = texts.placeholder;
    view.send.textContent = texts.send;
    if (view.typing.textContent) view.typing.textContent = texts.typing;
    view.status.textContent = statusKey ? texts[statusKey] : "";
    renderUnread();
  }

  /** Text as nodes: **bold** and line breaks; server text never goes in as HTML. */
  function richText(text) {
    const fragment = document.createDocumentFragment();
    String(text || "")
      .split("\n")
      .forEach((line, index) => {
        if (index) fragment.append(document.createElement("br"));
        line.split("**").forEach((part, i) => {
          if (!part) return;
          if (i % 2) {
            const strong = document.createElement("strong");
            strong.textContent = part;
            fragment.append(strong);
          } else {
            fragment.append(document.createTextNode(part));
          }
        });
      });
    return fragment;
  }

  /** The language of a text for screen readers: Chinese if it has Han characters. */
  function languageOf(text) {
    if (/[\u3400-\u9fff]/.test(text)) return "zh-CN";
    return /[A-Za-z]/.test(text) ? "en" : "";
  }

  function textOf(message) {
    return message.notice ? t()[message.notice] : message.text;
  }

  function messageNode(message) {
    const node = document.createElement("div");
    const who = document.createElement("span");
    who.className = "who";
    const body = document.createElement("span");
    body.className = "body";
    body.append(richText(textOf(message)));
    const note = document.createElement("span");
    note.className = "note";
    node.append(who, body, note);
    nodes.set(message, node);
    updateNode(message);
    return node;
  }

  /** Who wrote it (shown, and read out: the customer's own only to screen readers) and
   * its delivery note; changed in place, so the live log announces nothing again. */
  function updateNode(message) {
    const node = nodes.get(message);
    if (!node) return;
    const texts = t();
    const from = texts.from[message.from] ? message.from : "bot";
    node.className = `msg ${from}${message.status === "failed" ? " failed" : ""}`;
    const who = node.querySelector(".who");
    who.textContent = texts.from[from] + (state.lang === "zh" ? "：" : ": ");
    who.classList.toggle("sr", from === "customer");
    const note = { pending: texts.pending, kept: texts.kept, failed: texts.notSent };
    node.querySelector(".note").textContent = note[message.status] || "";
    const body = node.querySelector(".body");
    if (message.notice) body.textContent = textOf(message); // ours: in the current language
    const lang = languageOf(textOf(message) || "");
    if (lang) body.lang = lang;
  }

  function renderTranscript() {
    view.log.replaceChildren();
    if (!state.transcript.length) {
      view.log.append(messageNode({ from: "bot", text: t().welcome }));
    }
    state.transcript.forEach((message) => view.log.append(messageNode(message)));
    renderReplies();
    scrollDown();
  }

  /** The language switched: every label in place, nothing added to the log. */
  function relabelTranscript() {
    if (!state.transcript.length) renderTranscript(); // the local welcome, in the new language
    state.transcript.forEach(updateNode);
  }

  function scrollDown() {
    view.log.scrollTop = view.log.scrollHeight;
  }

  /** The buttons of the latest message, unless it is the customer's, as quick replies. */
  function renderReplies() {
    view.replies.replaceChildren();
    const last = state.transcript[state.transcript.length - 1];
    if (!last || last.from === "customer") return;
    (last.buttons || []).forEach((button) => {
      const node = document.createElement("button");
      node.type = "button";
      node.textContent = button.title;
      node.addEventListener("click", () => {
        sendMessage(button.title, button.payload);
        view.input.focus(); // the pressed button is gone
      });
      view.replies.append(node);
    });
  }

  function append(message) {
    if (!state.transcript.length) view.log.replaceChildren(); // the local welcome goes
    state.transcript.push(message);
    view.log.append(messageNode(message));
    renderReplies();
    scrollDown();
    if (!state.open && message.from !== "customer") {
      unread += 1;
      renderUnread();
    }
    persist();
  }

  function renderUnread() {
    view.badge.hidden = !unread;
    view.badge.textContent = unread ? String(unread) : "";
    view.unread.textContent = unread ? t().unread(unread) : "";
  }

  function setStatus(key) {
    statusKey = key;
    view.status.textContent = key ? t()[key] : "";
  }

  /** Open or close the panel; focus goes into it and back to the launcher, unless the
   * page is just loading (a panel left open is shown again without taking the focus). */
  function setOpen(open, moveFocus = true) {
    state.open = open;
    view.panel.hidden = !open;
    view.launcher.setAttribute("aria-expanded", String(open));
    if (open) {
      unread = 0;
      renderUnread();
      connectNow();
      scrollDown();
    }
    if (moveFocus) (open ? view.input : view.launcher).focus();
    persist();
  }

  // ------------------------------------------------------------ the log's busy state

  // While the answer to a message is on its way the log is aria-busy, so a screen reader
  // reads the whole answer at once: from sending until the ack's announced replies came.
  const turn = { unacked: new Set(), replies: 0 };

  function updateBusy() {
    const busy = turn.unacked.size > 0 || turn.replies > 0;
    view.log.setAttribute("aria-busy", String(busy));
  }

  function turnSent(id) {
    turn.unacked.add(id);
    updateBusy();
  }

  function turnAcknowledged(id, replies) {
    if (turn.unacked.delete(id)) turn.replies += replies;
    updateBusy();
  }

  function turnReplied() {
    turn.replies = Math.max(0, turn.replies - 1);
    updateBusy();
  }

  function turnsDropped() {
    turn.unacked.clear();
    turn.replies = 0;
    updateBusy();
  }

  // ---------------------------------------------------------------- the connection

  let socket = null;
  let ready = false; // the server answered our hello
  let retry = 0;
  let retryTimer = null;

  function connect() {
    if (socket || retryTimer) return;
    if (!retry) setStatus("connecting");
    socket = new WebSocket(SOCKET_URL);
    socket.addEventListener("open", hello);
    socket.addEventListener("message", (event) => receive(parsed(event.data)));
    socket.addEventListener("close", dropped);
  }

  /** Connect at once, cutting a pending back-off short (the customer is waiting). */
  function connectNow() {
    if (retryTimer) {
      clearTimeout(retryTimer);
      retryTimer = null;
    }
    connect();
  }

  function hello() {
    const { session, lang: language, lastId: after } = state;
    socket.send(JSON.stringify({ type: "hello", session, language, after }));
  }

  function dropped() {
    socket = null;
    ready = false;
    view.typing.textContent = "";
    turnsDropped();
    setStatus(navigator.onLine === false ? "offline" : "reconnecting");
    // exponential back-off with jitter, so many widgets do not come back at one instant
    const delay = Math.min(MAX_RETRY_MS, 1000 * 2 ** retry) * (0.75 + Math.random() / 2);
    retry += 1;
    retryTimer = setTimeout(() => {
      retryTimer = null;
      connect();
    }, delay);
  }

  function parsed(data) {
    try {
      return JSON.parse(data);
    } catch {
      return {};
    }
  }

  function receive(frame) {
    switch (frame.type) {
      case "welcome":
        welcomed(frame);
        break;
      case "ack":
        acknowledged(frame);
        break;
      case "message":
        turnReplied();
        if (frame.message) remember(frame.message);
        break;
      case "typing":
        view.typing.textContent = frame.on ? t().typing : "";
        break;
      case "error":
        refused(frame);
        break;
    }
  }

  function welcomed(frame) {
    state.session = frame.session;
    ready = true;
    retry = 0;
    setStatus(null);
    (frame.history || []).forEach(remember);
    persist();
    state.outbox.forEach(transmit); // sent before, never acknowledged: again, same id
  }

  function seen(id) {
    return id != null && state.transcript.some((m) => m.id === id);
  }

  /** A logged message from the server: new ones are shown, known ones skipped. */
  function remember(message) {
    if (message.id != null) state.lastId = Math.max(state.lastId, message.id);
    if (seen(message.id)) return;
    const entry = {
      id: message.id ?? null,
      from: message.from,
      text: message.text,
      buttons: message.buttons || [],
    };
    if (entry.from === "customer" && adoptLogged(entry)) return;
    append(entry);
  }

  /** Our own message in the history that we show without its log id: one whose ack the
   * dropped socket lost (its resend is acknowledged as a duplicate), or one the gateway
   * kept and logged later. The history does not say our client id: the same text it is. */
  function adoptLogged(entry) {
    const unlogged = (m) => m.from === "customer" && m.id == null && m.status !== "failed";
    const mine = state.transcript.find((m) => unlogged(m) && m.text === entry.text);
    if (!mine) return false;
    mine.id = entry.id;
    persist();
    return true;
  }

  function acknowledged(frame) {
    turnAcknowledged(frame.id, frame.replies || 0);
    state.outbox = state.outbox.filter((item) => item.id !== frame.id);
    const mine = state.transcript.find((m) => m.clientId === frame.id);
    if (mine) {
      mine.status = frame.kept ? "kept" : undefined;
      if (frame.message_id != null) {
        mine.id = frame.message_id;
        state.lastId = Math.max(state.lastId, frame.message_id);
      }
      updateNode(mine);
    }
    persist();
  }

  /** An error frame: said politely in the customer's language (the server's own words
   * are for developers); a refused message is marked as not sent. */
  function refused(frame) {
    const mine = frame.id && state.transcript.find((m) => m.clientId === frame.id);
    if (frame.id) {
      turnAcknowledged(frame.id, 0);
      state.outbox = state.outbox.filter((item) => item.id !== frame.id);
    }
    if (mine) {
      mine.status = "failed";
      updateNode(mine);
    }
    append({ id: null, from: "system", notice: mine ? "messageFailed" : "failed" });
  }

  function transmit(item) {
    if (!socket || !ready) return; // stays in the outbox: sent on the next welcome
    socket.send(JSON.stringify({ type: "message", ...item }));
    turnSent(item.id);
  }

  function sendMessage(text, payload) {
    const clean = String(text || "").trim();
    if (!clean) return;
    if (clean.length > MAX_TEXT) {
      append({ id: null, from: "system", notice: "tooLong" });
      return;
    }
    const item = payload ? { id: newId(), text: clean, payload } : { id: newId(), text: clean };
    state.outbox.push(item);
    append({ id: null, clientId: item.id, from: "customer", text: clean, status: "pending" });
    view.replies.replaceChildren(); // answered: the quick replies go
    transmit(item);
    if (!socket) connectNow();
  }

  function switchLanguage() {
    state.lang = state.lang === "zh" ? "en" : "zh";
    persist();
    renderLabels();
    relabelTranscript();
    // once the hello is out (it says the language itself while the socket is connecting)
    if (socket && socket.readyState === WebSocket.OPEN) {
      socket.send(JSON.stringify({ type: "language", language: state.lang }));
    }
  }

  // ---------------------------------------------------------------- events

  view.launcher.addEventListener("click", () => setOpen(!state.open));
  view.close.addEventListener("click", () => setOpen(false));
  view.panel.addEventListener("keydown", (event) => {
    if (event.key === "Escape") setOpen(false);
  });
  view.lang.addEventListener("click", switchLanguage);
  view.form.addEventListener("submit", (event) => {
    event.preventDefault();
    sendMessage(view.input.value);
    view.input.value = "";
    view.input.focus();
  });
  view.input.addEventListener("keydown", (event) => {
    // Enter sends, Shift+Enter is a new line; not while an IME is composing (pinyin)
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      view.form.requestSubmit();
    }
  });
  window.addEventListener("online", () => {
    retry = 0;
    if (!socket) connectNow();
  });
  window.addEventListener("storage", (event) => {
    if (event.key === STORE && event.newValue) adopt(parsed(event.newValue));
  });

  function start() {
    document.body.append(host);
    renderLabels();
    renderTranscript();
    if (state.open) setOpen(true, false);
    else if (state.session || state.outbox.length) connect(); // agent replies arrive live
  }

  if (document.body) start();
  else document.addEventListener("DOMContentLoaded", start);
})();
