// Packets in flight, drawn between nodes on a ring (clusters up to 10 nodes): each packet is
// a line from sender to receiver for a short stretch of virtual time after it was sent; a
// dropped packet is a dashed red line ending in a cross.

const SVG = "http://www.w3.org/2000/svg";
const SHOWN_FOR = 0.35; // virtual seconds a packet stays drawn
const KEPT = 200;
const COLOURS = {
  ping: "#1565c0", ack: "#2e7d32", "ping-req": "#6a1b9a", nack: "#ad1457", "push-pull": "#ef6c00",
  gossip: "#00838f", suspect: "#f9a825", alive: "#43a047", dead: "#c62828", serf: "#5d4037",
  raft: "#b8860b",
};

function el(name, attrs) {
  const node = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  return node;
}

export class Packets {
  constructor(svg, note) {
    this.svg = svg;
    this.note = note;
    this.places = new Map();
    this.packets = [];
    this.enabled = false;
  }

  load(state) {
    this.enabled = state.packets_shown;
    this.svg.textContent = "";
    this.packets = [];
    this.svg.closest("#packets-box").hidden = !this.enabled;
    if (!this.enabled) return;
    this.note.textContent = "(lines last " + SHOWN_FOR + " virtual s; dashed red: dropped)";
    const names = state.nodes.map((n) => n.name);
    this.lines = el("g", {});
    this.svg.appendChild(this.lines);
    names.forEach((name, i) => {
      const angle = (2 * Math.PI * i) / names.length - Math.PI / 2;
      const x = Math.cos(angle) * 120;
      const y = Math.sin(angle) * 120;
      this.places.set(name, [x, y]);
      const g = el("g", { class: "node", "data-packet-node": name });
      g.append(el("circle", { cx: x, cy: y, r: 17 }));
      const label = el("text", { x, y });
      label.textContent = name;
      g.append(label);
      this.svg.appendChild(g);
    });
    this.add(state.packets);
  }

  setTruth(node) {
    const g = this.svg.querySelector(`[data-packet-node="${node.name}"]`);
    if (g) g.classList.toggle("killed", node.truth === "killed");
  }

  add(packets) {
    if (!this.enabled || !packets) return;
    this.packets.push(...packets);
    if (this.packets.length > KEPT) this.packets.splice(0, this.packets.length - KEPT);
  }

  draw(now) {
    if (!this.enabled) return;
    this.lines.textContent = "";
    const recent = this.packets.filter((p) => now - p.at <= SHOWN_FOR);
    for (const p of recent) {
      const a = this.places.get(p.src);
      const b = this.places.get(p.dst);
      if (!a || !b) continue;
      const t = Math.min(1, Math.max(0.15, (now - p.at) / SHOWN_FOR));
      const x = a[0] + (b[0] - a[0]) * (p.dropped ? Math.min(t, 0.5) : t);
      const y = a[1] + (b[1] - a[1]) * (p.dropped ? Math.min(t, 0.5) : t);
      const colour = COLOURS[p.kind] || "#555";
      const line = el("line", { x1: a[0], y1: a[1], x2: x, y2: y, stroke: colour,
        class: "pkt" + (p.dropped ? " dropped" : ""), "data-kind": p.kind });
      const title = el("title", {});
      title.textContent = `${p.kind} ${p.src} → ${p.dst}` + (p.dropped ? " (dropped)" : "");
      line.append(title);
      this.lines.append(line);
      if (p.dropped) {
        const cross = el("text", { x, y, fill: "#c62828" });
        cross.textContent = "✕";
        this.lines.append(cross);
      } else {
        this.lines.append(el("circle", { cx: x, cy: y, r: 3, fill: colour }));
      }
    }
  }
}
