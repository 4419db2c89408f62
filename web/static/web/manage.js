/* The organizer's console (/tournaments/{id}/manage), live.
 *
 * web/views/manage.py renders the console as the tournament is at one version (the
 * state, in the socket's shapes, is embedded as #console-data) with every section in the
 * page. This script follows the tournament's socket from that version (LiveFeed, resuming
 * with ?since=, so nothing between the page and the socket is missed or seen twice) and
 * redraws what an event changes: the participants as they register, check in, wait or
 * leave, the start plan (its times, check-in and waitlist), the queue of disputed and
 * overdue matches, the matches being played, the results, the refunds counting down after
 * a cancellation. A one-sided report joins the queue on its own when its confirmation
 * deadline passes, and the plan says so when the start passes or check-in opens.
 *
 * The forms are the page's own (plain POSTs, CSRF-protected): this script draws the
 * queue's cards with the same fields as the server does, and keeps what the organizer has
 * typed in a card while other events redraw the page. It asks to confirm a cancellation
 * in place, where the page without JavaScript goes to a confirmation step.
 *
 * Plain JavaScript, no build step, no third-party code.
 */
(function () {
  "use strict";

  const root = document.getElementById("console");
  if (!root) return;
  const data = JSON.parse(document.getElementById("console-data").textContent);
  const tournamentId = Number(root.dataset.tournament);
  const csrfToken = (root.querySelector('input[name="csrfmiddlewaretoken"]') || {}).value || "";
  // The server's clock minus this one's: deadlines are the server's, so is "now".
  const clockOffset = Date.parse(data.server_now) - Date.now();
  const confirmationMs = data.confirmation_seconds * 1000;
  const BRACKETS = ["winners", "losers", "grand_final", "group"];
  const byes = new Set(data.byes);

  let tournament = data.tournament;
  const participants = new Map();
  const matches = new Map();
  let overdueIds = "";

  function $(id) {
    return document.getElementById(id);
  }

  function setParticipants(list) {
    participants.clear();
    for (const p of list) if (p.status !== "left") participants.set(p.id, p);
  }

  function setMatches(list) {
    matches.clear();
    for (const m of list) matches.set(m.id, m);
  }

  setParticipants(data.participants);
  setMatches(data.matches);

  // --- Words (as web/views/manage.py and web/views/matches.py say them) ------------------

  function nameOf(id) {
    if (id === null || id === undefined) return "to be decided";
    const p = participants.get(id);
    return p ? p.name : "A side";
  }

  function count(n, noun) {
    return `${n} ${noun}${n === 1 ? "" : "s"}`;
  }

  function money(cents) {
    const sign = cents < 0 ? "-" : "";
    const abs = Math.abs(cents);
    const units = Math.floor(abs / 100).toLocaleString("en-US");
    return `${sign}${units}.${String(abs % 100).padStart(2, "0")} ${data.currency}`;
  }

  // Django's "M" (manage.html's dates): English, whatever the browser's language.
  const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
  const zoneClock = new Intl.DateTimeFormat("en-US", {
    timeZone: data.time_zone,
    year: "numeric",
    month: "numeric",
    day: "numeric",
    hour: "numeric",
    minute: "numeric",
    hourCycle: "h23",
  });

  /* "24 Dec 2030, 18:30 Europe/Paris": manage.html's "j M Y, H:i" and the zone's name, in
   * the server's zone (not the browser's). */
  function zoneTime(ms) {
    const part = {};
    for (const { type, value } of zoneClock.formatToParts(new Date(ms))) part[type] = Number(value);
    const two = (n) => String(n).padStart(2, "0");
    return `${part.day} ${MONTHS[part.month - 1]} ${part.year}, ${two(part.hour)}:${two(part.minute)} ${data.time_zone}`;
  }

  function utcTime(ms) {
    const d = new Date(ms);
    return `${String(d.getUTCHours()).padStart(2, "0")}:${String(d.getUTCMinutes()).padStart(2, "0")} UTC`;
  }

  function resultText(m, winner, scores) {
    const score = scores ? ` ${scores[0]}–${scores[1]}` : "";
    if (winner === null) return `Draw${score}`;
    return `${nameOf(winner)} won${score}`;
  }

  /* A report with the games it listed (web.presentation.report_text). */
  function reportText(m, r) {
    const games = r.games ? `, games ${r.games.map(([a, b]) => `${a}–${b}`).join(", ")}` : "";
    return resultText(m, r.winner, r.scores) + games;
  }

  function lastRounds() {
    const last = {};
    for (const m of matches.values()) last[m.bracket] = Math.max(last[m.bracket] || 0, m.round);
    return last;
  }

  function roundLabel(m, last) {
    const lastRound = last[m.bracket];
    if (m.bracket === "grand_final") return m.round === 1 ? "Grand final" : "Grand final reset";
    if (m.bracket === "losers") return m.round === lastRound ? "Losers final" : `Losers round ${m.round}`;
    if (m.bracket === "group") {
      const rounds = tournament.format === "swiss" ? tournament.swiss_rounds : lastRound;
      return rounds ? `Round ${m.round} of ${rounds}` : `Round ${m.round}`;
    }
    const double = tournament.format === "double_elimination";
    const names = double
      ? ["Winners final", "Winners semifinals", "Winners quarterfinals"]
      : ["Final", "Semifinals", "Quarterfinals"];
    const fromEnd = (lastRound || m.round) - m.round;
    if (fromEnd < names.length) return names[fromEnd];
    return double ? `Winners round ${m.round}` : `Round ${m.round}`;
  }

  function metaLine(entered) {
    const t = tournament;
    const teams = t.team_size > 1;
    return [
      t.game,
      data.format_labels[t.format] || t.format,
      teams ? `teams of ${t.team_size}` : null,
      t.status === "registration"
        ? `${entered} of ${t.max_participants} registered`
        : count(entered, teams ? "team" : "player"),
      t.entry_fee ? `entry fee ${money(t.entry_fee)}` : "free entry",
      t.prize_pool ? `prize pool ${money(t.prize_pool)}` : null,
    ]
      .filter(Boolean)
      .join(" · ");
  }

  // --- The state's reading -----------------------------------------------------------------

  function now() {
    return Date.now() + clockOffset;
  }

  function isBye(m) {
    return byes.has(m.id) || (m.status === "completed" && (m.participant_a === null) !== (m.participant_b === null));
  }

  function deadlineOf(m) {
    if (m.status !== "awaiting_confirmation" || m.reports.length !== 1) return null;
    return Date.parse(m.reports[0].at) + confirmationMs;
  }

  function isOverdue(m) {
    const deadline = deadlineOf(m);
    return deadline !== null && deadline <= now();
  }

  function inBracketOrder(list) {
    return list.sort(
      (x, y) =>
        BRACKETS.indexOf(x.bracket) - BRACKETS.indexOf(y.bracket) || x.round - y.round || x.position - y.position,
    );
  }

  function waitingFor(m) {
    const reported = new Set(m.reports.map((r) => r.participant));
    for (const id of [m.participant_a, m.participant_b]) {
      if (id !== null && !reported.has(id)) return nameOf(id);
    }
    return "the other side";
  }

  // --- Drawing -----------------------------------------------------------------------------

  function el(tag, attributes, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attributes)) {
      if (value !== null && value !== undefined && value !== false) node.setAttribute(key, value);
    }
    node.append(...children.filter((child) => child !== null && child !== undefined));
    return node;
  }

  function csrfInput() {
    return el("input", { type: "hidden", name: "csrfmiddlewaretoken", value: csrfToken });
  }

  function timeEl(ms, prefix) {
    return el("time", { datetime: new Date(ms).toISOString() }, `${prefix || ""}${utcTime(ms)}`);
  }

  /* Make `container`'s children the nodes of `items`, in order, reusing a child whose key
   * is unchanged (so what is typed in it, and the focus, survive) and building the others.
   * A rebuilt item gets its old node, to carry over what can be. */
  function renderKeyed(container, items, keyOf, build) {
    const old = new Map();
    for (const child of Array.from(container.children)) old.set(child.dataset.match || child.dataset.participant, child);
    const nodes = items.map((item) => {
      const key = keyOf(item);
      const previous = old.get(String(item.id));
      if (previous && previous.dataset.key === key) return previous;
      const node = build(item, previous);
      node.dataset.key = key;
      return node;
    });
    const keep = new Set(nodes);
    for (const child of Array.from(container.children)) if (!keep.has(child)) child.remove();
    nodes.forEach((node, i) => {
      if (container.children[i] !== node) container.insertBefore(node, container.children[i] || null);
    });
  }

  function matchKey(m, extra) {
    return JSON.stringify([m, tournament.status, extra || null]);
  }

  function queueCard(m, last, previous) {
    const title = `${roundLabel(m, last)}: ${nameOf(m.participant_a)} vs ${nameOf(m.participant_b)}`;
    const titleId = `match-${m.id}-title`;
    const reason = m.status === "disputed" ? "disputed" : "overdue";
    const why =
      reason === "disputed"
        ? el("p", { class: "queue-reason" }, el("span", { class: "tag", "data-reason": "disputed" }, "Disputed"), " The reports disagree.")
        : el(
            "p",
            { class: "queue-reason" },
            el("span", { class: "tag", "data-reason": "overdue" }, "Overdue"),
            ` ${waitingFor(m)} did not answer by `,
            timeEl(deadlineOf(m)),
            ", the deadline: the report is confirmed as reported at the next check unless you decide first.",
          );
    const reports = el(
      "ul",
      { class: "queue-reports" },
      ...m.reports.map((r) =>
        el("li", {}, el("strong", {}, nameOf(r.participant)), ` reported: ${reportText(m, r)} `, timeEl(Date.parse(r.at), "at ")),
      ),
    );
    const form = resolveForm(m, titleId);
    if (previous) carryOver(previous.querySelector("form.resolve-form"), form);
    const reset = el(
      "form",
      { method: "post", action: `/tournaments/${tournamentId}/manage/matches/${m.id}/reset` },
      csrfInput(),
      el("button", { type: "submit", class: "secondary", "aria-describedby": titleId }, "Reset"),
    );
    return el(
      "li",
      { class: "queue-card", "data-match": m.id, "data-reason": reason },
      el("h3", { id: titleId }, title),
      why,
      reports,
      form,
      el("div", { class: "queue-actions" }, reset, el("a", { href: `/matches/${m.id}` }, "Match room")),
    );
  }

  /* The fields of web.forms_matches.ResultForm with the prefix "match-<id>", as Django
   * renders them in manage.html. */
  function resolveForm(m, titleId) {
    const prefix = `match-${m.id}`;
    const choices = [m.participant_a, m.participant_b]
      .filter((id) => id !== null)
      .map((id) => [String(id), nameOf(id)]);
    if (m.bracket === "group") choices.push(["draw", "Draw"]);
    const winner = el("fieldset", { class: "winner-choice" }, el("legend", {}, "Winner"));
    choices.forEach(([value, label], i) => {
      const id = `id_${prefix}-winner_${i}`;
      winner.append(
        el(
          "label",
          { class: "choice", for: id },
          el("input", { type: "radio", name: `${prefix}-winner`, value, required: "", id }),
          " ",
          el("span", {}, label),
        ),
      );
    });
    const score = (side, id) => {
      const inputId = `id_${prefix}-score_${side}`;
      return el(
        "p",
        {},
        el("label", { for: inputId }, `Score of ${nameOf(id)}`),
        el("input", {
          type: "number",
          name: `${prefix}-score_${side}`,
          min: "0",
          max: "1000000",
          inputmode: "numeric",
          class: "score-input",
          id: inputId,
        }),
      );
    };
    return el(
      "form",
      { class: "resolve-form", method: "post", action: `/tournaments/${tournamentId}/manage/matches/${m.id}/resolve` },
      csrfInput(),
      el("div", { class: "form-errors", role: "alert" }),
      winner,
      el(
        "fieldset",
        { class: "scores" },
        el("legend", {}, "Scores ", el("span", { class: "optional" }, "(optional: both or neither)")),
        el("div", { class: "score-fields" }, score("a", m.participant_a), score("b", m.participant_b)),
      ),
      el("button", { type: "submit", "aria-describedby": titleId }, "Resolve"),
    );
  }

  /* What the organizer had chosen and typed in a card that is drawn again. */
  function carryOver(from, to) {
    if (!from) return;
    for (const field of from.querySelectorAll("input")) {
      if (field.type === "hidden") continue;
      const same = to.querySelector(`input[name="${field.name}"]${field.type === "radio" ? `[value="${field.value}"]` : ""}`);
      if (!same) continue;
      if (field.type === "radio") same.checked = field.checked;
      else same.value = field.value;
    }
  }

  function inPlayRow(m, last) {
    const deadline = deadlineOf(m);
    let state;
    if (deadline !== null) {
      const report = m.reports[0];
      state = el(
        "td",
        { "data-label": "State" },
        `${nameOf(report.participant)} reported ${reportText(m, report)}: confirmed automatically at `,
        timeEl(deadline),
        ` unless ${waitingFor(m)} answers.`,
      );
    } else {
      state = el("td", { "data-label": "State" }, data.match_status_labels[m.status] || m.status);
    }
    return el(
      "tr",
      { "data-match": m.id },
      el("th", { scope: "row", "data-label": "Match" }, roundLabel(m, last)),
      el("td", { "data-label": "Sides" }, `${nameOf(m.participant_a)} vs ${nameOf(m.participant_b)}`),
      state,
      el("td", {}, el("a", { href: `/matches/${m.id}` }, "Match room")),
    );
  }

  function resultRow(m, last) {
    const titleId = `result-${m.id}-title`;
    const actions = el("td", { class: "row-actions" });
    if (tournament.status === "in_progress") {
      actions.append(
        el(
          "form",
          { method: "post", action: `/tournaments/${tournamentId}/manage/matches/${m.id}/reset` },
          csrfInput(),
          el("button", { type: "submit", class: "secondary", "aria-describedby": titleId }, "Reset"),
        ),
      );
    }
    actions.append(el("a", { href: `/matches/${m.id}` }, "Match room"));
    return el(
      "tr",
      { "data-match": m.id },
      el("th", { scope: "row", "data-label": "Match", id: titleId }, roundLabel(m, last)),
      el("td", { "data-label": "Sides" }, `${nameOf(m.participant_a)} vs ${nameOf(m.participant_b)}`),
      el("td", { "data-label": "Result" }, resultText(m, m.winner, m.scores)),
      actions,
    );
  }

  function participantItem(p, place) {
    const teams = tournament.team_size > 1;
    const node = el(
      "li",
      { "data-participant": p.id, "data-status": p.status },
      el("span", { class: "participant-name" }, p.name),
    );
    if (p.seed) node.append(" ", el("span", { class: "participant-seed" }, `seed ${p.seed}`));
    if (teams && p.members.length) {
      node.append(" ", el("span", { class: "participant-members" }, p.members.map((u) => u.username).join(", ")));
    }
    if (p.status === "waitlisted") {
      node.append(" ", el("span", { class: "tag", "data-status": "waitlisted" }, `waitlisted #${place}`));
    }
    if (p.checked_in && tournament.status === "registration") {
      node.append(" ", el("span", { class: "tag", "data-status": "checked-in" }, "checked in"));
    }
    if (p.status === "refunded") node.append(" ", el("span", { class: "tag", "data-status": "refunded" }, "Refunded"));
    else if (tournament.status === "cancelled") node.append(" ", el("span", { class: "tag", "data-status": "pending" }, "Refund pending"));
    if (p.status === "disqualified") node.append(" ", el("span", { class: "tag", "data-status": "disqualified" }, "Disqualified"));
    else if (tournament.status === "in_progress" && p.status === "registered") node.append(" ", disqualifyForm(p));
    return node;
  }

  /* The same form as manage.html's: a box to tick, then the button (no socket action). */
  function disqualifyForm(p) {
    return el(
      "form",
      {
        class: "disqualify-form",
        method: "post",
        action: `/tournaments/${tournament.id}/manage/participants/${p.id}/disqualify`,
        "data-form": "disqualify",
      },
      csrfInput(),
      el(
        "details",
        {},
        el("summary", {}, "Disqualify"),
        el(
          "p",
          {},
          `${p.name} forfeits its current match at once and every later one as it comes; it takes no place, no prize and no refund. This cannot be undone.`,
        ),
        el("label", {}, el("input", { type: "checkbox", name: "confirm", value: "yes", required: "" }), ` Disqualify ${p.name}`),
        el("button", { type: "submit", class: "danger" }, "Disqualify"),
      ),
    );
  }

  function show(id, shown) {
    const node = $(id);
    if (node) node.hidden = !shown;
  }

  function renderHeader() {
    const status = tournament.status;
    root.dataset.status = status;
    const badge = $("console-status");
    badge.dataset.status = status;
    badge.textContent = data.status_labels[status] || status;
    $("console-meta").textContent = metaLine(enteredCount());
    show("start", status === "registration");
    show("queue", status === "in_progress");
    show("in-play", status === "in_progress");
    show("results", status === "in_progress" || status === "completed");
    show("results-hint", status === "in_progress");
    show("completed", status === "completed");
    show("refunds", status === "cancelled");
    show("cancel", status === "registration" || status === "in_progress");
    $("payouts-text").textContent = tournament.payouts_pending
      ? `; its prizes are being paid (${tournament.payouts_pending} to go)`
      : "";
  }

  /* The entries holding a place: a waitlisted entry waits for one (it is listed, last). */
  function enteredCount() {
    let entered = 0;
    for (const p of participants.values()) if (p.status !== "waitlisted") entered += 1;
    return entered;
  }

  function renderParticipants(arrived) {
    // As the server lists them: by seed, then registration; the waitlist last, in its order.
    const waits = (p) => (p.status === "waitlisted" ? p.waitlist_position : 0);
    const list = Array.from(participants.values()).sort(
      (x, y) => waits(x) - waits(y) || (x.seed ?? Infinity) - (y.seed ?? Infinity) || x.id - y.id,
    );
    // An entry's place in line is counted here: when one ahead of it leaves, the server
    // numbers the line 1, 2, 3... again, and only the leaver's event says so.
    const places = new Map();
    for (const p of list) if (p.status === "waitlisted") places.set(p.id, places.size + 1);
    const container = $("participant-list");
    renderKeyed(
      container,
      list,
      (p) => JSON.stringify([p, places.get(p.id), tournament.status, tournament.team_size]),
      (p) => participantItem(p, places.get(p.id)),
    );
    if (arrived !== undefined) {
      const node = container.querySelector(`li[data-participant="${arrived}"]`);
      if (node) node.classList.add("arrived");
    }
    const entered = enteredCount();
    $("participant-count").textContent =
      tournament.status === "registration" ? `${entered} of ${tournament.max_participants}` : String(entered);
    show("participants-empty", entered === 0);
    $("start-count").textContent = `${entered} registered now.`;
  }

  function renderMatches() {
    const last = lastRounds();
    const queue = [];
    const inPlay = [];
    const results = [];
    for (const m of inBracketOrder(Array.from(matches.values()))) {
      if (isBye(m)) continue;
      if (m.status === "disputed" || isOverdue(m)) queue.push(m);
      else if (m.status === "ready" || m.status === "awaiting_confirmation") inPlay.push(m);
      else if (m.status === "completed") results.push(m);
    }
    overdueIds = queue.filter((m) => m.status !== "disputed").map((m) => m.id).join(",");

    renderKeyed($("queue-list"), queue, (m) => matchKey(m, "queue"), (m, previous) => queueCard(m, last, previous));
    const queueCount = $("queue-count");
    queueCount.textContent = String(queue.length);
    queueCount.dataset.count = String(queue.length);
    show("queue-empty", queue.length === 0);

    renderKeyed($("in-play-rows"), inPlay, (m) => matchKey(m, "play"), (m) => inPlayRow(m, last));
    $("in-play-count").textContent = String(inPlay.length);
    show("in-play-empty", inPlay.length === 0);
    show("in-play-table", inPlay.length > 0);

    renderKeyed($("results-rows"), results, (m) => matchKey(m, "result"), (m) => resultRow(m, last));
    $("results-count").textContent = String(results.length);
    show("results-empty", results.length === 0);
    show("results-table", results.length > 0);
  }

  function renderRefunds() {
    let refunded = 0;
    for (const p of participants.values()) if (p.status === "refunded") refunded += 1;
    const pending = tournament.refunds_pending;
    const total = refunded + pending;
    const text = $("refunds-text");
    text.dataset.pending = String(pending);
    if (!total) text.textContent = "Nobody had registered: there is nothing to refund.";
    else if (pending) text.textContent = `${refunded} of ${total} refunded, ${pending} to go.`;
    else text.textContent = `All ${total} entry fees are refunded.`;
    const bar = $("refunds-progress");
    bar.max = total || 1;
    bar.value = total ? refunded : 1;
    bar.textContent = `${refunded} of ${total}`;
  }

  /* The start plan (#start-plan) in manage.html's words, from the tournament and the
   * participants as they are now (web.views.manage.start_plan counts the same). Whether
   * the start has passed and check-in is open is read on the server's clock, so the plan
   * also changes with time alone: it is drawn again each second, and its nodes replaced
   * only when its words change. */
  function renderStartPlan() {
    const t = tournament;
    let registered = 0;
    let checkedIn = 0;
    let waiting = 0;
    let waitingCheckedIn = 0;
    for (const p of participants.values()) {
      if (p.status === "registered") {
        registered += 1;
        if (p.checked_in) checkedIn += 1;
      } else if (p.status === "waitlisted") {
        waiting += 1;
        if (p.checked_in) waitingCheckedIn += 1;
      }
    }
    const startsAt = t.starts_at === null ? null : Date.parse(t.starts_at);
    const hasCheckIn = t.check_in_opens_minutes > 0;
    // A number is a time, drawn as a <time>; the rest is text.
    const rows = {
      "plan-starts-at": startsAt === null ? ["None set"] : [startsAt, startsAt <= now() ? " (passed)" : ""],
      "plan-auto-start": [
        t.auto_start ? "Automatically at the start time, seeded in order of registration" : "When you press Start",
      ],
      "plan-check-in": ["None"],
      "plan-waitlist": waiting
        ? [
            `${waiting} waiting${hasCheckIn ? ` (${waitingCheckedIn} checked in)` : ""}: ` +
              "they take places that free up; those still waiting at the start are removed.",
          ]
        : ["Nobody waiting"],
    };
    if (hasCheckIn && startsAt !== null) {
      const opens = startsAt - t.check_in_opens_minutes * 60000;
      // As tournaments.services.check_in_is_open: until the start, however late.
      const open = t.status === "registration" && now() >= opens;
      rows["plan-check-in"] = [
        `Opens ${t.check_in_opens_minutes} minutes before the start, at `,
        opens,
        open ? " (open now)" : "",
        `. ${checkedIn} of ${registered} checked in; those not checked in at the start are removed` +
          `${t.entry_fee ? " and refunded" : ""}.`,
      ];
    }
    for (const [id, parts] of Object.entries(rows)) {
      const node = $(id);
      const key = JSON.stringify(parts);
      if (node.dataset.key === key) continue;
      node.dataset.key = key;
      node.replaceChildren(
        ...parts
          .filter((part) => part !== "")
          .map((part) =>
            typeof part === "number" ? el("time", { datetime: new Date(part).toISOString() }, zoneTime(part)) : part,
          ),
      );
    }
  }

  function renderAll(arrived) {
    renderHeader();
    renderParticipants(arrived);
    renderStartPlan();
    renderMatches();
    renderRefunds();
  }

  function announce(text) {
    const region = $("console-announce");
    region.textContent = "";
    // A change of text a moment later is what screen readers announce.
    setTimeout(() => (region.textContent = text), 50);
  }

  // --- Events ------------------------------------------------------------------------------

  function onSnapshot(frame) {
    tournament = frame.tournament;
    setParticipants(frame.participants);
    setMatches(frame.matches);
    renderAll();
  }

  function onEvent(frame) {
    const d = frame.data || {};
    if (d.tournament) tournament = d.tournament;
    let arrived;
    switch (frame.event) {
      case "participant.joined":
        participants.set(d.participant.id, d.participant);
        arrived = d.participant.id;
        announce(`${d.participant.name} registered.`);
        break;
      case "participant.disqualified":
        participants.set(d.participant.id, d.participant);
        announce(`${d.participant.name} was disqualified.`);
        break;
      case "participant.left":
        participants.delete(d.participant.id);
        announce(`${d.participant.name} left.`);
        break;
      case "tournament.started":
        setParticipants(d.participants);
        setMatches(d.matches);
        announce("The tournament has started.");
        break;
      case "match.removed":
        matches.delete(d.match_id);
        break;
      case "refunds.progress":
        for (const id of d.refunded || []) {
          const p = participants.get(id);
          if (p) participants.set(id, { ...p, status: "refunded" });
        }
        announce(`${d.refunds_pending} refunds to go.`);
        break;
      case "tournament.cancelled":
        announce("The tournament is cancelled.");
        break;
      case "tournament.completed":
        announce("The tournament is completed.");
        break;
      default:
        if (d.match) {
          matches.set(d.match.id, d.match);
          if (frame.event === "match.disputed") {
            announce(`${roundLabel(d.match, lastRounds())}: ${nameOf(d.match.participant_a)} vs ${nameOf(d.match.participant_b)} is disputed.`);
          }
        }
        if (d.participant) {
          if (d.participant.status === "left") participants.delete(d.participant.id);
          else participants.set(d.participant.id, d.participant);
        }
    }
    renderAll(arrived);
  }

  // --- Live indicator, deadlines, the cancellation's confirmation ----------------------------

  const indicator = $("console-live");
  let feed = null;

  function onStatus(state, text) {
    indicator.hidden = false;
    indicator.dataset.state = state;
    indicator.querySelector(".label").textContent = text;
  }

  indicator.addEventListener("click", () => feed && feed.reconnectNow());

  // A one-sided report becomes overdue at its deadline without any event, and the start
  // passes and check-in opens at their times: look each second.
  setInterval(() => {
    const overdue = Array.from(matches.values())
      .filter((m) => !isBye(m) && isOverdue(m))
      .map((m) => m.id)
      .join(",");
    if (overdue !== overdueIds) renderMatches();
    renderStartPlan();
  }, 1000);

  const ask = $("cancel-ask");
  const confirmBox = $("cancel-confirm");
  ask.addEventListener("submit", (event) => {
    event.preventDefault();
    ask.hidden = true;
    confirmBox.hidden = false;
    $("cancel-yes").focus();
  });
  $("cancel-keep").addEventListener("click", (event) => {
    if (ask.hidden && !confirmBox.hidden) {
      event.preventDefault();
      confirmBox.hidden = true;
      ask.hidden = false;
      ask.querySelector("button").focus();
    }
  });

  // The server drew every list from this same state: mark its nodes as drawn from it, so
  // that they stay as they are (with any error and input a refused form came back with)
  // until an event changes them.
  (function adoptServerNodes() {
    for (const node of $("queue-list").children) {
      const m = matches.get(Number(node.dataset.match));
      if (m) node.dataset.key = matchKey(m, "queue");
    }
    for (const node of $("in-play-rows").children) {
      const m = matches.get(Number(node.dataset.match));
      if (m) node.dataset.key = matchKey(m, "play");
    }
    for (const node of $("results-rows").children) {
      const m = matches.get(Number(node.dataset.match));
      if (m) node.dataset.key = matchKey(m, "result");
    }
    for (const node of $("participant-list").children) {
      const p = participants.get(Number(node.dataset.participant));
      if (p) node.dataset.key = JSON.stringify([p, tournament.status, tournament.team_size]);
    }
  })();
  renderAll();

  feed = LiveFeed.open({
    path: `/ws/tournaments/${tournamentId}/`,
    resume: true,
    version: Number(root.dataset.version),
    onSnapshot,
    onEvent,
    onStatus,
  });
})();
