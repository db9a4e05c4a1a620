// p2pdex trading page: talks only to the node that served it (REST under /v1 and the
// WebSocket /v1/ws). The API token is kept in this browser's localStorage, sent only in the
// Authorization header and in the WebSocket's `auth` message, never in a URL.
"use strict";

(() => {
  const TOKEN_KEY = "p2pdex.token";
  const MARKET_KEY = "p2pdex.market";
  const BOOK_LEVELS = 12;
  const SWAPS_SHOWN = 20;
  const TRADES_SHOWN = 50;

  // ---- exact decimals (BigInt mantissa and scale); the API's rules, nothing rounded ----

  const DECIMAL = /^-?[0-9]+(\.[0-9]+)?$/;
  const MAX_MANTISSA = 1n << 96n; // rust_decimal: 96-bit mantissa, scale at most 28
  const U64_MAX = (1n << 64n) - 1n;

  function parseDec(text) {
    const negative = text.startsWith("-");
    const digits = negative ? text.slice(1) : text;
    const [int, frac = ""] = digits.split(".");
    let m = BigInt(int + frac);
    return { m: negative ? -m : m, s: frac.length };
  }
  function pow10(n) { return 10n ** BigInt(n); }
  function decToString({ m, s }) {
    const negative = m < 0n;
    let digits = (negative ? -m : m).toString().padStart(s + 1, "0");
    let out = s > 0 ? digits.slice(0, -s) + "." + digits.slice(-s) : digits;
    return (negative ? "-" : "") + out;
  }
  function normalize({ m, s }) {
    while (s > 0 && m % 10n === 0n && m !== 0n) { m /= 10n; s -= 1; }
    if (m === 0n) s = 0;
    return { m, s };
  }
  function addDec(a, b) {
    const s = Math.max(a.s, b.s);
    return { m: a.m * pow10(s - a.s) + b.m * pow10(s - b.s), s };
  }
  function mulDec(a, b) { return { m: a.m * b.m, s: a.s + b.s }; }
  function cmpDec(a, b) {
    const s = Math.max(a.s, b.s);
    const x = a.m * pow10(s - a.s), y = b.m * pow10(s - b.s);
    return x < y ? -1 : x > y ? 1 : 0;
  }
  const fmt = (text) => decToString(normalize(parseDec(text)));

  // The node's checks of a price or quantity (dex_primitives::Market::parse_price), with
  // the same details: null when the API would accept the value.
  function checkStep(what, text, stepText) {
    const quoted = JSON.stringify(text.slice(0, 100));
    if (!DECIMAL.test(text)) {
      return `${what}: ${what} ${quoted} is not a decimal number (expected digits with an optional '.')`;
    }
    const value = parseDec(text);
    const abs = value.m < 0n ? -value.m : value.m;
    if (value.s > 28 || abs >= MAX_MANTISSA) {
      return `${what}: ${what} ${quoted} has too many digits to be represented exactly`;
    }
    if (value.m < 0n) return `${what}: ${what} ${text} is negative`;
    if (value.m === 0n) return `${what}: ${what} must be greater than zero`;
    const step = parseDec(stepText);
    const numerator = value.m * pow10(step.s);
    const denominator = step.m * pow10(value.s);
    if (numerator % denominator !== 0n) {
      return `${what}: ${what} ${decToString(normalize(value))} is not a multiple of the step ${stepText}`;
    }
    if (numerator / denominator > U64_MAX) {
      return `${what}: ${what} ${decToString(normalize(value))} is out of range`;
    }
    return null;
  }

  // ---- DOM helpers: text only, never HTML from data ----

  const $ = (id) => document.getElementById(id);
  function h(tag, attrs, ...children) {
    const el = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === undefined || value === null || value === false) continue;
      if (key === "class") el.className = value;
      else if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
      else if (key === "dataset") Object.assign(el.dataset, value);
      else el.setAttribute(key, value === true ? "" : value);
    }
    for (const child of children.flat()) {
      if (child === null || child === undefined || child === false) continue;
      el.append(child instanceof Node ? child : String(child));
    }
    return el;
  }
  function svg(tag, attrs) {
    const el = document.createElementNS("http://www.w3.org/2000/svg", tag);
    for (const [key, value] of Object.entries(attrs)) el.setAttribute(key, value);
    return el;
  }
  const short = (text, n = 6) => (text && text.length > 2 * n + 1 ? `${text.slice(0, n + 2)}…${text.slice(-n)}` : text);
  const time = (ms) => new Date(ms).toLocaleTimeString();
  function duration(secs) {
    const s = Math.max(0, Math.floor(secs));
    const hh = Math.floor(s / 3600), mm = Math.floor((s % 3600) / 60), ss = s % 60;
    const two = (n) => String(n).padStart(2, "0");
    return hh > 0 ? `${hh}:${two(mm)}:${two(ss)}` : `${mm}:${two(ss)}`;
  }

  // ---- state ----

  const state = {
    token: null,
    info: null,
    markets: [],
    market: null,
    book: { bids: new Map(), asks: new Map(), seq: null },
    trades: [],
    orders: new Map(),
    swaps: new Map(),
    details: new Map(),
    balances: [],
    authorized: false,
  };
  // Read by the browser test: how long a book message takes to reach the page's DOM.
  const stats = { bookRenderMs: [] };
  window.p2pdex = { stats };

  // ---- the API ----

  class Problem extends Error {
    constructor(status, problem) {
      super(problem.detail || problem.title || `HTTP ${status}`);
      this.status = status;
      this.problem = problem;
    }
  }

  async function api(method, path, body) {
    const headers = {};
    if (state.token) headers.Authorization = `Bearer ${state.token}`;
    if (body !== undefined) headers["Content-Type"] = "application/json";
    const response = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: "no-store",
      credentials: "omit",
      referrerPolicy: "no-referrer",
    });
    const text = await response.text();
    let json = null;
    try { json = text ? JSON.parse(text) : null; } catch { json = null; }
    if (!response.ok) {
      const problem = json && typeof json === "object" ? json : { title: text.slice(0, 200) };
      if (response.status === 401 && state.token) tokenRefused(problem);
      throw new Problem(response.status, problem);
    }
    return json;
  }
  const marketPath = (market) => encodeURIComponent(market.symbol);

  // ---- the token ----

  function takeTokenFromFragment() {
    const fragment = new URLSearchParams(location.hash.slice(1));
    const token = fragment.get("token");
    if (token) {
      localStorage.setItem(TOKEN_KEY, token);
      // Out of the address bar and the history at once.
      history.replaceState(null, "", location.pathname + location.search);
    }
  }

  function setSignedIn() {
    $("sign-out").hidden = !state.token;
    $("sign-in").hidden = !!state.token;
    for (const id of ["order-form", "cancel-all"]) {
      const el = $(id);
      el.toggleAttribute("inert", !state.token);
    }
    $("place").disabled = !state.token;
  }

  function askToken(message) {
    $("login-error").textContent = message || "";
    $("token").value = "";
    if (!$("login").open) $("login").showModal();
    $("token").focus();
  }

  function tokenRefused(problem) {
    state.token = null;
    localStorage.removeItem(TOKEN_KEY);
    setSignedIn();
    askToken(`The node refused the token: ${problem.detail || problem.title}`);
  }

  async function useToken(token) {
    state.token = token;
    try {
      await api("GET", "/v1/balances");
    } catch (err) {
      if (err instanceof Problem && err.status === 401) return false;
    }
    if (!state.token) return false;
    localStorage.setItem(TOKEN_KEY, token);
    setSignedIn();
    return true;
  }

  // ---- the WebSocket, with reconnect ----

  let socket = null;
  let retryMs = 500;
  const subscribed = new Set();

  function setLive(kind, text) {
    const el = $("live");
    el.dataset.state = kind;
    el.textContent = text;
  }

  function connect() {
    const url = `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/v1/ws`;
    const ws = new WebSocket(url);
    socket = ws;
    subscribed.clear();
    state.authorized = false;
    ws.onopen = () => {
      retryMs = 500;
      setLive("live", "live");
      if (state.token) send({ op: "auth", token: state.token });
      subscribeMarket();
    };
    ws.onmessage = (event) => {
      const received = performance.now();
      let message;
      try { message = JSON.parse(event.data); } catch { return; }
      onMessage(message, received);
    };
    ws.onclose = () => {
      if (socket !== ws) return;
      setLive("reconnecting", `reconnecting in ${(retryMs / 1000).toFixed(1)} s`);
      setTimeout(() => { if (socket === ws) connect(); }, retryMs);
      retryMs = Math.min(retryMs * 2, 5000);
    };
  }

  function send(message) {
    if (socket && socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify(message));
  }

  function subscribe(channel) {
    if (subscribed.has(channel)) return;
    subscribed.add(channel);
    send({ op: "subscribe", channel });
  }

  function unsubscribe(channel) {
    if (!subscribed.delete(channel)) return;
    send({ op: "unsubscribe", channel });
  }

  function subscribeMarket() {
    if (!state.market) return;
    for (const channel of [...subscribed]) {
      if ((channel.startsWith("book:") || channel.startsWith("trades:")) &&
          !channel.endsWith(`:${state.market.symbol}`)) {
        unsubscribe(channel);
      }
    }
    subscribe(`book:${state.market.symbol}`);
    if (state.authorized) subscribe(`trades:${state.market.symbol}`);
  }

  function onMessage(message, received) {
    switch (message.type) {
      case "authenticated":
        state.authorized = true;
        subscribe("orders");
        subscribe("swaps");
        subscribeMarket();
        break;
      case "snapshot":
        if (!isCurrentBook(message.channel)) break;
        state.book = { bids: levels(message.bids), asks: levels(message.asks), seq: message.seq };
        scheduleBook(received);
        break;
      case "delta":
        if (!isCurrentBook(message.channel)) break;
        if (state.book.seq === null || message.seq !== state.book.seq + 1) {
          // A gap: start the channel again from a snapshot.
          unsubscribe(message.channel);
          subscribe(message.channel);
          break;
        }
        state.book.seq = message.seq;
        applyLevels(state.book.bids, message.bids);
        applyLevels(state.book.asks, message.asks);
        scheduleBook(received);
        break;
      case "tradesSnapshot":
        state.trades = message.trades.slice(0, TRADES_SHOWN);
        renderTrades();
        break;
      case "trade":
        state.trades.unshift(message.trade);
        state.trades.length = Math.min(state.trades.length, TRADES_SHOWN);
        renderTrades();
        break;
      case "ordersSnapshot":
        state.orders = new Map(message.orders.map((order) => [order.orderId, order]));
        renderOrders();
        refreshBalancesSoon();
        break;
      case "order":
        if (message.order.status === "open") state.orders.set(message.order.orderId, message.order);
        else state.orders.delete(message.order.orderId);
        renderOrders();
        refreshBalancesSoon();
        break;
      case "swapsSnapshot":
        state.swaps = new Map(message.swaps.map((swap) => [swap.swapId, { swap, at: performance.now() }]));
        for (const swap of [...state.swaps.values()].slice(0, SWAPS_SHOWN)) loadDetail(swap.swap.swapId);
        renderSwaps();
        refreshBalancesSoon();
        break;
      case "swap":
        state.swaps.set(message.swap.swapId, { swap: message.swap, at: performance.now() });
        loadDetail(message.swap.swapId);
        renderSwaps();
        refreshBalancesSoon();
        break;
      case "error":
        if (message.problem && message.problem.type && message.problem.type.endsWith(":invalid-token")) {
          tokenRefused(message.problem);
        } else {
          showNotice(`Stream: ${message.problem ? message.problem.detail || message.problem.title : "error"}`);
        }
        break;
      default:
        break;
    }
  }

  const isCurrentBook = (channel) => state.market && channel === `book:${state.market.symbol}`;
  const levels = (list) => new Map(list.map((level) => [level.price, level]));
  function applyLevels(map, changes) {
    for (const level of changes) {
      if (parseDec(level.quantity).m === 0n) map.delete(level.price);
      else map.set(level.price, level);
    }
  }

  // ---- rendering ----

  let bookFrame = null;
  let bookReceived = [];
  function scheduleBook(received) {
    bookReceived.push(received);
    if (bookFrame !== null) return;
    bookFrame = requestAnimationFrame(() => {
      bookFrame = null;
      renderBook();
      const done = performance.now();
      for (const at of bookReceived) stats.bookRenderMs.push(done - at);
      if (stats.bookRenderMs.length > 1000) stats.bookRenderMs.splice(0, stats.bookRenderMs.length - 1000);
      bookReceived = [];
    });
  }

  function sortedLevels() {
    const byPrice = (a, b) => cmpDec(parseDec(a.price), parseDec(b.price));
    const bids = [...state.book.bids.values()].sort((a, b) => byPrice(b, a));
    const asks = [...state.book.asks.values()].sort(byPrice);
    return { bids, asks };
  }

  function levelRow(level, total, side) {
    const row = h("tr", {
      tabindex: 0,
      dataset: { price: level.price },
      title: `Use price ${level.price}`,
      onclick: () => usePrice(level.price, side),
      onkeydown: (event) => { if (event.key === "Enter") usePrice(level.price, side); },
    }, h("td", {}, fmt(level.price)), h("td", {}, fmt(level.quantity)), h("td", {}, decToString(normalize(total))), h("td", {}, level.orders));
    return row;
  }

  function renderBook() {
    const { bids, asks } = sortedLevels();
    const zero = { m: 0n, s: 0 };
    const askRows = [];
    let total = zero;
    for (const level of asks.slice(0, BOOK_LEVELS)) {
      total = addDec(total, parseDec(level.quantity));
      askRows.push(levelRow(level, total, "buy"));
    }
    $("asks").tBodies[0].replaceChildren(...askRows.reverse());
    const bidRows = [];
    total = zero;
    for (const level of bids.slice(0, BOOK_LEVELS)) {
      total = addDec(total, parseDec(level.quantity));
      bidRows.push(levelRow(level, total, "sell"));
    }
    $("bids").tBodies[0].replaceChildren(...bidRows);
    if (bids.length && asks.length) {
      const spread = addDec(parseDec(asks[0].price), mulDec(parseDec(bids[0].price), { m: -1n, s: 0 }));
      $("spread").textContent = `spread ${decToString(normalize(spread))} ${state.market.quote.symbol}`;
    } else {
      $("spread").textContent = bids.length || asks.length ? "one-sided book" : "empty book";
    }
    renderDepth(bids, asks);
  }

  function renderDepth(bids, asks) {
    const chart = $("depth");
    const width = 600, height = 180, pad = 14;
    const shownBids = bids.slice(0, 50), shownAsks = asks.slice(0, 50);
    const cumulative = (list) => {
      let sum = 0;
      return list.map((level) => ({ price: Number(level.price), total: (sum += Number(level.quantity)) }));
    };
    // Drawing only: floating point positions; every figure shown as text stays exact.
    const b = cumulative(shownBids), a = cumulative(shownAsks);
    const all = [...b, ...a];
    chart.replaceChildren();
    if (!all.length) {
      const empty = svg("text", { x: width / 2, y: height / 2, "text-anchor": "middle" });
      empty.textContent = "no orders";
      chart.append(empty);
      return;
    }
    let low = Math.min(...all.map((p) => p.price)), high = Math.max(...all.map((p) => p.price));
    if (low === high) { low -= 1; high += 1; }
    const top = Math.max(...all.map((p) => p.total));
    const x = (price) => pad + ((price - low) / (high - low)) * (width - 2 * pad);
    const y = (total) => height - pad - (total / top) * (height - 2 * pad);
    const area = (points, cls) => {
      if (!points.length) return;
      let d = `M${x(points[0].price)},${height - pad}`;
      let previous = 0;
      for (const point of points) {
        d += ` L${x(point.price)},${y(previous)} L${x(point.price)},${y(point.total)}`;
        previous = point.total;
      }
      const last = points[points.length - 1];
      const edge = cls === "bid" ? pad : width - pad;
      d += ` L${edge},${y(last.total)} L${edge},${height - pad} Z`;
      chart.append(svg("path", { d, class: cls, "stroke-width": 1.5 }));
    };
    area(b, "bid");
    area(a, "ask");
    const label = (text, px, anchor) => {
      const t = svg("text", { x: px, y: height - 2, "text-anchor": anchor });
      t.textContent = text;
      chart.append(t);
    };
    label(String(low), pad, "start");
    label(String(high), width - pad, "end");
  }

  function renderTrades() {
    const rows = state.trades.map((trade) => h("tr", {},
      h("td", {}, time(trade.at)),
      h("td", { class: trade.takerSide }, trade.takerSide),
      h("td", {}, fmt(trade.price)),
      h("td", {}, fmt(trade.quantity))));
    $("trades").tBodies[0].replaceChildren(...rows);
  }

  function renderOrders() {
    const orders = [...state.orders.values()]
      .filter((order) => !state.market || order.market === state.market.id)
      .sort((a, b) => a.createdAt - b.createdAt);
    const rows = orders.map((order) => h("tr", { dataset: { order: order.orderId }, title: `placed ${time(order.createdAt)}` },
      h("td", { class: order.side }, order.side),
      h("td", {}, fmt(order.price)),
      h("td", {}, fmt(order.quantity)),
      h("td", {}, fmt(order.remaining)),
      h("td", {}, h("button", {
        type: "button",
        "aria-label": `Cancel ${order.side} ${fmt(order.quantity)} at ${fmt(order.price)}`,
        onclick: (event) => cancelOrder(order.orderId, event.currentTarget),
      }, "Cancel"))));
    $("orders").tBodies[0].replaceChildren(...rows);
    $("orders-empty").hidden = rows.length > 0;
    $("cancel-all").disabled = rows.length === 0;
  }

  const STEP_NAMES = {
    takerLock: "Taker locks",
    makerLock: "Maker locks",
    takerClaim: "Taker claims (reveals the secret)",
    makerClaim: "Maker claims",
    takerRefund: "Taker refunds",
    makerRefund: "Maker refunds",
  };

  function renderSwaps() {
    const swaps = [...state.swaps.values()]
      .sort((a, b) => b.swap.createdAt - a.swap.createdAt)
      .slice(0, SWAPS_SHOWN);
    const items = swaps.map(({ swap, at }) => {
      const detail = state.details.get(swap.swapId);
      const steps = new Map((detail ? detail.steps : []).map((step) => [step.step, step]));
      const planned = ["takerLock", "makerLock", "takerClaim", "makerClaim"];
      for (const name of ["takerRefund", "makerRefund"]) if (steps.has(name)) planned.push(name);
      const timeline = planned.map((name) => {
        const step = steps.get(name);
        const stepState = step ? step.state : "pending";
        return h("li", { dataset: { step: name, state: stepState } },
          `${STEP_NAMES[name]}: ${stepState}`,
          step ? ` · chain ${step.chainId}` : "",
          step && step.txHash ? h("span", { class: "hash", title: step.txHash }, ` · tx ${short(step.txHash, 8)}`) : "",
          step && step.block ? h("span", { class: "hash" }, ` · block ${step.block}`) : "");
      });
      const finished = swap.phase === "finished";
      timeline.push(h("li", { dataset: { step: "finished", state: finished ? (swap.outcome === "completed" ? "done" : "failed") : "pending" } },
        finished ? `Finished: ${swap.outcome}${swap.outcomeReason ? ` (${swap.outcomeReason})` : ""}` : "Finished: not yet"));
      const countdown = swap.refund && swap.refund.secondsLeft !== undefined
        ? h("span", {
          class: "countdown",
          dataset: { left: swap.refund.secondsLeft, at },
          title: `Timelock ${swap.refund.timelock} on chain ${swap.refund.chainId}`,
        }, "")
        : null;
      return h("li", { class: "swap", dataset: { swap: swap.swapId, phase: swap.phase, outcome: swap.outcome || "" } },
        h("header", {},
          h("strong", { class: swap.side }, `${swap.side} ${fmt(swap.quantity)} ${swap.symbol.split("/")[0]} @ ${fmt(swap.price)}`),
          h("span", { class: "muted" }, `as ${swap.role}`),
          h("span", { class: "muted mono", title: swap.swapId }, short(swap.swapId)),
          countdown,
          h("span", { class: "phase" }, swap.phase)),
        h("ol", { class: "timeline", "aria-label": "Steps" }, timeline));
    });
    $("swaps").replaceChildren(...items);
    $("swaps-empty").hidden = items.length > 0;
    tickCountdowns();
  }

  function tickCountdowns() {
    const now = performance.now();
    for (const el of document.querySelectorAll(".countdown")) {
      const left = Number(el.dataset.left) - (now - Number(el.dataset.at)) / 1000;
      el.textContent = left > 0 ? `refundable in ${duration(left)}` : "past its timelock: refundable";
    }
  }

  const detailLoads = new Map();
  function loadDetail(swapId) {
    if (!state.token) return;
    // One request at a time per swap; a change during it asks again after.
    if (detailLoads.has(swapId)) { detailLoads.set(swapId, true); return; }
    detailLoads.set(swapId, false);
    api("GET", `/v1/swaps/${swapId}`)
      .then((detail) => {
        state.details.set(swapId, { steps: detail.steps });
        const known = state.swaps.get(swapId);
        if (!known || known.swap.phase !== "finished") {
          state.swaps.set(swapId, { swap: detail.swap, at: performance.now() });
        }
        renderSwaps();
      })
      .catch(() => {})
      .finally(() => {
        const again = detailLoads.get(swapId);
        detailLoads.delete(swapId);
        if (again) loadDetail(swapId);
      });
  }

  function renderBalances() {
    const rows = state.balances.map((balance) => h("tr", { dataset: { chain: balance.chainId, symbol: balance.symbol } },
      h("td", {}, balance.chainId),
      h("td", {}, balance.symbol),
      h("td", { dataset: { field: "free" } }, fmt(balance.free)),
      h("td", { dataset: { field: "reserved" } }, fmt(balance.reservedByOrders)),
      h("td", { dataset: { field: "locked" } }, fmt(balance.lockedInSwaps)),
      h("td", { dataset: { field: "onChain" } }, balance.readAt ? fmt(balance.onChain) : "not read yet")));
    $("balances").tBodies[0].replaceChildren(...rows);
    renderFree();
  }

  async function refreshBalances() {
    if (!state.token) return;
    try {
      state.balances = (await api("GET", "/v1/balances")).balances;
      renderBalances();
    } catch { /* shown by the next successful refresh */ }
  }
  let balancesTimer = null;
  function refreshBalancesSoon() {
    if (balancesTimer !== null) return;
    balancesTimer = setTimeout(() => { balancesTimer = null; refreshBalances(); }, 250);
  }

  async function refreshPeers() {
    try {
      const { peers } = await api("GET", "/v1/peers");
      const rows = peers.map((peer) => h("tr", { dataset: { peer: peer.peerId } },
        h("td", { class: "mono", title: peer.peerId }, short(peer.peerId, 8)),
        h("td", {}, peer.connection),
        h("td", { class: "mono" }, peer.addresses[0] || ""),
        h("td", {}, peer.score === undefined || peer.score === null ? "" : peer.score.toFixed(1))));
      $("peers").tBodies[0].replaceChildren(...rows);
    } catch { /* the live badge tells when the node is away */ }
  }

  // ---- the order form ----

  function side() { return document.querySelector('input[name="side"]:checked').value; }

  function usePrice(price, suggestedSide) {
    $("price").value = fmt(price);
    const radio = document.querySelector(`input[name="side"][value="${suggestedSide}"]`);
    if (radio) radio.checked = true;
    checkField("price");
    renderFree();
    $("quantity").focus();
  }

  function checkField(name) {
    if (!state.market) return null;
    const input = $(name);
    const step = name === "price" ? state.market.tickSize : state.market.lotSize;
    const problem = input.value === "" ? null : checkStep(name, input.value, step);
    input.setAttribute("aria-invalid", problem ? "true" : "false");
    const hint = $(`${name}-hint`);
    hint.textContent = problem || (name === "price"
      ? `a multiple of the tick ${state.market.tickSize}`
      : `a multiple of the lot ${state.market.lotSize}`);
    hint.classList.toggle("bad", !!problem);
    return problem;
  }

  function balanceOf(asset) {
    return state.balances.find((balance) => balance.chainId === asset.chainId &&
      balance.token.toLowerCase() === asset.token.toLowerCase());
  }

  function renderFree() {
    const market = state.market;
    if (!market) return;
    const paying = side() === "buy" ? market.quote : market.base;
    const balance = balanceOf(paying);
    $("free").textContent = balance
      ? `Free: ${fmt(balance.free)} ${paying.symbol} on chain ${paying.chainId}`
      : state.token ? "" : "Enter the token to trade.";
    const price = $("price").value, quantity = $("quantity").value;
    if (!checkStep("price", price, market.tickSize) && !checkStep("quantity", quantity, market.lotSize)) {
      const cost = side() === "buy" ? mulDec(parseDec(price), parseDec(quantity)) : parseDec(quantity);
      $("order-cost").textContent = `Locks ${decToString(normalize(cost))} ${paying.symbol} when taken`;
    } else {
      $("order-cost").textContent = "";
    }
  }

  async function placeOrder(event) {
    event.preventDefault();
    const result = $("order-result");
    const problems = ["price", "quantity"].map(checkField).filter(Boolean);
    if (problems.length) {
      result.className = "result bad";
      result.textContent = problems.join("; ");
      $(checkField("price") ? "price" : "quantity").focus();
      return;
    }
    const body = {
      market: state.market.symbol,
      side: side(),
      price: $("price").value,
      quantity: $("quantity").value,
      timeInForce: $("tif").value,
    };
    $("place").disabled = true;
    result.className = "result";
    result.textContent = "Placing…";
    try {
      const order = await api("POST", "/v1/orders", body);
      state.orders.set(order.orderId, order);
      if (order.status !== "open") state.orders.delete(order.orderId);
      renderOrders();
      result.className = "result good";
      result.textContent = `Placed ${order.side} ${fmt(order.quantity)} at ${fmt(order.price)}: ${order.status}, ${fmt(order.remaining)} remaining`;
      result.dataset.orderId = order.orderId;
      refreshBalancesSoon();
    } catch (err) {
      result.className = "result bad";
      if (err instanceof Problem) {
        result.textContent = `${err.problem.title || "Refused"}: ${err.problem.detail || ""}`;
        result.dataset.problem = err.problem.type || "";
        if (err.problem.field && $(err.problem.field)) $(err.problem.field).setAttribute("aria-invalid", "true");
      } else {
        result.textContent = `The node did not answer: ${err.message}`;
      }
    } finally {
      $("place").disabled = !state.token;
    }
  }

  async function cancelOrder(orderId, button) {
    button.disabled = true;
    try {
      await api("DELETE", `/v1/orders/${orderId}`);
      state.orders.delete(orderId);
      renderOrders();
      refreshBalancesSoon();
    } catch (err) {
      button.disabled = false;
      showNotice(`Cancel refused: ${err.message}`);
    }
  }

  async function cancelAll() {
    if (!state.market) return;
    try {
      const { cancelled } = await api("DELETE", `/v1/orders?market=${encodeURIComponent(state.market.id)}`);
      for (const id of cancelled) state.orders.delete(id);
      renderOrders();
      refreshBalancesSoon();
    } catch (err) {
      showNotice(`Cancel all refused: ${err.message}`);
    }
  }

  function showNotice(text) {
    const el = $("notice");
    el.textContent = text;
    el.hidden = false;
    clearTimeout(showNotice.timer);
    showNotice.timer = setTimeout(() => { el.hidden = true; }, 8000);
  }

  // ---- markets ----

  function selectMarket(symbol) {
    const market = state.markets.find((m) => m.symbol === symbol) || state.markets[0];
    if (!market) return;
    state.market = market;
    localStorage.setItem(MARKET_KEY, market.symbol);
    $("market").value = market.symbol;
    $("market-rules").textContent = `tick ${market.tickSize} ${market.quote.symbol} · lot ${market.lotSize} ${market.base.symbol}`;
    for (const el of document.querySelectorAll('[data-unit="price"]')) el.textContent = `(${market.quote.symbol} per ${market.base.symbol})`;
    for (const el of document.querySelectorAll('[data-unit="quantity"]')) el.textContent = `(${market.base.symbol})`;
    state.book = { bids: new Map(), asks: new Map(), seq: null };
    state.trades = [];
    renderBook();
    renderTrades();
    renderOrders();
    checkField("price");
    checkField("quantity");
    renderFree();
    subscribeMarket();
  }

  // ---- start ----

  async function start() {
    takeTokenFromFragment();
    state.token = localStorage.getItem(TOKEN_KEY);
    setSignedIn();

    $("login-form").addEventListener("submit", async (event) => {
      event.preventDefault();
      const token = $("token").value.trim();
      if (!token) return;
      if (await useToken(token)) {
        $("login").close();
        if (socket) socket.close();
        refreshBalances();
      } else {
        state.token = null;
        setSignedIn();
        $("login-error").textContent = "The node refused this token.";
      }
    });
    $("login-skip").addEventListener("click", () => $("login").close());
    $("sign-in").addEventListener("click", () => askToken(""));
    $("sign-out").addEventListener("click", () => {
      state.token = null;
      localStorage.removeItem(TOKEN_KEY);
      state.orders.clear();
      state.swaps.clear();
      state.details.clear();
      state.balances = [];
      renderOrders();
      renderSwaps();
      renderBalances();
      setSignedIn();
      if (socket) socket.close();
    });
    $("market").addEventListener("change", (event) => selectMarket(event.target.value));
    $("order-form").addEventListener("submit", placeOrder);
    $("cancel-all").addEventListener("click", cancelAll);
    for (const name of ["price", "quantity"]) {
      $(name).addEventListener("input", () => { checkField(name); renderFree(); });
    }
    for (const radio of document.querySelectorAll('input[name="side"]')) radio.addEventListener("change", renderFree);

    try {
      const [info, markets] = await Promise.all([api("GET", "/v1/info"), api("GET", "/v1/markets")]);
      state.info = info;
      state.markets = markets.markets;
      $("node-id").textContent = `node ${short(info.peerId, 6)}${info.traders.length ? ` · trader ${short(info.traders[0], 4)}` : ""} · v${info.version}`;
      $("node-id").title = info.peerId;
    } catch (err) {
      showNotice(`The node did not answer: ${err.message}`);
      return;
    }
    $("market").replaceChildren(...state.markets.map((m) => h("option", { value: m.symbol }, m.symbol)));
    selectMarket(localStorage.getItem(MARKET_KEY));
    if (!state.token) askToken("");
    connect();
    refreshBalances();
    refreshPeers();
    setInterval(refreshPeers, 5000);
    setInterval(refreshBalances, 5000);
    setInterval(tickCountdowns, 1000);
  }

  document.addEventListener("DOMContentLoaded", start);
})();
