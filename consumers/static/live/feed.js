/* LiveFeed: one live socket of the site (API.md, "Live updates"), kept open for a page.
 *
 *   <script src="{% static 'live/feed.js' %}"></script> before the page's own script, then
 *
 *   const feed = LiveFeed.open({
 *     path: "/ws/tournaments/12/",   // or "/ws/matches/34/"
 *     resume: true,                  // see below
 *     version: 41,                   // optional, with resume: the version the page already
 *                                    // shows (a server-rendered snapshot); the first
 *                                    // connection then resumes with ?since=41
 *     onSnapshot(frame) {}, onEvent(frame) {},
 *     onReply(frame) {},             // match socket: {"type": "reply", request_id, ok, ...}
 *     onError(frame) {},             // optional: {"type": "error", code, detail}
 *     onStatus(state, text) {},      // "connecting" | "live" | "reconnecting" | "gone" (4404)
 *                                    // | "forbidden" (4403) | "unauthenticated" (4401)
 *   });
 *   feed.send(obj) (true if sent); feed.reconnectNow(); feed.close(); feed.version
 *
 * resume: true (the tournament socket): every (re)connection after the first snapshot
 * asks for ?since=<last version applied>, and the server replays what was missed (or sends
 * a fresh snapshot when it no longer keeps that far back). Versions must then follow one
 * another: an event that skips one (a gap) or comes before any snapshot drops the
 * connection and resumes from the last version applied.
 * resume: false (the match socket): each (re)connection starts from the snapshot the
 * server sends; its versions are the tournament's, filtered, so not consecutive, and only
 * duplicates (a version not above the last applied) are dropped.
 *
 * `feed.version` is the last version applied: it moves to a frame's version once the
 * frame's callback has returned. A callback that throws leaves it where it was, so when
 * resuming the next event is a gap and the frame is fetched again.
 *
 * States: "connecting" until the first connection is in sync; "live" once it is (its
 * snapshot arrived, or it resumed from a known version); "reconnecting" while a dropped
 * connection waits out its backoff (the text counts the seconds down) or reconnects;
 * "gone", "forbidden", "unauthenticated" when the server refused for good: the feed stops
 * retrying (reconnectNow() tries again, for a person who fixed the cause).
 *
 * Plain JavaScript, no build step, no third-party code: the pages must work offline.
 */
(function (global) {
  "use strict";

  const RETRY_FIRST_MS = 500;
  const RETRY_MAX_MS = 10000;
  const STABLE_AFTER_MS = 5000; // a connection open this long resets the backoff
  const RESYNC_LIMIT = 3; // immediate resyncs allowed per RESYNC_WINDOW_MS, then back off
  const RESYNC_WINDOW_MS = 10000;

  // Close codes of the server (consumers/live.py). The first three are final: retrying
  // would get the same answer. A client that fell behind resumes at once; any other close
  // (a restart, 1011, 4429, a dropped network) backs off and retries.
  const CLOSE_UNAUTHENTICATED = 4401;
  const CLOSE_FORBIDDEN = 4403;
  const CLOSE_NOT_FOUND = 4404;
  const CLOSE_FELL_BEHIND = 4408;

  const noop = () => {};

  function open(options) {
    const path = options.path;
    if (typeof path !== "string" || !path.startsWith("/ws/")) {
      throw new Error(`LiveFeed.open: path must start with /ws/, got ${path}`);
    }
    const resume = Boolean(options.resume);
    const on = {
      snapshot: options.onSnapshot || noop,
      event: options.onEvent || noop,
      reply: options.onReply || noop,
      error: options.onError || ((frame) => console.warn("live feed error:", frame.code, frame.detail)),
      status: options.onStatus || noop,
    };
    const what = path.startsWith("/ws/matches/") ? "Match" : "Tournament";
    const FINAL = {
      [CLOSE_NOT_FOUND]: ["gone", `${what} not found`],
      [CLOSE_FORBIDDEN]: ["forbidden", "Not allowed to follow this"],
      [CLOSE_UNAUTHENTICATED]: ["unauthenticated", "Sign in to follow this"],
    };

    const feed = {
      version: resume && Number.isInteger(options.version) ? options.version : null,
      send,
      reconnectNow,
      close,
    };
    const live = {
      socket: null,
      inSync: false, // the current socket is open and has caught up
      attempts: 0,
      retryTimer: null,
      countdownTimer: null,
      stableTimer: null,
      resyncs: [],
      connected: false, // some connection has opened before: a new one is a reconnection
      closed: false, // close() was called: never again
    };

    function status(state, text) {
      try {
        on.status(state, text);
      } catch (error) {
        console.error("live feed: onStatus failed", error);
      }
    }

    function socketUrl() {
      const scheme = location.protocol === "https:" ? "wss:" : "ws:";
      const since = resume && feed.version !== null ? "?since=" + feed.version : "";
      return `${scheme}//${location.host}${path}${since}`;
    }

    function connect() {
      clearTimeout(live.retryTimer);
      clearInterval(live.countdownTimer);
      if (live.closed) return;
      const socket = new WebSocket(socketUrl());
      live.socket = socket;
      live.inSync = false;
      if (!live.connected && live.attempts === 0) status("connecting", "Connecting…");
      else status("reconnecting", "Reconnecting…");

      // Handlers ignore a socket that has been replaced (see resync) or closed.
      socket.addEventListener("open", () => {
        if (socket !== live.socket) return;
        live.connected = true;
        live.stableTimer = setTimeout(() => (live.attempts = 0), STABLE_AFTER_MS);
        // Resuming from a known version: nothing more is owed before the next event.
        if (resume && feed.version !== null) synced();
      });
      socket.addEventListener("message", (message) => {
        if (socket !== live.socket) return;
        let frame;
        try {
          frame = JSON.parse(message.data);
        } catch (error) {
          console.warn("live feed: not JSON", error);
          return;
        }
        onFrame(frame);
      });
      socket.addEventListener("close", (event) => {
        if (socket !== live.socket) return;
        live.socket = null;
        live.inSync = false;
        clearTimeout(live.stableTimer);
        const final = FINAL[event.code];
        if (final) status(...final);
        else if (event.code === CLOSE_FELL_BEHIND) resync();
        else scheduleReconnect();
      });
    }

    function synced() {
      if (live.inSync) return;
      live.inSync = true;
      status("live", "Live");
    }

    function scheduleReconnect() {
      // Exponential backoff with jitter, so that a restarted server is not hit by every
      // client at the same instant.
      const base = Math.min(RETRY_MAX_MS, RETRY_FIRST_MS * 2 ** live.attempts);
      const delay = base * (0.75 + Math.random() * 0.5);
      live.attempts += 1;
      const due = Date.now() + delay;
      const tick = () => {
        const seconds = Math.max(1, Math.ceil((due - Date.now()) / 1000));
        status("reconnecting", `Reconnecting in ${seconds} s`);
      };
      tick();
      clearInterval(live.countdownTimer);
      live.countdownTimer = setInterval(tick, 1000);
      live.retryTimer = setTimeout(connect, delay);
    }

    /* Drop the current connection and start again: after the last version applied when
     * resuming, else from a new snapshot. */
    function resync() {
      const now = Date.now();
      live.resyncs = live.resyncs.filter((t) => now - t < RESYNC_WINDOW_MS);
      live.resyncs.push(now);
      const old = live.socket;
      live.socket = null;
      live.inSync = false;
      clearTimeout(live.stableTimer);
      if (old) old.close();
      // A server that keeps sending gaps must not be hammered: fall back to the backoff.
      if (live.resyncs.length > RESYNC_LIMIT) scheduleReconnect();
      else connect();
    }

    function onFrame(frame) {
      switch (frame.type) {
        case "snapshot":
          on.snapshot(frame);
          feed.version = frame.version;
          synced();
          break;
        case "event":
          if (feed.version === null) {
            if (resume) resync(); // an event before any snapshot: start over
            return;
          }
          if (frame.version <= feed.version) return; // already applied
          if (resume && frame.version !== feed.version + 1) {
            resync(); // missed one: replay from ours
            return;
          }
          on.event(frame);
          feed.version = frame.version;
          break;
        case "reply":
          on.reply(frame);
          break;
        case "error":
          on.error(frame);
          break;
        default:
          console.warn("live feed: unknown frame", frame.type);
      }
    }

    /* Sends one client frame; false when there is no open connection to send it on (the
     * caller says so to the person: nothing is queued for later). */
    function send(payload) {
      const socket = live.socket;
      if (live.closed || !socket || socket.readyState !== WebSocket.OPEN) return false;
      socket.send(JSON.stringify(payload));
      return true;
    }

    /* Reconnect at once, skipping the backoff (a click on the indicator, the network back). */
    function reconnectNow() {
      if (live.closed || live.socket) return;
      live.attempts = 0;
      connect();
    }

    function close() {
      live.closed = true;
      clearTimeout(live.retryTimer);
      clearInterval(live.countdownTimer);
      clearTimeout(live.stableTimer);
      window.removeEventListener("online", reconnectNow);
      const socket = live.socket;
      live.socket = null;
      live.inSync = false;
      if (socket) socket.close();
    }

    window.addEventListener("online", reconnectNow);
    connect();
    return feed;
  }

  global.LiveFeed = Object.freeze({ open });
})(window);
