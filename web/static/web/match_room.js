/* The match room (/matches/{id}), live: web/views/matches.py renders the match as it is,
 * with every panel its viewer may need (hidden but the current one); this script follows
 * the match socket (/ws/matches/{id}/, through LiveFeed) and redraws the parts that change
 * from each snapshot and event, and sends the forms' results over the socket ("report",
 * and "resolve" for the organizer) instead of posting them.
 *
 * Only the sides' players and the organizer get this script: the socket closes on anyone
 * else (4403), whose page is a read-only view.
 *
 * Without an open socket a form posts as it does without JavaScript (the Django views
 * call the same services), so a person is never stuck behind a dropped connection.
 */
(function () {
  "use strict";

  const data = JSON.parse(document.getElementById("room-data").textContent);
  const viewer = data.viewer;
  const names = new Map(Object.entries(data.participants).map(([id, p]) => [Number(id), p.name]));
  const words = data.error_words;
  const room = document.getElementById("room");
  const liveState = document.getElementById("live-state");
  const flash = document.getElementById("flash");
  // The server's clock minus this one's: the deadline is the server's, so is "now".
  const clockOffset = Date.parse(data.server_now) - Date.now();

  let match = data.match;
  let panelShown = room.dataset.currentPanel || null;
  // The other side's report that the confirm and dispute forms hold (as rendered).
  let confirmKey = reportKey(match.reports.find((r) => r.participant !== mySide()));
  let countdownTimer = null;
  let requests = 0;
  const waiting = new Map(); // request_id -> the form that sent it

  // --- Words ---------------------------------------------------------------------------

  function nameOf(id) {
    return names.get(id) || "A side";
  }

  function resultText(winner, scores) {
    const score = scores ? ` ${scores[0]}–${scores[1]}` : "";
    if (winner === null) return `Draw${score}`;
    return `${nameOf(winner)} won${score}`;
  }

  function gamesText(games) {
    return games.map(([a, b]) => `${a}–${b}`).join(", ");
  }

  /* A report with the games it listed (web.presentation.report_text): the side that
   * confirms a series agrees to its games too. */
  function reportText(report) {
    return resultText(report.winner, report.scores) + (report.games ? `, games ${gamesText(report.games)}` : "");
  }

  function mySide() {
    if (viewer.side === "a") return match.participant_a;
    if (viewer.side === "b") return match.participant_b;
    return null;
  }

  function otherSide(of) {
    return of === match.participant_a ? match.participant_b : match.participant_a;
  }

  function errorText(frame) {
    const known = words[frame.code];
    if (!known) return frame.detail || "That did not work.";
    if (frame.code === "invalid_result" && frame.detail) return `${known} ${frame.detail}`;
    return known;
  }

  function outcomeText(action, m) {
    if (action === "resolve") return `Resolved: ${resultText(m.winner, m.scores)}.`;
    if (m.status === "completed") return `Confirmed: ${resultText(m.winner, m.scores)}.`;
    if (m.status === "disputed") return "Your result differs from the other side's: the organizer decides.";
    return `Reported. Waiting for ${nameOf(otherSide(mySide()))} to confirm.`;
  }

  function say(text) {
    flash.replaceChildren(el("p", {}, text));
  }

  function reportKey(report) {
    return report ? JSON.stringify([report.participant, report.winner, report.scores, report.at]) : null;
  }

  // --- Drawing -------------------------------------------------------------------------

  function el(tag, attributes, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attributes)) node.setAttribute(key, value);
    node.append(...children.filter((child) => child !== null && child !== undefined));
    return node;
  }

  /* Which of a captain's panels applies: web.views.matches.side_panel, the same rules. */
  function sidePanel() {
    if (!viewer.captain) return null;
    if (data.tournament.status !== "in_progress") return "closed";
    if (match.status === "awaiting_confirmation") {
      const mine = mySide();
      return match.reports.some((r) => r.participant === mine) ? "waiting" : "confirm";
    }
    return { pending: "pending", ready: "report", disputed: "disputed", completed: "completed" }[
      match.status
    ];
  }

  function apply(next) {
    const known = (id) => id === null || names.has(id);
    if (!known(next.participant_a) || !known(next.participant_b)) {
      // A side arrived whom this page cannot name: take the page again from the server.
      location.reload();
      return;
    }
    match = next;
    render();
  }

  function render() {
    room.dataset.status = match.status;
    const badge = document.getElementById("match-status");
    badge.dataset.status = match.status;
    badge.textContent = data.status_labels[match.status] || match.status;

    for (const which of ["a", "b"]) {
      const box = room.querySelector(`.versus-side[data-side="${which}"]`);
      const id = match[`participant_${which}`];
      const won = match.status === "completed" && id !== null && match.winner === id;
      box.classList.toggle("winner", won);
      box.querySelector("[data-score]").textContent = match.scores
        ? String(match.scores[which === "a" ? 0 : 1])
        : "";
      box.querySelector("[data-mark]").textContent = won ? "Winner" : "";
    }
    const result = document.getElementById("result");
    result.hidden = match.status !== "completed";
    result.textContent = match.status === "completed" ? resultText(match.winner, match.scores) : "";
    const games = document.querySelector("#series [data-games]"); // a best-of series only
    if (games) {
      games.textContent = match.games ? ` · games ${gamesText(match.games)}` : "";
    }

    renderReports();
    renderCountdown();
    renderSidePanel();
    renderOrganizer();
  }

  function renderReports() {
    const section = document.getElementById("reports");
    section.hidden = match.reports.length === 0;
    const items = match.reports.map((report) => {
      const at = new Date(report.at);
      return el(
        "li",
        { "data-participant": report.participant },
        el("strong", {}, nameOf(report.participant)),
        ` reported: ${reportText(report)} `,
        el("time", { datetime: report.at }, `at ${at.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" })}`)
      );
    });
    document.getElementById("report-list").replaceChildren(...items);
  }

  /* A one-sided report is confirmed as reported when the other side lets the deadline
   * pass (matches.tasks.matches_confirm_overdue, every minute): count down to it. */
  function renderCountdown() {
    clearInterval(countdownTimer);
    const line = document.getElementById("countdown");
    const only = match.status === "awaiting_confirmation" && match.reports.length === 1 ? match.reports[0] : null;
    if (only === null) {
      line.hidden = true;
      line.removeAttribute("data-deadline");
      return;
    }
    const deadline = Date.parse(only.at) + data.confirmation_seconds * 1000;
    line.hidden = false;
    line.dataset.deadline = new Date(deadline).toISOString();
    // web.views.matches.deadline_words, the same words.
    const mine = mySide();
    const other = otherSide(only.participant);
    const whose = only.participant === mine ? "Your report" : `${nameOf(only.participant)}’s report`;
    const unless = other === mine ? "you confirm or dispute it" : `${nameOf(other)} confirms or disputes it`;
    const tick = () => {
      const left = deadline - (Date.now() + clockOffset);
      if (left <= 0) {
        // The sweep (every minute) confirms it; its event then redraws the room.
        line.textContent = `The time to answer is up: ${whose.replace(/^Your/, "your")} is confirmed within a minute.`;
        clearInterval(countdownTimer);
        return;
      }
      const seconds = Math.ceil(left / 1000);
      const clock = `${Math.floor(seconds / 60)}:${String(seconds % 60).padStart(2, "0")}`;
      line.replaceChildren(
        `${whose} is confirmed automatically in `,
        el("strong", { class: "clock" }, clock),
        ` unless ${unless} first.`
      );
    };
    tick();
    countdownTimer = setInterval(tick, 1000);
  }

  function renderSidePanel() {
    const panel = sidePanel();
    if (panel === null) return;
    room.dataset.currentPanel = panel;
    for (const box of room.querySelectorAll("#side-actions [data-panel]")) {
      box.hidden = box.dataset.panel !== panel;
    }
    if (panel === "confirm") fillConfirm();
    if (panel !== panelShown) {
      clearErrors(room.querySelector(`#side-actions [data-panel="${panel}"]`));
      const firstField = room.querySelector(`#side-actions [data-panel="${panel}"] input:not([type=hidden]), #side-actions [data-panel="${panel}"] button`);
      // Keep the keyboard where the action now is, when it was in the panel that went.
      if (firstField && room.querySelector("#side-actions").contains(document.activeElement)) firstField.focus();
    }
    panelShown = panel;
  }

  /* The other side's report arrived: the confirm form carries it, the dispute form starts
   * from it. Filled once per report, so that a person's edits are not undone. */
  function fillConfirm() {
    const mine = mySide();
    const theirs = match.reports.find((r) => r.participant !== mine);
    if (!theirs) return;
    const key = reportKey(theirs);
    if (key === confirmKey) return;
    confirmKey = key;
    room.querySelector("[data-other-name]").textContent = nameOf(theirs.participant);
    room.querySelector("[data-other-result]").textContent = reportText(theirs);
    const winner = theirs.winner === null ? "draw" : String(theirs.winner);
    const [a, b] = theirs.scores || ["", ""];
    const confirm = room.querySelector('form[data-form="confirm"]');
    confirm.elements["confirm-winner"].value = winner;
    confirm.elements["confirm-score_a"].value = a;
    confirm.elements["confirm-score_b"].value = b;
    const dispute = room.querySelector('form[data-form="dispute"]');
    for (const radio of dispute.querySelectorAll('input[name="dispute-winner"]')) {
      radio.checked = radio.value === winner;
    }
    dispute.elements["dispute-score_a"].value = a;
    dispute.elements["dispute-score_b"].value = b;
  }

  function renderOrganizer() {
    const section = document.getElementById("organizer-actions");
    if (!section) return;
    const open = match.status !== "pending";
    section.querySelector('[data-organizer-action="resolve"]').hidden = !open;
    section.querySelector('[data-organizer-action="reset"]').hidden = !open || match.status === "ready";
    for (const hint of section.querySelectorAll("[data-organizer-hint]")) {
      hint.hidden = hint.dataset.organizerHint !== match.status;
    }
  }

  // --- Actions over the socket ---------------------------------------------------------

  function clearErrors(scope) {
    if (!scope) return;
    for (const box of scope.querySelectorAll("[data-errors]")) box.replaceChildren();
    for (const line of scope.querySelectorAll(".field-error")) line.remove();
  }

  function showError(form, text) {
    form.querySelector("[data-errors]").replaceChildren(el("p", {}, text));
  }

  /* The result a form holds, checked as web.forms_matches.ResultForm checks it before
   * anything is sent; the service checks it again (invalid_result, in words). */
  function resultOf(form) {
    const prefix = form.dataset.form;
    const fields = form.elements;
    const winnerField = form.querySelector(
      `input[type=radio][name="${prefix}-winner"]:checked, input[type=hidden][name="${prefix}-winner"]`
    );
    const winner = winnerField ? winnerField.value : "";
    if (!winner) return { error: "Choose the winner." };
    const a = fields[`${prefix}-score_a`].value.trim();
    const b = fields[`${prefix}-score_b`].value.trim();
    if ((a === "") !== (b === "")) return { error: "Give both scores, or leave both empty." };
    const scores = a === "" ? null : [Number(a), Number(b)];
    if (scores && !scores.every((n) => Number.isInteger(n) && n >= 0)) {
      return { error: "Scores are whole numbers, 0 or more." };
    }
    const result = { winner: winner === "draw" ? null : Number(winner), scores };
    // A best-of series may list its games, "3-1, 0-2" (web.forms_matches reads them alike).
    const gamesField = fields[`${prefix}-games`];
    if (gamesField && gamesField.value.trim() !== "") {
      const games = gamesField.value.split(",").map((part) => part.match(/^\s*(\d{1,7})\s*[-–:]\s*(\d{1,7})\s*$/));
      if (games.some((found) => !found)) return { error: "Write the games' scores like 3-1, 0-2, 5-4." };
      result.games = games.map((found) => [Number(found[1]), Number(found[2])]);
    }
    if (prefix === "dispute") {
      const theirs = match.reports.find((r) => r.participant !== mySide());
      const sameScores = !scores || !theirs?.scores || scores.join() === theirs.scores.join();
      if (theirs && theirs.winner === result.winner && sameScores) {
        return {
          error:
            "That is the result the other side reported: press “Confirm” to agree with it, or change the winner or the scores to dispute it.",
        };
      }
    }
    return result;
  }

  function submit(event) {
    const form = event.target.closest("form[data-socket-action]");
    if (!form || !room.contains(form)) return;
    const result = resultOf(form);
    event.preventDefault();
    clearErrors(form);
    if (result.error) {
      showError(form, result.error);
      return;
    }
    const requestId = `r${++requests}`;
    const sent = feed.send({
      action: form.dataset.socketAction,
      winner: result.winner,
      scores: result.scores,
      ...(result.games ? { games: result.games } : {}),
      request_id: requestId,
    });
    if (!sent) {
      form.submit(); // no open socket: post it as the page does without JavaScript
      return;
    }
    waiting.set(requestId, form);
    setBusy(form, true);
  }

  function setBusy(form, busy) {
    for (const button of form.querySelectorAll("button")) button.disabled = busy;
    form.setAttribute("aria-busy", busy ? "true" : "false");
  }

  function onReply(frame) {
    const form = waiting.get(frame.request_id);
    if (!form) return;
    waiting.delete(frame.request_id);
    setBusy(form, false);
    if (frame.ok) {
      say(outcomeText(form.dataset.socketAction, frame.match));
      if (form.dataset.form === "resolve") form.reset();
      apply(frame.match);
    } else {
      showError(form, errorText(frame));
    }
  }

  /* A connection that drops with actions unanswered cannot say whether they were done:
   * the snapshot of the next connection shows what the match is. */
  function dropUnanswered() {
    for (const form of waiting.values()) {
      setBusy(form, false);
      showError(form, "The connection dropped before an answer came: check the match above before trying again.");
    }
    waiting.clear();
  }

  function onStatus(state, text) {
    liveState.hidden = false;
    liveState.dataset.state = state;
    liveState.textContent = state === "forbidden" ? "Not following this match" : text;
    if (state !== "live" && state !== "connecting") dropUnanswered();
  }

  room.addEventListener("submit", submit);
  const feed = LiveFeed.open({
    path: `/ws/matches/${match.id}/`,
    resume: false,
    onSnapshot: (frame) => apply(frame.match),
    onEvent: (frame) => {
      if (frame.data && frame.data.match && frame.data.match.id === match.id) apply(frame.data.match);
    },
    onReply,
    onStatus,
  });
  render(); // local times, the countdown's clock
})();
