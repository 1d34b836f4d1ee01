// The demo page: one server-sent event stream (`/v1/sim/events`) feeds the view matrix, the
// truth table, the timeline and the packets; every button posts to the control API
// (`/v1/sim/...`). Nothing is fetched from anywhere but this demo's own address.

import { Matrix } from "/ui/matrix.js";
import { Packets } from "/ui/network.js";

const $ = (id) => document.getElementById(id);
const TIMELINE_SHOWN = 300;

const matrix = new Matrix($("matrix"));
const packets = new Packets($("packets"), $("packets-note"));
const truthRows = new Map();
let nodes = [];
let seed = null;
let scenario = "";

function say(text, error = false) {
  const box = $("message");
  box.textContent = text;
  box.style.color = error ? "#8a1c1c" : "#1b5e20";
}

async function post(path, body) {
  const init = { method: "POST", headers: {} };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  try {
    const response = await fetch(path, init);
    const answer = await response.json();
    if (!response.ok) {
      say(answer.error || `HTTP ${response.status}`, true);
      return null;
    }
    say(answer.message);
    return answer;
  } catch (err) {
    say(`request failed: ${err}`, true);
    return null;
  }
}

function setClock(clock) {
  $("now").textContent = `${clock.now.toFixed(2)} s`;
  $("speed").textContent = `${clock.speed}×` + (clock.lag > 0.05 ? ` (behind by ${clock.lag.toFixed(2)} s)` : "");
  $("clockstate").textContent = clock.paused ? "paused" : "running";
  $("play").textContent = clock.paused ? "play" : "pause";
  $("play").dataset.paused = String(clock.paused);
  $("leader").textContent = clock.leader ? `${clock.leader} (term ${clock.term})` : `none (term ${clock.term})`;
  matrix.setLeader(clock.leader);
  if (document.activeElement !== $("speed-input")) $("speed-input").value = clock.speed;
  if (document.activeElement !== $("loss")) $("loss").value = Math.round(clock.loss * 100);
  if (document.activeElement !== $("latency")) $("latency").value = clock.latency_ms;
  packets.draw(clock.now);
}

function button(label, action, node, handler) {
  const b = document.createElement("button");
  b.type = "button";
  b.textContent = label;
  b.dataset.action = action;
  b.dataset.node = node;
  b.addEventListener("click", handler);
  return b;
}

function buildTruth(list) {
  const body = $("truth").tBodies[0];
  body.textContent = "";
  truthRows.clear();
  const by = $("force-by");
  by.textContent = "";
  for (const node of list) {
    if (node.member) by.add(new Option(node.name, node.name));
    const tr = body.insertRow();
    tr.dataset.node = node.name;
    const name = tr.insertCell();
    const truth = tr.insertCell();
    truth.dataset.node = node.name;
    truth.className = "truth";
    const health = tr.insertCell();
    const raft = tr.insertCell();
    const side = tr.insertCell();
    const pick = document.createElement("select");
    pick.className = "side-pick";
    pick.dataset.node = node.name;
    for (const [value, label] of [["", "–"], ["0", "A"], ["1", "B"], ["2", "C"]]) {
      pick.add(new Option(label, value));
    }
    side.append(pick);
    const actions = tr.insertCell();
    const n = node.name;
    actions.append(
      button("kill", "kill", n, () => post(`/v1/sim/nodes/${n}/kill`)),
      button("restart", "restart", n, () => post(`/v1/sim/nodes/${n}/restart`)),
      button("pause", "pause", n, () => post(`/v1/sim/nodes/${n}/pause?seconds=${$("pause-seconds").value}`)),
    );
    if (node.member) {
      actions.append(
        button("leave", "leave", n, () => post(`/v1/sim/nodes/${n}/leave`)),
        button("force-leave", "force-leave", n, () =>
          post(`/v1/sim/force-leave?by=${encodeURIComponent($("force-by").value)}` +
            `&node=${n}&prune=${$("force-prune").checked}`)),
      );
    }
    truthRows.set(node.name, { tr, name, truth, health, raft, pick });
    setTruth(node);
  }
}

function setTruth(node) {
  const row = truthRows.get(node.name);
  if (!row) return;
  row.name.textContent = "";
  const strong = document.createElement("strong");
  strong.textContent = node.name;
  row.name.append(strong, ` ${node.kind}`);
  if (node.leader) {
    const star = document.createElement("span");
    star.className = "leader-mark";
    star.textContent = " ★ leader";
    star.dataset.leader = node.name;
    row.name.append(star);
  }
  if (node.url) {
    const link = document.createElement("a");
    link.href = `${node.url}/v1/agent/members?pretty`;
    link.textContent = " api";
    link.title = `${node.name}'s own Nomad agent API`;
    row.name.append(link);
  }
  row.truth.dataset.truth = node.truth;
  row.truth.className = `truth truth-${node.truth}`;
  let text = node.truth;
  if (node.partition !== null) text += ` · side ${"ABC"[node.partition] || node.partition}`;
  if (node.registered !== null) text += node.registered ? " · registered" : " · unregistered";
  row.truth.textContent = text;
  row.health.textContent = node.health === null ? "" : String(node.health);
  row.health.title = "Lifeguard health score (0 is healthy)";
  row.raft.textContent = node.raft && node.truth !== "killed" ? `${node.raft.state} t${node.raft.term}` : "";
  matrix.setTruth(node);
  packets.setTruth(node);
}

function addEvents(events, replace = false) {
  const list = $("timeline");
  if (replace) list.textContent = "";
  for (const event of events) {
    const li = document.createElement("li");
    li.className = `k-${event.kind}`;
    li.dataset.seq = event.seq;
    li.dataset.kind = event.kind;
    const time = document.createElement("time");
    time.textContent = `${event.at.toFixed(2)} s`;
    li.append(time, " ", event.text);
    list.prepend(li);
  }
  while (list.childElementCount > TIMELINE_SHOWN) list.lastElementChild.remove();
}

function loadState(state) {
  seed = state.seed;
  scenario = state.scenario ? state.scenario.name : "";
  nodes = state.nodes;
  $("seed").textContent = String(seed);
  $("profile").textContent = state.profile;
  $("scenario-name").textContent = scenario || "(none)";
  if (document.activeElement !== $("seed-input")) $("seed-input").value = seed;
  $("scenario-select").value = scenario;
  const explain = $("explain");
  explain.hidden = !state.scenario;
  if (state.scenario) {
    $("scenario-title").textContent = state.scenario.title +
      (state.scenario.lifeguard ? "" : " (Lifeguard off on gossip-only nodes)");
    $("scenario-text").textContent = state.scenario.explanation;
  }
  const url = `/ui?seed=${seed}` + (scenario ? `&scenario=${encodeURIComponent(scenario)}` : "");
  $("permalink").href = `${url}&replay=1`; // opening it starts the run over from its seed
  history.replaceState(null, "", url);
  matrix.load(state);
  packets.load(state);
  buildTruth(nodes);
  addEvents(state.timeline, true);
  setClock(state.clock);
  document.body.dataset.ready = "true";
}

function applyDelta(delta) {
  if (delta.cells) matrix.apply(delta.cells);
  if (delta.nodes) for (const node of delta.nodes) setTruth(node);
  if (delta.events) addEvents(delta.events);
  if (delta.packets) packets.add(delta.packets);
  matrix.flush();
  if (delta.clock) setClock(delta.clock);
  document.body.dataset.updates = String(Number(document.body.dataset.updates || 0) + 1);
}

function wire() {
  $("play").addEventListener("click", () =>
    post($("play").dataset.paused === "true" ? "/v1/sim/play" : "/v1/sim/pause"));
  $("step").addEventListener("click", () => post(`/v1/sim/step?seconds=${$("step-seconds").value}`));
  $("set-speed").addEventListener("click", () => post(`/v1/sim/speed?x=${$("speed-input").value}`));
  $("reset").addEventListener("click", () => {
    const s = $("seed-input").value;
    const sc = $("scenario-select").value;
    say("building a fresh cluster…");
    post(`/v1/sim/reset?seed=${encodeURIComponent(s)}&scenario=${encodeURIComponent(sc)}`);
  });
  $("heal").addEventListener("click", () => post("/v1/sim/heal"));
  $("partition").addEventListener("click", () => {
    const groups = [[], [], []];
    for (const [name, row] of truthRows) {
      if (row.pick.value !== "") groups[Number(row.pick.value)].push(name);
    }
    post("/v1/sim/partition", { groups: groups.filter((g) => g.length) });
  });
  $("set-network").addEventListener("click", async () => {
    const rate = Number($("loss").value) / 100;
    if (await post(`/v1/sim/loss?rate=${rate}`)) post(`/v1/sim/latency?ms=${$("latency").value}`);
  });
}

async function loadScenarios() {
  const response = await fetch("/v1/sim/scenarios");
  const list = await response.json();
  const select = $("scenario-select");
  for (const s of list) select.add(new Option(`${s.name} (${s.speed}×)`, s.name));
  select.value = scenario;
}

async function start() {
  wire();
  await loadScenarios();
  const params = new URLSearchParams(location.search);
  const wantSeed = params.get("seed");
  const wantScenario = params.get("scenario") || "";
  const first = await (await fetch("/v1/sim/state")).json();
  const replay = params.get("replay") === "1";
  if (wantSeed !== null && (replay || String(first.seed) !== wantSeed ||
      (first.scenario ? first.scenario.name : "") !== wantScenario)) {
    say("reproducing the run in the link…");
    await post(`/v1/sim/reset?seed=${encodeURIComponent(wantSeed)}&scenario=${encodeURIComponent(wantScenario)}`);
  }
  const events = new EventSource("/v1/sim/events");
  events.addEventListener("state", (ev) => loadState(JSON.parse(ev.data)));
  events.addEventListener("delta", (ev) => applyDelta(JSON.parse(ev.data)));
  events.onerror = () => say("lost the connection to the demo; retrying…", true);
}

start();
