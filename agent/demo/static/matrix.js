// The view matrix: one row per observer, one column per member, each cell the observer's
// belief. Up to MAX_CELLS_MEMBERS members every cell is a table cell with data attributes
// (the page's DOM contract); past that, a heat map on a canvas with a per-observer summary.

export const MAX_CELL_MEMBERS = 32;
const LETTERS = { alive: "A", suspect: "S", leaving: "G", left: "L", failed: "F", none: "·" };
const COLOURS = {
  alive: [46, 125, 50], suspect: [249, 168, 37], leaving: [142, 107, 191],
  left: [109, 109, 109], failed: [198, 40, 40], none: [224, 224, 224],
};

// Whether a belief contradicts what is really happening to the member.
export function disagrees(status, truth) {
  if (truth === "running" || truth === "paused") return status !== "alive";
  if (truth === "killed") return status === "alive" || status === "suspect";
  if (truth === "left") return status !== "left" && status !== "leaving" && status !== "none";
  return false;
}

export class Matrix {
  constructor(root) {
    this.root = root;
    this.members = [];
    this.status = [];   // [observer][member] status word
    this.inc = [];      // [observer][member] incarnation
    this.truth = new Map();
    this.cells = null;  // [observer][member] <td> when drawn as a table
    this.dirty = new Set();
  }

  load(state) {
    const codes = state.codes;
    this.members = state.members;
    this.status = state.matrix.map((row) => Array.from(row.status, (c) => codes[c]));
    this.inc = state.matrix.map((row) => row.inc.slice());
    this.codes = codes;
    for (const node of state.nodes) this.truth.set(node.name, node.truth);
    this.render();
  }

  setTruth(node) {
    const old = this.truth.get(node.name);
    this.truth.set(node.name, node.truth);
    if (old !== node.truth) {
      const m = this.members.indexOf(node.name);
      if (m >= 0) {
        for (let o = 0; o < this.members.length; o++) this.dirty.add(o * this.members.length + m);
        if (this.cells) this.rowState(m);
      }
    }
  }

  apply(cells) {
    const n = this.members.length;
    for (const [o, m, code, inc] of cells) {
      this.status[o][m] = this.codes[code];
      this.inc[o][m] = inc;
      this.dirty.add(o * n + m);
    }
  }

  flush() {
    if (!this.dirty.size) return;
    const n = this.members.length;
    if (this.cells) {
      for (const key of this.dirty) this.paintCell(Math.floor(key / n), key % n);
    } else {
      this.paintHeat();
    }
    this.dirty.clear();
  }

  render() {
    this.root.textContent = "";
    this.dirty.clear();
    if (this.members.length <= MAX_CELL_MEMBERS) this.renderTable();
    else this.renderHeat();
  }

  renderTable() {
    const table = document.createElement("table");
    table.className = "matrix";
    const head = table.createTHead().insertRow();
    head.appendChild(document.createElement("th"));
    for (const name of this.members) {
      const th = document.createElement("th");
      th.className = "col";
      th.textContent = name;
      th.scope = "col";
      head.appendChild(th);
    }
    const body = table.createTBody();
    this.leaderShown = undefined;
    this.cells = [];
    this.rows = [];
    this.members.forEach((observer, o) => {
      const tr = body.insertRow();
      tr.dataset.observerRow = observer;
      const th = document.createElement("th");
      th.textContent = observer;
      th.scope = "row";
      tr.appendChild(th);
      const row = [];
      this.members.forEach((member, m) => {
        const td = tr.insertCell();
        td.dataset.observer = observer;
        td.dataset.member = member;
        if (o === m) td.classList.add("self");
        row.push(td);
      });
      this.cells.push(row);
      this.rows.push(tr);
      this.rowState(o);
    });
    this.root.appendChild(table);
    for (let o = 0; o < this.members.length; o++) {
      for (let m = 0; m < this.members.length; m++) this.paintCell(o, m);
    }
  }

  rowState(o) {
    if (!this.rows || !this.rows[o]) return;
    const truth = this.truth.get(this.members[o]);
    this.rows[o].classList.toggle("dead-observer", truth === "killed");
  }

  // The raft leader's row and column headers carry a star.
  setLeader(name) {
    if (!this.rows || this.leaderShown === name) return;
    this.leaderShown = name;
    this.root.querySelectorAll("th").forEach((th) => {
      const base = th.dataset.name || th.textContent;
      th.dataset.name = base;
      th.textContent = base === name ? `${base}★` : base;
    });
  }

  paintCell(o, m) {
    const td = this.cells[o][m];
    const status = this.status[o][m];
    const inc = this.inc[o][m];
    const wrong = disagrees(status, this.truth.get(this.members[m]));
    td.className = `st-${status}` + (wrong ? " wrong" : "") + (o === m ? " self" : "");
    td.dataset.status = status;
    td.dataset.wrong = wrong ? "true" : "false";
    td.title = `${this.members[o]} believes ${this.members[m]} is ${status}` +
      (status === "none" ? "" : ` (incarnation ${inc})`) + (wrong ? " — not the truth" : "");
    td.textContent = LETTERS[status];
    if (status !== "none") {
      const sub = document.createElement("sub");
      sub.textContent = String(inc);
      td.appendChild(sub);
    }
  }

  renderHeat() {
    this.cells = null;
    this.rows = null;
    const n = this.members.length;
    const wrap = document.createElement("div");
    const canvas = document.createElement("canvas");
    canvas.id = "heatmap";
    canvas.width = n;
    canvas.height = n;
    const scale = Math.max(1, Math.floor(640 / n));
    canvas.style.width = `${n * scale}px`;
    canvas.style.height = `${n * scale}px`;
    canvas.title = "row: observer, column: member; hover for details";
    canvas.addEventListener("mousemove", (ev) => {
      const rect = canvas.getBoundingClientRect();
      const m = Math.floor(((ev.clientX - rect.left) / rect.width) * n);
      const o = Math.floor(((ev.clientY - rect.top) / rect.height) * n);
      if (o >= 0 && o < n && m >= 0 && m < n) {
        canvas.title = `${this.members[o]} believes ${this.members[m]} is ${this.status[o][m]}` +
          ` (incarnation ${this.inc[o][m]})`;
      }
    });
    const note = document.createElement("p");
    note.className = "legend";
    note.textContent = `${n} members: a dense heat map (one pixel per belief); ` +
      "observers whose views disagree with the truth are listed below.";
    this.summary = document.createElement("div");
    this.summary.id = "summary";
    wrap.append(note, canvas, this.summary);
    this.root.appendChild(wrap);
    this.canvas = canvas;
    this.context = canvas.getContext("2d");
    this.image = this.context.createImageData(n, n);
    this.paintHeat();
  }

  paintHeat() {
    const n = this.members.length;
    const data = this.image.data;
    const rows = [];
    for (let o = 0; o < n; o++) {
      const counts = { alive: 0, suspect: 0, failed: 0, left: 0, leaving: 0, none: 0, wrong: 0 };
      const statuses = this.status[o];
      for (let m = 0; m < n; m++) {
        const status = statuses[m];
        const wrong = disagrees(status, this.truth.get(this.members[m]));
        counts[status]++;
        if (wrong) counts.wrong++;
        const [r, g, b] = COLOURS[status];
        const i = (o * n + m) * 4;
        const dim = wrong ? 1 : 0.55;
        data[i] = wrong ? r : 255 - (255 - r) * dim;
        data[i + 1] = wrong ? g : 255 - (255 - g) * dim;
        data[i + 2] = wrong ? b : 255 - (255 - b) * dim;
        data[i + 3] = 255;
      }
      rows.push([this.members[o], counts]);
    }
    this.context.putImageData(this.image, 0, 0);
    rows.sort((a, b) => b[1].wrong - a[1].wrong);
    const shown = rows.filter((r) => r[1].wrong > 0).slice(0, 40);
    const table = document.createElement("table");
    table.innerHTML = "<thead><tr><th>observer</th><th>A</th><th>S</th><th>F</th><th>G</th>" +
      "<th>L</th><th>·</th><th>wrong</th></tr></thead>";
    const body = table.createTBody();
    for (const [name, c] of shown) {
      const tr = body.insertRow();
      tr.dataset.summaryObserver = name;
      for (const v of [name, c.alive, c.suspect, c.failed, c.leaving, c.left, c.none, c.wrong]) {
        tr.insertCell().textContent = String(v);
      }
    }
    this.summary.textContent = "";
    const caption = document.createElement("p");
    caption.textContent = shown.length
      ? `${rows.filter((r) => r[1].wrong > 0).length} of ${n} observers disagree with the truth somewhere:`
      : `All ${n} observers agree with the truth.`;
    this.summary.append(caption, table);
  }
}
