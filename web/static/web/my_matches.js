/* My matches (/me/matches), live: a match on the list changes its status and "what now"
 * as it is reported, confirmed or disputed; a match that becomes the player's (a winner
 * moved on, the next swiss round was paired, the tournament started) or goes away brings
 * a fresh copy of the list from the server, which names the opponents.
 *
 * Why the tournaments' sockets (/ws/tournaments/{id}/), one per tournament the player is
 * in, rather than one match socket per listed match:
 * - the count follows the tournaments, a few, not the matches: a round robin lists every
 *   match of the player at once (15 in a field of 16), each a socket of its own otherwise;
 * - only the tournament's socket tells of a match that is not on the list yet (the next
 *   round's, the first one at the start); a match socket knows its one match;
 * - it is the cheap socket: plain ASGI, no session or authorization read per connection,
 *   fanned out by one hub per server process (docs/live-updates.md); and it resumes from
 *   the version the page was rendered at (?since=), so it costs no snapshot to open.
 * The price is every event of those tournaments, most of them about other matches, each a
 * few hundred bytes, filtered here by the player's participant ids.
 */
(function () {
  "use strict";

  const container = document.getElementById("my-matches");
  const liveState = document.getElementById("live-state");
  let data = readData();
  let mine = new Set(data.participants);
  const feeds = new Map(); // tournament id -> {feed, state, text}
  let refreshing = false;
  let refreshAgain = false;
  let heldEvents = null; // events that came while a fresh list was on its way

  function readData() {
    return JSON.parse(document.getElementById("my-matches-data").textContent);
  }

  /* What the match waits for: web.views.matches.next_step, the same words. */
  function nextStep(status, captain, mineReported, opponent) {
    const other = opponent || "your opponent";
    switch (status) {
      case "pending":
        return "Your opponent is not decided yet.";
      case "ready":
        return captain ? "Play it, then report the result." : "Play it; your captain reports.";
      case "awaiting_confirmation":
        if (mineReported) return `Reported: waiting for ${other} to confirm.`;
        return captain
          ? `${other} reported: confirm or dispute it.`
          : `${other} reported: your captain confirms or disputes it.`;
      case "disputed":
        return "The reports disagree: the organizer decides.";
      default:
        return "Finished.";
    }
  }

  function rowOf(matchId) {
    return container.querySelector(`tr[data-match="${matchId}"]`);
  }

  function updateRow(row, match) {
    const me = Number(row.dataset.mine);
    const side = match.participant_a === me ? "a" : match.participant_b === me ? "b" : null;
    const opponent = side === "a" ? match.participant_b : match.participant_a;
    const knownOpponent = row.dataset.opponentId ? Number(row.dataset.opponentId) : null;
    if (side === null || opponent !== knownOpponent) {
      refresh(); // no longer the player's, or a new opponent: the server names them
      return;
    }
    row.dataset.status = match.status;
    const badge = row.querySelector(".match-badge");
    badge.dataset.status = match.status;
    badge.textContent = data.status_labels[match.status] || match.status;
    const mineReported = match.reports.some((report) => report.participant === me);
    row.querySelector("[data-next-step]").textContent = nextStep(
      match.status,
      row.dataset.captain === "true",
      mineReported,
      row.dataset.opponent
    );
  }

  function applyEvent(frame) {
    const match = frame.data && frame.data.match;
    if (match) {
      const row = rowOf(match.id);
      if (row) updateRow(row, match);
      else if (match.status !== "completed" && (mine.has(match.participant_a) || mine.has(match.participant_b))) {
        refresh(); // a new match of the player's
      }
    } else if (frame.event === "match.removed") {
      if (rowOf(frame.data.match_id)) refresh();
    } else if (frame.event.startsWith("tournament.")) {
      refresh(); // started, completed, cancelled: the list changes shape
    }
  }

  function onEvent(frame) {
    if (heldEvents) heldEvents.push(frame);
    applyEvent(frame);
  }

  /* Take the list again from the server. Events that come meanwhile are applied again to
   * the fresh copy: it may have been read before them, and each carries its match whole,
   * so applying one twice changes nothing. */
  function refresh() {
    if (refreshing) {
      refreshAgain = true;
      return;
    }
    refreshing = true;
    heldEvents = [];
    fetch(location.href, { credentials: "same-origin", cache: "no-store", headers: { Accept: "text/html" } })
      .then((response) => {
        if (!response.ok || response.redirected) throw new Error(`the list answered ${response.status}`);
        return response.text();
      })
      .then((html) => {
        const fresh = new DOMParser().parseFromString(html, "text/html").getElementById("my-matches");
        if (!fresh) throw new Error("the list is not in the page");
        container.innerHTML = fresh.innerHTML;
        data = readData();
        mine = new Set(data.participants);
        const held = heldEvents || [];
        heldEvents = null;
        held.forEach(applyEvent);
        followAll();
      })
      .catch((error) => {
        console.warn("my matches: refresh failed", error);
        liveState.hidden = false;
        liveState.dataset.state = "reconnecting";
        liveState.textContent = "Could not update the list: reload the page";
      })
      .finally(() => {
        refreshing = false;
        heldEvents = null;
        if (refreshAgain) {
          refreshAgain = false;
          refresh();
        }
      });
  }

  /* One feed per tournament on the list, opened at the version the list was read at. */
  function followAll() {
    const wanted = new Map(data.tournaments.map((t) => [t.id, t.version]));
    for (const [id, entry] of feeds) {
      if (!wanted.has(id)) {
        entry.feed.close();
        feeds.delete(id);
      }
    }
    for (const [id, version] of wanted) {
      if (feeds.has(id)) continue;
      const entry = { feed: null, state: "connecting", text: "Connecting…" };
      feeds.set(id, entry);
      entry.feed = LiveFeed.open({
        path: `/ws/tournaments/${id}/`,
        resume: true,
        version,
        onSnapshot: () => refresh(), // too far behind to resume: read the list again
        onEvent,
        onStatus(state, text) {
          entry.state = state;
          entry.text = text;
          showState();
        },
      });
    }
    showState();
  }

  function showState() {
    const entries = [...feeds.values()];
    if (entries.length === 0) {
      liveState.hidden = true;
      return;
    }
    const behind = entries.find((e) => e.state !== "live");
    liveState.hidden = false;
    liveState.dataset.state = behind ? behind.state : "live";
    liveState.textContent = behind ? behind.text : "Live";
  }

  followAll();
})();
