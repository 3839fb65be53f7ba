/*
 * The after-sales chat widget. One tag embeds it on any page:
 *
 *   <script src="https://service.example.com/widget.js" async data-lang="zh"></script>
 *
 * It talks to the gateway's WebSocket (/channels/web/ws on the host the script came
 * from; the protocol is described in bot/channels/web.py). Options, as data- attributes
 * of the script tag: data-lang ("zh" or "en"; default: the page's <html lang>, then the
 * browser's language), data-title (the panel's title).
 *
 * Nothing is lost across reloads and dropped connections: the session token, the last
 * message id and the transcript are kept in localStorage; a message not yet
 * acknowledged stays in an outbox and is sent again, with the same id, on reconnect
 * (the server logs it once).
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
      typing: "客服助手正在输入…",
      connecting: "正在连接…",
      reconnecting: "连接已断开，正在重新连接…",
      offline: "网络已断开，恢复后会自动发送您的消息。",
      pending: "待发送",
      kept: "已保存，系统恢复后登记",
      from: { customer: "您", bot: "客服助手", agent: "人工客服", system: "系统消息" },
      error: "抱歉，这条消息没有发出：",
      tooLong: `消息太长了，请不要超过 ${MAX_TEXT} 个字。`,
      welcome: "您好！我是售后服务助手，可以为您解答问题、登记投诉和报修，或转接人工客服。",
      unread: "条新消息",
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
      typing: "The assistant is typing…",
      connecting: "Connecting…",
      reconnecting: "Connection lost, reconnecting…",
      offline: "You are offline; your messages will be sent when you are back.",
      pending: "not sent yet",
      kept: "kept, recorded when the system is back",
      from: { customer: "You", bot: "Assistant", agent: "Agent", system: "Notice" },
      error: "Sorry, this message was not sent: ",
      tooLong: `That message is too long: ${MAX_TEXT} characters at most.`,
      welcome:
        "Hello! I'm the after-sales assistant: I can answer questions, take a complaint or " +
        "a repair request, or put you through to an agent.",
      unread: "new messages",
    },
  };

  // ---------------------------------------------------------------- state (localStorage)

  function load() {
    try {
      return JSON.parse(localStorage.getItem(STORE)) || {};
    } catch {
      return {};
    }
  }

  const saved = load();
  const state = {
    session: saved.session || null,
    lastId: saved.lastId || 0,
    transcript: saved.transcript || [], // {id, clientId, from, text, buttons, pending, kept}
    outbox: saved.outbox || [], // {id, text, payload}
    lang: saved.lang || pickLanguage(),
    open: Boolean(saved.open),
  };

  function pickLanguage() {
    const wanted = script.dataset.lang || document.documentElement.lang || navigator.language;
    return String(wanted || "zh").toLowerCase().startsWith("en") ? "en" : "zh";
  }

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

  function newId() {
    if (crypto.randomUUID) return crypto.randomUUID().replace(/-/g, "");
    const bytes = crypto.getRandomValues(new Uint8Array(16));
    return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  }

  // ---------------------------------------------------------------- the view (Shadow DOM)

  const host = document.createElement("div");
  host.id = "aftersales-widget";
  const root = host.attachShadow({ mode: "open" });
  root.innerHTML = `
    <style>
      :host { all: initial; }
      * { box-sizing: border-box; font-family: system-ui, -apple-system, "PingFang SC",
          "Microsoft YaHei", sans-serif; }
      .launcher { position: fixed; right: 20px; bottom: 20px; z-index: 2147483000;
        border: 0; border-radius: 28px; padding: 14px 20px; background: #0b57d0;
        color: #fff; font-size: 16px; cursor: pointer; box-shadow: 0 4px 14px rgba(0,0,0,.25); }
      .launcher:focus-visible, button:focus-visible, textarea:focus-visible {
        outline: 3px solid #f9ab00; outline-offset: 2px; }
      .badge { display: inline-block; min-width: 20px; margin-left: 8px; padding: 0 6px;
        border-radius: 10px; background: #fff; color: #0b57d0; font-weight: 700; }
      .panel { position: fixed; right: 20px; bottom: 84px; z-index: 2147483000;
        width: 370px; height: min(600px, calc(100vh - 110px)); display: flex;
        flex-direction: column; background: #fff; color: #1f1f1f; border-radius: 12px;
        box-shadow: 0 8px 30px rgba(0,0,0,.3); overflow: hidden; font-size: 15px; }
      .panel[hidden] { display: none; }
      header { display: flex; align-items: center; gap: 8px; padding: 12px 14px;
        background: #0b57d0; color: #fff; }
      header h2 { flex: 1; margin: 0; font-size: 17px; }
      header button { border: 1px solid rgba(255,255,255,.7); background: transparent;
        color: #fff; border-radius: 6px; padding: 4px 8px; cursor: pointer; font-size: 14px; }
      .status { padding: 6px 14px; background: #fef7e0; color: #5f4200; font-size: 13px; }
      .status:empty { display: none; }
      .log { flex: 1; overflow-y: auto; padding: 12px; background: #f6f8fc; }
      .msg { max-width: 85%; margin: 6px 0; padding: 8px 12px; border-radius: 12px;
        line-height: 1.45; white-space: normal; word-wrap: break-word; }
      .msg.customer { margin-left: auto; background: #0b57d0; color: #fff; }
      .msg.bot { background: #fff; border: 1px solid #dadce0; }
      .msg.agent { background: #e6f4ea; border: 1px solid #a8dab5; }
      .msg.system { background: #fef7e0; border: 1px solid #f9dc8c; }
      .who { display: block; font-size: 12px; opacity: .8; margin-bottom: 2px; }
      .msg.customer .who { position: absolute; width: 1px; height: 1px; overflow: hidden;
        clip: rect(0 0 0 0); }
      .note { display: block; font-size: 12px; opacity: .85; margin-top: 2px; }
      .replies { display: flex; flex-wrap: wrap; gap: 6px; padding: 0 12px 8px;
        background: #f6f8fc; }
      .replies button { border: 1px solid #0b57d0; background: #fff; color: #0b57d0;
        border-radius: 16px; padding: 6px 12px; cursor: pointer; font-size: 14px; }
      .typing { padding: 4px 14px; font-size: 13px; color: #444; background: #f6f8fc; }
      .typing[hidden] { display: none; }
      form { display: flex; gap: 8px; padding: 10px; border-top: 1px solid #dadce0; }
      textarea { flex: 1; resize: none; height: 44px; padding: 10px; border: 1px solid #747775;
        border-radius: 8px; font-size: 15px; }
      form button { border: 0; border-radius: 8px; padding: 0 16px; background: #0b57d0;
        color: #fff; font-size: 15px; cursor: pointer; }
      .sr { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); }
      @media (max-width: 480px) {
        .panel { right: 0; bottom: 0; width: 100vw; height: 100vh; border-radius: 0; }
      }
    </style>
    <button class="launcher" type="button" aria-expanded="false" aria-controls="panel">
      <span class="launcher-text"></span><span class="badge" hidden></span>
    </button>
    <section class="panel" id="panel" role="dialog" aria-modal="false" hidden>
      <header>
        <h2 id="title"></h2>
        <button type="button" class="lang"></button>
        <button type="button" class="close">✕</button>
      </header>
      <div class="status" role="status" aria-live="polite"></div>
      <div class="log" role="log" aria-live="polite" aria-relevant="additions" tabindex="0"></div>
      <div class="typing" aria-live="polite" hidden></div>
      <div class="replies"></div>
      <form>
        <label class="sr" for="input"></label>
        <textarea id="input" rows="1" maxlength="${MAX_TEXT}"></textarea>
        <button type="submit" class="send"></button>
      </form>
    </section>`;

  const $ = (selector) => root.querySelector(selector);
  const view = {
    launcher: $(".launcher"),
    launcherText: $(".launcher-text"),
    badge: $(".badge"),
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
  let unread = 0;

  function t() {
    return TEXTS[state.lang];
  }

  function renderLabels() {
    const texts = t();
    view.launcherText.textContent = texts.launcher;
    view.title.textContent = texts.title;
    view.panel.setAttribute("aria-labelledby", "title");
    view.lang.textContent = texts.language;
    view.lang.setAttribute("aria-label", texts.languageLabel);
    view.lang.lang = state.lang === "zh" ? "en" : "zh";
    view.close.setAttribute("aria-label", texts.close);
    view.label.textContent = texts.input;
    view.input.placeholder = texts.placeholder;
    view.send.textContent = texts.send;
    view.typing.textContent = texts.typing;
    host.lang = state.lang === "zh" ? "zh-CN" : "en";
    renderTranscript();
  }

  /** Text as nodes: **bold** and line breaks, never server text as HTML. */
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

  function messageNode(message) {
    const texts = t();
    const node = document.createElement("div");
    node.className = "msg " + (texts.from[message.from] ? message.from : "bot");
    const who = document.createElement("span");
    who.className = "who";
    who.textContent = (texts.from[message.from] || texts.from.bot) + "：";
    node.append(who, richText(message.text));
    const note = message.pending ? texts.pending : message.kept ? texts.kept : "";
    if (note) {
      const small = document.createElement("span");
      small.className = "note";
      small.textContent = note;
      node.append(small);
    }
    return node;
  }

  function renderTranscript() {
    view.log.replaceChildren();
    if (!state.transcript.length) {
      view.log.append(messageNode({ from: "bot", text: t().welcome }));
    }
    state.transcript.forEach((message) => view.log.append(messageNode(message)));
    renderReplies();
    view.log.scrollTop = view.log.scrollHeight;
  }

  /** The buttons of the latest message, if it is the bot's, as quick replies. */
  function renderReplies() {
    view.replies.replaceChildren();
    const last = state.transcript[state.transcript.length - 1];
    if (!last || last.from === "customer" || !last.buttons) return;
    last.buttons.forEach((button) => {
      const node = document.createElement("button");
      node.type = "button";
      node.textContent = button.title;
      node.addEventListener("click", () => sendMessage(button.title, button.payload));
      view.replies.append(node);
    });
  }

  function append(message) {
    state.transcript.push(message);
    if (state.transcript.length === 1) view.log.replaceChildren(); // the local welcome goes
    view.log.append(messageNode(message));
    renderReplies();
    view.log.scrollTop = view.log.scrollHeight;
    if (!state.open && message.from !== "customer") {
      unread += 1;
      view.badge.hidden = false;
      view.badge.textContent = String(unread);
      view.badge.setAttribute("aria-label", `${unread} ${t().unread}`);
    }
    persist();
  }

  function setStatus(text) {
    view.status.textContent = text || "";
  }

  function setOpen(open) {
    state.open = open;
    view.panel.hidden = !open;
    view.launcher.setAttribute("aria-expanded", String(open));
    if (open) {
      unread = 0;
      view.badge.hidden = true;
      connect();
      view.input.focus();
      view.log.scrollTop = view.log.scrollHeight;
    } else {
      view.launcher.focus();
    }
    persist();
  }

  // ---------------------------------------------------------------- the connection

  let socket = null;
  let ready = false; // the server answered our hello
  let retry = 0;
  let retryTimer = null;

  function connect() {
    if (socket || retryTimer) return;
    setStatus(retry ? t().reconnecting : t().connecting);
    socket = new WebSocket(SOCKET_URL);
    socket.addEventListener("open", () => {
      const hello = {
        type: "hello",
        session: state.session,
        language: state.lang,
        after: state.lastId,
      };
      socket.send(JSON.stringify(hello));
    });
    socket.addEventListener("message", (event) => receive(JSON.parse(event.data)));
    socket.addEventListener("close", () => {
      socket = null;
      ready = false;
      view.typing.hidden = true;
      scheduleReconnect();
    });
  }

  function scheduleReconnect() {
    setStatus(navigator.onLine === false ? t().offline : t().reconnecting);
    const delay = Math.min(30000, 1000 * 2 ** retry);
    retry += 1;
    retryTimer = setTimeout(() => {
      retryTimer = null;
      connect();
    }, delay);
  }

  window.addEventListener("online", () => {
    if (retryTimer) {
      clearTimeout(retryTimer);
      retryTimer = null;
    }
    retry = 0;
    connect();
  });

  function seen(id) {
    return id != null && state.transcript.some((m) => m.id === id);
  }

  function remember(message) {
    if (message.id != null) state.lastId = Math.max(state.lastId, message.id);
    if (!seen(message.id)) append(message);
  }

  function receive(frame) {
    switch (frame.type) {
      case "welcome":
        state.session = frame.session;
        ready = true;
        retry = 0;
        setStatus("");
        frame.history.forEach((message) => {
          // the customer's own messages we show already (kept with their log id)
          if (message.from === "customer" && seen(message.id)) return;
          remember(message);
        });
        persist();
        state.outbox.forEach(transmit); // sent before, never acknowledged
        break;
      case "ack":
        acknowledge(frame);
        break;
      case "message":
        remember(frame.message);
        break;
      case "typing":
        view.typing.hidden = !frame.on;
        break;
      case "error":
        failed(frame);
        break;
    }
  }

  function acknowledge(frame) {
    state.outbox = state.outbox.filter((item) => item.id !== frame.id);
    const mine = state.transcript.find((m) => m.clientId === frame.id);
    if (mine) {
      mine.pending = false;
      mine.kept = Boolean(frame.kept);
      if (frame.message_id != null) {
        mine.id = frame.message_id;
        state.lastId = Math.max(state.lastId, frame.message_id);
      }
    }
    persist();
    renderTranscript();
  }

  function failed(frame) {
    if (frame.id) {
      state.outbox = state.outbox.filter((item) => item.id !== frame.id);
      state.transcript = state.transcript.filter((m) => m.clientId !== frame.id);
    }
    append({ id: null, from: "system", text: t().error + frame.error });
    renderTranscript();
  }

  function transmit(item) {
    if (socket && ready) socket.send(JSON.stringify({ type: "message", ...item }));
  }

  function sendMessage(text, payload) {
    const clean = String(text || "").trim();
    if (!clean) return;
    if (clean.length > MAX_TEXT) {
      append({ id: null, from: "system", text: t().tooLong });
      return;
    }
    const item = { id: newId(), text: clean, payload: payload || null };
    state.outbox.push(item);
    append({ id: null, clientId: item.id, from: "customer", text: clean, pending: true });
    view.replies.replaceChildren();
    transmit(item);
    if (!socket) connect();
  }

  // ---------------------------------------------------------------- events

  view.launcher.addEventListener("click", () => setOpen(!state.open));
  view.close.addEventListener("click", () => setOpen(false));
  view.panel.addEventListener("keydown", (event) => {
    if (event.key === "Escape") setOpen(false);
  });
  view.lang.addEventListener("click", () => {
    state.lang = state.lang === "zh" ? "en" : "zh";
    persist();
    renderLabels();
    if (socket && ready) socket.send(JSON.stringify({ type: "language", language: state.lang }));
  });
  view.form.addEventListener("submit", (event) => {
    event.preventDefault();
    sendMessage(view.input.value);
    view.input.value = "";
    view.input.focus();
  });
  view.input.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      view.form.requestSubmit();
    }
  });

  function start() {
    document.body.append(host);
    renderLabels();
    if (state.open) setOpen(true);
    else if (state.session || state.outbox.length) connect(); // agent replies arrive live
  }

  if (document.body) start();
  else document.addEventListener("DOMContentLoaded", start);
})();
