/* Live bracket page: draws one tournament from its socket (API.md, "Live updates").
 *
 * The page state is the last snapshot with every later event applied in version order.
 * The first snapshot comes with the page (consumers/views.py embeds the socket's own
 * snapshot frame, and the server's standings and placements as of a version), so the
 * bracket is drawn at once and the socket opens with ?since=<its version>. Frames carry
 * whole objects (tournament, participants, matches), so applying an event means replacing
 * the objects it names. The socket, its backoff and the repair of a dropped connection or
 * a missed version (a gap) are feed.js's: it reconnects with ?since=<last version
 * applied>, and the server replays what was missed (or sends a fresh snapshot).
 *
 * Results are the server's word: the standings table shows GET .../standings (ties broken
 * by tiebreaks only the server computes) and the champion comes from the placements of
 * tournament.completed, never from a ranking counted here.
 *
 * Plain JavaScript, no build step, no third-party code: the page must work offline.
 */
(function () {
  "use strict";

  const root = document.getElementById("live");
  const board = document.getElementById("board");
  const indicator = document.getElementById("indicator");
  const tournamentId = Number(root.dataset.tournament);
  const currency = root.dataset.currency || "";

  const STANDINGS_DELAY_MS = 250;
  const FLASH_MS = 2500;
  const RENDER_DELAY_MS = 20;

  const FORMAT_NAMES = {
    single_elimination: "Single elimination",
    double_elimination: "Double elimination",
    round_robin: "Round robin",
    swiss: "Swiss",
  };
  const TOURNAMENT_STATUS = {
    registration: "Registration open",
    in_progress: "In progress",
    completed: "Completed",
    cancelled: "Cancelled",
  };
  // What the indicator says while connected to a tournament that is over: not "Live",
  // though the page still follows it (refunds counting down, an organizer's correction).
  const CONNECTED_WHEN_OVER = {
    completed: { mode: "finished", text: "Finished" },
    cancelled: { mode: "cancelled", text: "Cancelled" },
  };

  const state = {
    version: null, // the last version applied; null until the first snapshot
    tournament: null,
    participants: new Map(),
    matches: new Map(),
    standings: null, // {version, rows, final}: the server's standings as of `version`
    placements: null, // final placement groups, best first: tournament.completed's
    changedAt: new Map(), // match id -> when a live event last changed it
  };

  // --- Connection (feed.js: the socket, its backoff, resuming with ?since=) -------------

  let feedState = "connecting"; // the feed's last state (LiveFeed's onStatus)

  function onStatus(stateName, text) {
    feedState = stateName;
    if (stateName === "live") showConnected();
    else setIndicator(stateName, text);
  }

  /* The connected indicator: "Live", or "Finished" / "Cancelled" once the tournament is
   * over. Until the first snapshot says which, it keeps "Connecting…". */
  function showConnected() {
    if (feedState !== "live" || !state.tournament) return;
    const { mode, text } = CONNECTED_WHEN_OVER[state.tournament.status] || { mode: "live", text: "Live" };
    setIndicator(mode, text);
  }

  function setIndicator(mode, text) {
    indicator.dataset.state = mode;
    indicator.querySelector(".label").textContent = text;
    const version = `version ${state.version ?? "…"}`;
    indicator.title =
      mode === "live"
        ? `Live: updates appear as they happen (${version})`
        : mode === "finished"
          ? `Connected: the tournament is over; a correction would still appear here (${version})`
          : mode === "cancelled"
            ? `Connected: the tournament was cancelled; refunds appear here as they are made (${version})`
            : "Not connected to the live feed; click to retry now";
  }

  // --- Frames (in order, without gaps: feed.js checks the versions) -------------------

  function applySnapshot(frame) {
    state.version = frame.version;
    state.tournament = frame.tournament;
    state.participants = new Map((frame.participants || []).map((p) => [p.id, p]));
    state.matches = new Map((frame.matches || []).map((m) => [m.id, m]));
    // Placements are final once the tournament is completed; any other status voids them.
    if (frame.tournament.status !== "completed") state.placements = null;
    redraw.all = true;
    scheduleRender();
    if (!state.standings || state.standings.version < state.version) refreshStandings();
  }

  function applyEvent(frame) {
    const data = frame.data || {};
    // Anything but a change to matches already on the page redraws the whole board.
    let structural = Boolean(data.tournament || data.participant || data.participants);
    // Only a result (made or undone) or a change of the field moves the standings: a
    // report or a dispute does not, and then no spectator asks the server for them.
    let results = structural || frame.event === "match.removed";
    const changed = (match) => {
      const before = state.matches.get(match.id);
      results = results || match.status === "completed" || before?.status === "completed";
      structural = structural || !before;
      state.matches.set(match.id, match);
      redraw.matches.add(match.id);
    };
    if (data.tournament) state.tournament = data.tournament;
    for (const participant of data.participants || []) {
      state.participants.set(participant.id, participant);
    }
    if (data.participant) state.participants.set(data.participant.id, data.participant);
    for (const match of data.matches || []) changed(match);
    if (data.match) {
      changed(data.match);
      state.changedAt.set(data.match.id, Date.now());
    }
    if (frame.event === "match.removed") {
      // A match made from a result that was undone: the second grand final, a swiss round.
      state.matches.delete(data.match_id);
      structural = true;
    }
    if (frame.event === "tournament.completed" && Array.isArray(data.placements)) {
      state.placements = data.placements;
    }
    state.version = frame.version;
    redraw.all = redraw.all || structural;
    scheduleRender();
    if (results) refreshStandings();
  }

  // --- Standings (REST, for the tiebreaks the server computes) ---------------------------

  let standingsTimer = null;
  let standingsRequest = 0;

  /* Round robin and swiss only: an elimination bracket's places are its matches. */
  function refreshStandings() {
    const t = state.tournament;
    if (!t || t.status === "registration" || !isGroupFormat(t)) return;
    clearTimeout(standingsTimer);
    standingsTimer = setTimeout(async () => {
      const request = ++standingsRequest;
      // The event was committed before it was sent, so the answer is at least this recent.
      const version = state.version;
      // Asked once the tournament was over, the answer is the final table.
      const final = state.tournament.status === "completed";
      try {
        const response = await fetch(`/api/tournaments/${tournamentId}/standings`, {
          headers: { Accept: "application/json" },
          credentials: "same-origin",
        });
        if (!response.ok) return;
        const rows = await response.json();
        if (request !== standingsRequest) return; // a newer request is on its way
        state.standings = { version, rows, final };
        scheduleRender();
      } catch (error) {
        console.warn("standings:", error); // the last table stays on screen
      }
    }, STANDINGS_DELAY_MS);
  }

  /* The standings table: the server's last answer, even while a newer one is on its way
   * (`fresh` false: the panel says it is updating); counted here only until the server has
   * answered once (same points: win 2, draw 1, bye a win; ties by seed only), and marked
   * provisional then, since the server breaks ties by its tiebreaks. */
  function currentStandings() {
    if (state.standings) {
      return { rows: state.standings.rows, server: true, fresh: state.standings.version >= state.version };
    }
    const rows = new Map();
    for (const p of activeParticipants()) {
      rows.set(p.id, { participant: p.id, wins: 0, losses: 0, draws: 0, points: 0, tiebreaks: {} });
    }
    for (const m of state.matches.values()) {
      if (m.status !== "completed") continue;
      const a = rows.get(m.participant_a);
      const b = rows.get(m.participant_b);
      if (m.winner === null) {
        if (a && b) (a.draws += 1), (b.draws += 1);
      } else {
        const winner = rows.get(m.winner);
        const loser = m.winner === m.participant_a ? b : a;
        if (winner) winner.wins += 1;
        if (loser) loser.losses += 1;
      }
    }
    const seed = (id) => state.participants.get(id)?.seed ?? Infinity;
    const sorted = [...rows.values()];
    for (const row of sorted) row.points = 2 * row.wins + row.draws;
    sorted.sort((x, y) => y.points - x.points || seed(x.participant) - seed(y.participant));
    sorted.forEach((row, i) => (row.rank = i + 1));
    return { rows: sorted, server: false, fresh: false };
  }

  // --- Rendering ----------------------------------------------------------------------

  // What changed since the last drawing: everything, or some matches (none: the
  // standings only).
  const redraw = { all: false, matches: new Set() };
  let renderQueued = false;

  function scheduleRender() {
    if (renderQueued) return;
    renderQueued = true;
    // One drawing for the frames of a burst (a result moves several matches at once).
    setTimeout(() => {
      renderQueued = false;
      const { all } = redraw;
      const matches = [...redraw.matches];
      Object.assign(redraw, { all: false, matches: new Set() });
      // No match changed (new standings only): patchMatches([]) redraws just the table
      // and the banner.
      if (all || !patchMatches(matches)) render();
    }, RENDER_DELAY_MS);
  }

  /* Redraw only the cards of these matches (and their own connector lines), when each is
   * already on the page; false when the board must be drawn again as a whole. A result in
   * a 256-player bracket then touches the three or four cards it changed, not 500. */
  function patchMatches(ids) {
    // A match that is (now) a bye has no card: drawn again as a whole (rare: at the start).
    if (ids.some((id) => !state.matches.has(id) || isBye(state.matches.get(id)))) return false;
    const cards = ids.map((id) => board.querySelector(`.match[data-match-id="${id}"]`));
    if (cards.some((card) => !card)) return false;
    const rounds = new Set();
    cards.forEach((old, i) => {
      const match = state.matches.get(ids[i]);
      const fresh = matchCard(match, { inline: old.classList.contains("inline") });
      fresh.style.gridColumn = old.style.gridColumn;
      fresh.style.gridRow = old.style.gridRow;
      old.replaceWith(fresh);
      rounds.add(fresh.closest(".round"));
    });
    for (const round of rounds) {
      if (round) round.querySelector("h3").replaceWith(roundHeading(Number(round.dataset.round)));
    }
    root.dataset.version = String(state.version);
    connectorsFrom(ids);
    patchStandings();
    patchBanner();
    return true;
  }

  function patchStandings() {
    const panel = board.querySelector(".panel.standings");
    if (panel) panel.replaceWith(standingsPanel(state.tournament));
  }

  function patchBanner() {
    const banner = board.querySelector(".banner.champion");
    if (banner) banner.replaceWith(championBanner(state.tournament, [...state.matches.values()]));
  }

  function render() {
    const t = state.tournament;
    if (!t) return;
    root.dataset.version = String(state.version);
    root.dataset.format = t.format;
    root.dataset.status = t.status;
    document.title = `${t.name} · live bracket`;
    document.getElementById("name").textContent = t.name;
    document.getElementById("meta").textContent = metaLine(t);
    const badge = document.getElementById("status");
    badge.textContent = TOURNAMENT_STATUS[t.status] || t.status;
    badge.dataset.status = t.status;
    showConnected();
    const prizes = document.getElementById("prizes");
    if (prizes) prizes.textContent = prizesLine(t);

    const scroll = new Map(
      [...board.querySelectorAll("[data-scroll-key]")].map((n) => [n.dataset.scrollKey, n.scrollLeft])
    );
    board.replaceChildren(...boardContent(t));
    for (const node of board.querySelectorAll("[data-scroll-key]")) {
      node.scrollLeft = scroll.get(node.dataset.scrollKey) || 0;
    }
    drawConnectors();
  }

  function metaLine(t) {
    const count = activeParticipants().length;
    const places =
      t.status === "registration"
        ? `${count} of ${t.max_participants} registered`
        : `${count} ${t.team_size > 1 ? "teams" : "players"}`;
    return [
      t.game,
      FORMAT_NAMES[t.format] || t.format,
      t.team_size > 1 ? `teams of ${t.team_size}` : null,
      places,
      t.entry_fee ? `entry fee ${money(t.entry_fee)}` : "free entry",
      t.prize_pool ? `prize pool ${money(t.prize_pool)}` : null,
    ]
      .filter(Boolean)
      .join(" · ");
  }

  /* "Prizes: 1st $28.00 · 2nd $12.00": each place's share of the pool as API.md splits it
   * (percentages rounded down, the remainder to 1st); a team's share is the team's. */
  function prizesLine(t) {
    const split = Array.isArray(t.prize_split) ? t.prize_split : [];
    if (!t.prize_pool || !split.length) return "";
    const shares = split.map((percent) => Math.floor((t.prize_pool * percent) / 100));
    shares[0] += t.prize_pool - shares.reduce((sum, share) => sum + share, 0);
    const places = shares
      .map((share, i) => (share ? `${ordinal(i + 1)} ${money(share)}` : null))
      .filter(Boolean);
    return places.length ? `Prizes: ${places.join(" · ")}` : "";
  }

  function boardContent(t) {
    const parts = [];
    const matches = [...state.matches.values()];
    if (t.status === "cancelled") {
      const refunds = t.refunds_pending
        ? `Entry fees are being refunded (${t.refunds_pending} to go).`
        : "Entry fees have been refunded.";
      parts.push(el("div", { class: "banner cancelled" }, `This tournament was cancelled. ${refunds}`));
    }
    if (t.status === "completed") parts.push(championBanner(t, matches));
    if (!matches.length) {
      parts.push(registrationList(t));
      return parts;
    }
    if (t.format === "round_robin" || t.format === "swiss") parts.push(groupBoard(t, matches));
    else parts.push(...eliminationBoard(t, matches));
    return parts;
  }

  function championBanner(t, matches) {
    const { champion, runnerUp } = finalPlaces(t, matches);
    return el(
      "div",
      { class: "banner champion" },
      el("span", { class: "trophy", "aria-hidden": "true" }, "★"),
      el(
        "span",
        {},
        "Champion: ",
        champion === null
          ? el("strong", { "data-champion": "" }, "being confirmed…")
          : el("strong", { "data-champion": champion }, nameOf(champion))
      ),
      runnerUp !== null ? el("span", { class: "runner-up" }, `Runner-up: ${nameOf(runnerUp)}`) : null
    );
  }

  /* The first two places, only ever as the server decided them: the placements of
   * tournament.completed (or the page's read of them); an elimination bracket's deciding
   * match; the server's standings asked once the tournament was over. Null where none of
   * these has said yet (or a place is shared). */
  function finalPlaces(t, matches) {
    const alone = (group) => (Array.isArray(group) && group.length === 1 ? group[0] : null);
    if (state.placements) {
      return { champion: alone(state.placements[0]), runnerUp: alone(state.placements[1]) };
    }
    if (!isGroupFormat(t)) {
      // The last match of an elimination bracket is the only one that feeds nothing.
      const ends = matches.filter(
        (m) => m.status === "completed" && !m.next_match && m.bracket !== "losers"
      );
      const last = ends.find((m) => m.bracket === "grand_final") || ends[0];
      if (last && last.winner !== null) {
        const loser = last.winner === last.participant_a ? last.participant_b : last.participant_a;
        return { champion: last.winner, runnerUp: loser };
      }
    } else if (state.standings?.final) {
      const at = (rank) => alone(state.standings.rows.filter((r) => r.rank === rank).map((r) => r.participant));
      return { champion: at(1), runnerUp: at(2) };
    }
    return { champion: null, runnerUp: null };
  }

  function registrationList(t) {
    const people = activeParticipants();
    return el(
      "section",
      { class: "panel registration" },
      el("h2", {}, t.status === "registration" ? "Registered so far" : "Participants"),
      people.length
        ? el("ol", { class: "roster" }, people.map((p) => rosterLine(p, t)))
        : el("p", { class: "empty" }, "Nobody has joined yet."),
      waitlistBlock(t),
      t.status === "registration"
        ? el("p", { class: "hint" }, "The bracket appears here as soon as the organizer starts the tournament.")
        : null
    );
  }

  /* A roster line; a disqualified participant stays listed (its results stand), marked.
     Before the start of a tournament with check-in, each line says whether it checked in. */
  function rosterLine(p, t) {
    const out = p.status === "disqualified";
    const checkIn = t && t.status === "registration" && t.check_in_opens_minutes > 0;
    return el(
      "li",
      { title: membersOf(p), class: out ? "disqualified" : "" },
      p.name,
      out ? el("span", { class: "tag", "data-status": "disqualified" }, "disqualified") : null,
      checkIn
        ? el(
            "span",
            { class: "tag", "data-check-in": p.checked_in ? "yes" : "no" },
            p.checked_in ? "checked in" : "not checked in"
          )
        : null
    );
  }

  /* The entries waiting for a place, in line (registration only; removed at the start). */
  function waitlistBlock(t) {
    const waiting = [...state.participants.values()]
      .filter((p) => p.status === "waitlisted")
      .sort((x, y) => x.waitlist_position - y.waitlist_position);
    if (t.status !== "registration" || !waiting.length) return null;
    return el(
      "div",
      { class: "waitlist" },
      el("h3", {}, `Waitlist (${waiting.length})`),
      el("ol", { class: "roster" }, waiting.map((p) => rosterLine(p, t)))
    );
  }

  // Elimination: trees drawn on a grid whose rows are the first round's slots, so that
  // each match sits level with the two it is fed by, even where byes left gaps.

  function eliminationBoard(t, matches) {
    const isDouble = t.format === "double_elimination";
    const of = (bracket) => matches.filter((m) => m.bracket === bracket);
    const winners = of("winners");
    const losers = of("losers");
    const finals = of("grand_final").sort((x, y) => x.round - y.round);
    const k = maxRound(winners);

    const upper = [];
    for (let r = 1; r <= k; r += 1) {
      upper.push({
        title: winnersRoundTitle(r, k, isDouble),
        slots: 2 ** (k - r),
        matches: winners.filter((m) => m.round === r),
      });
    }
    const sections = [bracketSection("upper", isDouble ? "Winners bracket" : "Bracket", upper)];

    if (losers.length) {
      const last = maxRound(losers);
      const lower = [];
      for (let j = 1; j <= last; j += 1) {
        lower.push({
          title: j === last ? "Losers final" : `Losers round ${j}`,
          slots: 2 ** Math.max(0, k - 1 - Math.ceil(j / 2)),
          matches: losers.filter((m) => m.round === j),
        });
      }
      sections.push(bracketSection("lower", "Losers bracket", lower));
    }
    // The grand final gets a section of its own below both brackets: beside the winners
    // final it sat halfway down a tree thousands of pixels tall. The second grand final
    // exists only once it is needed (the losers-bracket side won the first); it is drawn
    // only while the first one still points at it.
    const first = finals.find((m) => m.round === 1);
    const deciding = finals
      .filter((final) => final.round === 1 || (first && first.next_match === final.id))
      .map((final) => ({
        title: final.round === 1 ? "Grand final" : "Grand final reset",
        slots: 1,
        matches: [final],
      }));
    if (deciding.length) sections.push(bracketSection("final", "Grand final", deciding));
    if (sections.length < 2) return sections;
    // Each bracket is at most a screen tall: links to them say what lies below.
    const links = sections.map((section) =>
      el("a", { href: `#${section.id}` }, section.querySelector("h2").textContent)
    );
    return [el("nav", { class: "jump", "aria-label": "Brackets" }, links), ...sections];
  }

  function winnersRoundTitle(r, k, isDouble) {
    const fromEnd = k - r;
    const names = isDouble
      ? ["Winners final", "Winners semifinals", "Winners quarterfinals"]
      : ["Final", "Semifinals", "Quarterfinals"];
    if (fromEnd < names.length) return names[fromEnd];
    return isDouble ? `Winners round ${r}` : `Round ${r}`;
  }

  /* Byes take their slot in the grid but get no card: nobody plays them, and a first
   * round of a 5-player bracket would otherwise show three "bye" cards for one match. The
   * round's title says who had one. */
  function bracketSection(key, title, columns) {
    const slotsOf = (c) => Math.max(c.slots, ...c.matches.map((m) => m.position), 1);
    const base = Math.max(1, ...columns.map(slotsOf));
    const grid = el("div", { class: "bracket-grid" });
    grid.style.gridTemplateColumns = `repeat(${columns.length}, var(--column))`;
    grid.style.gridTemplateRows = `auto repeat(${base}, var(--slot))`;
    columns.forEach((column, i) => {
      const byes = column.matches.filter(isBye);
      const title = el(
        "div",
        { class: "round-title", title: byes.length ? byeText(byes) : null },
        column.title,
        byes.length ? el("span", { class: "byes" }, ` · ${byes.length} ${byes.length === 1 ? "bye" : "byes"}`) : null
      );
      title.style.gridColumn = String(i + 1);
      title.style.gridRow = "1";
      grid.append(title);
      const slots = slotsOf(column);
      for (const match of column.matches) {
        if (isBye(match)) continue;
        const start = Math.floor(((match.position - 1) * base) / slots) + 2;
        const end = Math.max(start + 1, Math.floor((match.position * base) / slots) + 2);
        const card = matchCard(match);
        card.style.gridColumn = String(i + 1);
        card.style.gridRow = `${start} / ${end}`;
        grid.append(card);
      }
    });
    grid.append(svg("svg", { class: "connectors", "aria-hidden": "true" }));
    return el(
      "section",
      { class: "panel bracket", id: `bracket-${key}`, "data-bracket": key },
      el("h2", {}, title),
      el("div", { class: "bracket-scroll", "data-scroll-key": key }, grid)
    );
  }

  /* Lines from each match to the match its winner goes to, within one grid. Every card is
   * measured first and the lines drawn after: interleaving would lay the page out again
   * for each line. */
  function drawConnectors() {
    const drawings = [...board.querySelectorAll(".bracket-grid")].map((grid) => {
      const lines = [...grid.querySelectorAll(".match[data-next]")].map(connector).filter(Boolean);
      // The grid's own box: its scroll size would count the layer itself, which an SVG
      // draws 300 x 150 before it is given a size, and so keep a small grid scrolling.
      return { grid, width: grid.offsetWidth, height: grid.offsetHeight, lines };
    });
    for (const { grid, width, height, lines } of drawings) {
      const layer = grid.querySelector("svg.connectors");
      layer.setAttribute("width", width);
      layer.setAttribute("height", height);
      layer.replaceChildren(...lines.map((line) => svg("path", line)));
    }
  }

  /* Only the lines leaving these matches' cards. A patched card keeps its grid cell, so
   * every other line, including those arriving at it, is still right. */
  function connectorsFrom(ids) {
    const lines = ids.map((id) => {
      const card = board.querySelector(`.bracket-grid .match[data-match-id="${id}"]`);
      const layer = card?.closest(".bracket-grid").querySelector("svg.connectors");
      return { id, layer, line: card && connector(card) };
    });
    for (const { id, layer, line } of lines) {
      if (!layer) continue;
      const path = layer.querySelector(`path[data-from="${id}"]`);
      if (!line) path?.remove();
      else if (!path) layer.append(svg("path", line));
      else for (const name of ["d", "class"]) path.setAttribute(name, line[name]);
    }
  }

  function connector(card) {
    const grid = card.closest(".bracket-grid");
    const next = card.dataset.next;
    const target = next && grid.querySelector(`.match[data-match-id="${next}"]`);
    if (!target) return null;
    const x1 = card.offsetLeft + card.offsetWidth;
    const y1 = card.offsetTop + card.offsetHeight / 2;
    const x2 = target.offsetLeft;
    const y2 = target.offsetTop + target.offsetHeight / 2;
    return {
      d: `M${x1} ${y1}H${x1 + (x2 - x1) / 2}V${y2}H${x2}`,
      class: card.dataset.status === "completed" ? "done" : "",
      "data-from": card.dataset.matchId,
    };
  }

  // Round robin and swiss: a standings table beside the rounds.

  function groupBoard(t, matches) {
    const rounds = new Map();
    for (const m of matches) {
      if (!rounds.has(m.round)) rounds.set(m.round, []);
      rounds.get(m.round).push(m);
    }
    const numbers = [...rounds.keys()].sort((a, b) => a - b);
    const roundPanels = numbers.map((r) => {
      const list = rounds.get(r).sort((x, y) => x.position - y.position);
      const byes = list.filter(isBye);
      return el(
        "section",
        { class: "round", "data-round": r },
        roundHeading(r),
        el(
          "div",
          { class: "round-matches" },
          list.filter((m) => !isBye(m)).map((m) => matchCard(m, { inline: true }))
        ),
        byes.length ? el("p", { class: "bye-note" }, byeText(byes)) : null
      );
    });
    for (let r = (numbers.at(-1) || 0) + 1; r <= roundCount(); r += 1) {
      roundPanels.push(
        el(
          "section",
          { class: "round future", "data-round": r },
          roundHeading(r),
          el("p", { class: "empty" }, `Paired when round ${r - 1} is complete.`)
        )
      );
    }
    return el(
      "div",
      { class: "group-layout" },
      standingsPanel(t),
      el("section", { class: "panel rounds" }, el("h2", {}, "Rounds"), el("div", { class: "round-list" }, roundPanels))
    );
  }

  function roundCount() {
    const t = state.tournament;
    if (t.format === "swiss" && t.swiss_rounds) return t.swiss_rounds;
    return maxRound([...state.matches.values()]);
  }

  function roundHeading(r) {
    const matches = [...state.matches.values()].filter((m) => m.round === r);
    const open = matches.some((m) => m.status !== "completed");
    return el(
      "h3",
      {},
      `Round ${r}`,
      el("span", { class: "muted" }, ` of ${roundCount()}`),
      open ? el("span", { class: "tag" }, "in play") : null
    );
  }

  function standingsPanel(t) {
    const { rows, server, fresh } = currentStandings();
    const buchholz = server && t.format === "swiss";
    const head = el(
      "tr",
      {},
      el("th", { class: "num" }, "#"),
      el("th", {}, t.team_size > 1 ? "Team" : "Player"),
      el("th", { class: "num", title: "Wins (byes count as wins)" }, "W"),
      el("th", { class: "num", title: "Draws" }, "D"),
      el("th", { class: "num", title: "Losses" }, "L"),
      el("th", { class: "num", title: "Points: win 2, draw 1" }, "Pts"),
      buchholz ? el("th", { class: "num", title: "Buchholz: the opponents' points" }, "Bh") : null
    );
    const body = rows.map((row) =>
      el(
        "tr",
        { "data-participant": row.participant, class: row.rank === 1 && t.status === "completed" ? "first" : "" },
        el("td", { class: "num" }, row.rank),
        el("td", { title: membersOf(state.participants.get(row.participant)) }, nameOf(row.participant)),
        el("td", { class: "num" }, row.wins),
        el("td", { class: "num" }, row.draws),
        el("td", { class: "num" }, row.losses),
        el("td", { class: "num strong" }, row.points),
        buchholz ? el("td", { class: "num muted" }, row.tiebreaks?.buchholz ?? "") : null
      )
    );
    const note = !server
      ? "Provisional: counted here, ties by seed, until the server's table arrives."
      : fresh
        ? null
        : "Updating with the latest results…";
    return el(
      "section",
      {
        class: ["panel standings", fresh ? "" : "stale"].filter(Boolean).join(" "),
        "data-source": server ? "server" : "provisional",
        "data-version": server ? state.standings.version : null,
        "aria-busy": fresh ? null : "true",
      },
      el("h2", {}, "Standings"),
      el("table", { class: "standings-table" }, el("thead", {}, head), el("tbody", {}, body)),
      note ? el("p", { class: "source" }, note) : null
    );
  }

  // --- Matches ------------------------------------------------------------------------

  /* A card is a link to its match room (/matches/{id}, issue 12's path), where the
   * players report and the organizer settles. Byes get none (see bracketSection). */
  function matchCard(m, { inline = false } = {}) {
    const card = el("a", {
      class: ["match", inline ? "inline" : ""].filter(Boolean).join(" "),
      href: `/matches/${m.id}`,
      "data-match-id": m.id,
      "data-status": m.status,
      "data-next": m.next_match || null,
    });
    const changed = state.changedAt.get(m.id);
    if (changed && Date.now() - changed < FLASH_MS) {
      card.classList.add("flash");
      // Recreated cards continue the animation where it was instead of restarting it.
      card.style.animationDelay = `-${Date.now() - changed}ms`;
    }
    card.append(side(m, "a"), side(m, "b"), el("div", { class: "caption" }, caption(m)));
    // A best-of series: the sides' scores above are games won; the games, when listed.
    if (m.best_of > 1) card.append(el("div", { class: "series" }, seriesText(m)));
    return card;
  }

  function side(m, which) {
    const id = m[`participant_${which}`];
    const participant = id === null ? null : state.participants.get(id);
    const done = m.status === "completed";
    const result = done && id !== null && m.winner !== null ? (m.winner === id ? "winner" : "loser") : "";
    let score = "";
    if (m.scores) score = m.scores[which === "a" ? 0 : 1];
    else if (result) score = result === "winner" ? "W" : "L";
    return el(
      "div",
      {
        class: [
          "side",
          result,
          id === null ? "empty-side" : "",
          participant?.status === "disqualified" ? "disqualified" : "",
          id !== null && m.forfeit === id ? "forfeited" : "",
        ]
          .filter(Boolean)
          .join(" "),
        "data-side": which,
        "data-participant": id ?? "",
        title: membersOf(participant),
      },
      el("span", { class: "seed" }, participant?.seed ?? ""),
      el("span", { class: "name" }, id === null ? "to be decided" : nameOf(id)),
      el("span", { class: "score" }, score)
    );
  }

  /* "Best of 3", and each game's score once the result listed them (consumers.views
   * words it alike on the page's first render). */
  function seriesText(m) {
    const games = m.games ? ` · ${m.games.map(([a, b]) => `${a}–${b}`).join(", ")}` : "";
    return `Best of ${m.best_of}${games}`;
  }

  function caption(m) {
    switch (m.status) {
      case "completed":
        if (m.forfeit) return `${nameOf(m.forfeit)} forfeited`;
        return m.winner === null ? "Draw" : "Finished";
      case "ready":
        return "Ready to play";
      case "awaiting_confirmation": {
        const by = m.reports?.[0]?.participant;
        return by ? `${nameOf(by)} reported · awaiting confirmation` : "Awaiting confirmation";
      }
      case "disputed":
        return "Disputed · the organizer will decide";
      case "pending":
        return "Waiting for players";
      default:
        return m.status;
    }
  }

  // --- Helpers ------------------------------------------------------------------------

  /* A bye: completed at once with one side only (API.md, Matches). */
  function isBye(m) {
    return m.status === "completed" && (m.participant_a === null) !== (m.participant_b === null);
  }

  function byeText(byes) {
    const names = byes.map((m) => nameOf(m.participant_a ?? m.participant_b));
    return `${byes.length === 1 ? "Bye" : "Byes"}: ${names.join(", ")}`;
  }

  function isGroupFormat(t) {
    return t.format === "round_robin" || t.format === "swiss";
  }

  function activeParticipants() {
    return [...state.participants.values()]
      .filter((p) => p.status !== "left" && p.status !== "waitlisted")
      .sort((x, y) => (x.seed ?? Infinity) - (y.seed ?? Infinity) || x.id - y.id);
  }

  function nameOf(id) {
    if (id === null || id === undefined) return "—";
    return state.participants.get(id)?.name ?? `#${id}`;
  }

  function membersOf(participant) {
    const members = participant?.members || [];
    return members.length > 1 ? members.map((m) => m.username).join(", ") : null;
  }

  function ordinal(n) {
    const teen = n % 100 >= 11 && n % 100 <= 13;
    return n + (teen ? "th" : { 1: "st", 2: "nd", 3: "rd" }[n % 10] || "th");
  }

  function maxRound(matches) {
    return matches.reduce((most, m) => Math.max(most, m.round), 0);
  }

  /* Amounts are integer cents of the deployment's currency (API.md, Conventions): a
   * hundredth is the minor unit whatever the currency, as in the list page and the
   * notifications (web/presentation.py, notifications/services.py). */
  function money(amount) {
    try {
      const format = new Intl.NumberFormat(undefined, {
        style: "currency",
        currency,
        minimumFractionDigits: 2,
        maximumFractionDigits: 2,
      });
      return format.format(amount / 100);
    } catch (error) {
      return `${(amount / 100).toFixed(2)} ${currency}`; // not an ISO 4217 code
    }
  }

  function el(tag, attributes, ...children) {
    return fill(document.createElement(tag), attributes, children);
  }

  function svg(tag, attributes, ...children) {
    return fill(document.createElementNS("http://www.w3.org/2000/svg", tag), attributes, children);
  }

  /* Text always goes in as text nodes: names are user input. */
  function fill(node, attributes, children) {
    for (const [name, value] of Object.entries(attributes || {})) {
      if (value === null || value === undefined || value === false || value === "") continue;
      node.setAttribute(name, String(value));
    }
    for (const child of children.flat()) {
      if (child === null || child === undefined || child === false) continue;
      node.append(child instanceof Node ? child : String(child));
    }
    return node;
  }

  // --- Start ----------------------------------------------------------------------------

  // The page's own snapshot and results (consumers/views.py): drawn now, followed from
  // their version on.
  const embedded = (id) => JSON.parse(document.getElementById(id).textContent);
  const results = embedded("results");
  if (results.standings) {
    const final = results.placements !== null;
    state.standings = { version: results.version, rows: results.standings, final };
  }
  state.placements = results.placements;
  applySnapshot(embedded("snapshot"));
  indicator.hidden = false;
  const feed = LiveFeed.open({
    path: `/ws/tournaments/${tournamentId}/`,
    resume: true,
    version: state.version,
    onSnapshot: applySnapshot,
    onEvent: applyEvent,
    onStatus,
  });
  indicator.addEventListener("click", () => feed.reconnectNow());
  let resizeTimer = null;
  window.addEventListener("resize", () => {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(drawConnectors, 100);
  });
})();
