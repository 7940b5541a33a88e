// The studio's main module: the shared view of the switch (admin.state, admin.clock), the family,
// time and wire panels, and the keyboard. Updates come from the events stream, then a fresh read.
import { admin, events, onWire } from "/studio/api.js";
import { $, h, mmss } from "/studio/dom.js";
import { setupPhone } from "/studio/phone.js";
import { setupStories } from "/studio/stories.js";
import { setupTills } from "/studio/tills.js";

const RLTN = { child: "子女 child", spouse: "配偶 spouse", parent: "父母 parent", spouse_parent: "配偶父母 in-law" };

const ctx = {
  demo: null,
  state: { people: [], bindings: [], windows: [] },
  clock: { base: Date.now(), at: performance.now(), speed: 0 },
  expired: [],          // windows seen to close on their own: shown for a while as expired
  listeners: [],        // render functions called after every read of the state
  now() { return this.clock.base + (performance.now() - this.clock.at) * this.clock.speed; },
  person(psnNo) { return this.state.people.find((p) => p.psn_no === psnNo); },
  name(psnNo) { return this.person(psnNo)?.psn_name ?? psnNo; },
  tillOf(code) { return this.demo.tills.find((t) => t.fixmedins_code === code); },
  onState(listener) { this.listeners.push(listener); },
  refresh,
  setClock(output) {
    if (!output || !output.now) return;
    this.clock = { base: Date.parse(output.now), at: performance.now(), speed: Number(output.speed ?? 0) };
    $("#clock-speed").value = String(this.clock.speed);
  },
};

let refreshing = null;
let again = false;

// One read at a time; events arriving meanwhile ask for one more read after it.
// One read at a time; a call during it asks for one more read after it. The last check of `again` and
// the end of `refreshing` happen in one step: a call in between would otherwise be promised a read that
// had already ended (a cap set just then was never shown).
async function refresh() {
  if (refreshing) { again = true; return refreshing; }
  refreshing = (async () => {
    try {
      do {
        again = false;
        const [state, clock] = await Promise.all([admin("admin.state", {}, true), admin("admin.clock", {}, true)]);
        if (state.code === "OK") ctx.state = state.output;
        if (clock.code === "OK") ctx.setClock(clock.output);
        ctx.listeners.forEach((listener) => listener());
      } while (again);
    } finally {
      refreshing = null;
    }
  })();
  return refreshing;
}

function renderFamily() {
  const { people, bindings } = ctx.state;
  const root = $("#family");
  root.replaceChildren();
  if (!people.length) {
    root.append(h("p", { class: "hint" }, "尚无参保人 — no one loaded: press “Load demo families”."));
    return;
  }
  const relatives = new Set(bindings.map((b) => b.relative_psn_no));
  for (const holder of people.filter((p) => !relatives.has(p.psn_no))) {
    const own = bindings.filter((b) => b.holder_psn_no === holder.psn_no);
    const rows = own.map((b) => {
      const p = ctx.person(b.relative_psn_no) ?? { psn_name: b.relative_psn_no, balc: "" };
      return h("tr", { "data-relative": b.relative_psn_no },
        h("td", {}, p.psn_name, h("small", {}, ` ${b.relative_psn_no}`)), h("td", {}, RLTN[b.rltn] ?? b.rltn),
        h("td", { class: "num", "data-balance": b.relative_psn_no }, p.balc),
        h("td", { class: "num" }, b.cap ?? "—"), h("td", { class: "num", "data-used": b.relative_psn_no }, b.used));
    });
    root.append(h("div", { class: "family", "data-holder": holder.psn_no },
      h("div", { class: "holder" }, own.length ? "户主 holder " : "", h("b", {}, holder.psn_name),
        h("small", {}, ` ${holder.psn_no} · ${holder.insuplc_admdvs}`),
        h("span", { class: "balance" }, "余额 ", h("b", { "data-balance": holder.psn_no }, holder.balc))),
      rows.length ? h("table", {}, h("thead", {}, h("tr", {}, h("th", {}, "亲属 relative"), h("th", {}, "关系 rltn"),
        h("th", { class: "num" }, "余额 balc"), h("th", { class: "num" }, "限额 cap"),
        h("th", { class: "num" }, "已用 used"))), h("tbody", {}, rows)) : null));
  }
}

function renderClockAndWindows() {
  const now = ctx.now();
  const shown = new Date(now + 8 * 3600 * 1000).toISOString();  // China time, as the switch speaks it
  $("#clock-now").textContent = `${shown.slice(0, 10)} ${shown.slice(11, 19)}`;
  const list = $("#windows");
  const items = ctx.state.windows.map((w) => {
    const left = Date.parse(w.expires_at) - now;
    return h("li", { class: left <= 0 ? "window expired" : "window", "data-window": w.psn_no },
      `${ctx.name(w.psn_no)} @ ${ctx.tillOf(w.fixmedins_code)?.name ?? w.fixmedins_code} → ${ctx.name(w.holder_psn_no)} `,
      h("b", { class: "remaining" }, left <= 0 ? "已过期 expired" : mmss(left)));
  });
  const recent = ctx.expired.filter((w) => performance.now() - w.seenAt < 15000);
  ctx.expired = recent;
  for (const w of recent) {
    items.push(h("li", { class: "window expired", "data-expired": w.psn_no },
      `${ctx.name(w.psn_no)} @ ${ctx.tillOf(w.fixmedins_code)?.name ?? w.fixmedins_code} `,
      h("b", {}, "窗口已过期 window expired")));
  }
  list.replaceChildren(...(items.length ? items : [h("li", { class: "hint" }, "没有打开的窗口 no open window")]));
}

function logEvent(event) {
  const d = event.data ?? {};
  if (event.type === "window.expired") ctx.expired.push({ ...d, seenAt: performance.now() });
  const amount = d.acct_mulaid_pay ? ` 共济 ${d.acct_mulaid_pay}` : d.medfee_sumamt ? ` ${d.medfee_sumamt}` : "";
  const who = d.psn_no ?? d.relative_psn_no ?? "";
  const log = $("#event-log");
  log.prepend(h("li", { "data-event": event.type }, h("code", {}, event.type), ` ${ctx.name(who)}${amount}`,
    d.code ? ` ${d.code}` : ""));
  while (log.children.length > 8) log.lastChild.remove();
}

function renderWire(entry) {
  const log = $("#wire-log");
  const kind = `${entry.answer?.code === "OK" ? "ok" : "not-ok"}${entry.quiet ? " quiet" : ""}`;
  log.prepend(h("li", { class: kind },
    h("div", {}, h("code", {}, `POST ${entry.path}`), ` ${entry.request.infno} → ${entry.answer?.code}`),
    h("pre", { class: "request" }, JSON.stringify(entry.request, null, 1)),
    h("pre", { class: "answer" }, JSON.stringify(entry.answer, null, 1))));
  while (log.children.length > 40) log.lastChild.remove();
}

async function changeClock(input) {
  const answer = await admin("admin.clock", input);
  if (answer.code === "OK") ctx.setClock(answer.output);
  await refresh();
  return answer;
}

async function loadDemo() {
  const button = $("#load-demo");
  button.disabled = true;
  await admin("admin.reset");
  const today = new Date(ctx.now() + 8 * 3600 * 1000).toISOString().slice(0, 10);
  await changeClock({ set: `${today}T${ctx.demo.start}:00+08:00` });
  await admin("admin.load", { people: ctx.demo.people, bindings: ctx.demo.bindings });
  ctx.tills?.clear();
  await refresh();
  button.disabled = false;
}

function setupClock() {
  $("#clock-speed").addEventListener("change", (e) => changeClock({ speed: Number(e.target.value) }));
  $("#clock-1m").addEventListener("click", () => changeClock({ advance: "1m" }));
  $("#clock-5m").addEventListener("click", () => changeClock({ advance: "5m" }));
  $("#clock-set").addEventListener("click", () => {
    const today = new Date(ctx.now() + 8 * 3600 * 1000).toISOString().slice(0, 10);
    const time = $("#clock-set-time").value || "09:30:00";
    changeClock({ set: `${today}T${time.length === 5 ? `${time}:00` : time}+08:00` });
  });
  ctx.changeClock = changeClock;
}

function setupKeys(stories) {
  const wire = $("#wire");
  const toggleWire = () => {
    wire.hidden = !wire.hidden;
    $("#wire-toggle").setAttribute("aria-pressed", String(!wire.hidden));
  };
  $("#wire-toggle").addEventListener("click", toggleWire);
  $("#wire-reads").addEventListener("change", (e) => wire.classList.toggle("reads", e.target.checked));
  document.addEventListener("keydown", (e) => {
    if (e.ctrlKey || e.metaKey || e.altKey || ["INPUT", "SELECT", "TEXTAREA"].includes(e.target.tagName)) return;
    const action = { n: stories.next, a: stories.toggleAuto, w: toggleWire,
      1: () => changeClock({ advance: "1m" }), 5: () => changeClock({ advance: "5m" }) }[e.key];
    if (action) { e.preventDefault(); action(); }
  });
}

async function main() {
  ctx.demo = await (await fetch("/studio/demo.json")).json();
  onWire(renderWire);
  ctx.onState(renderFamily);
  ctx.onState(renderClockAndWindows);
  ctx.tills = setupTills(ctx);
  setupPhone(ctx);
  setupClock();
  setupKeys(setupStories(ctx));
  $("#load-demo").addEventListener("click", loadDemo);
  events((event) => { logEvent(event); refresh(); }, (up) => {
    $("#events-status").className = up ? "on" : "off";
    if (up) refresh();  // (re)connected: what happened meanwhile is read afresh
  });
  setInterval(() => { renderClockAndWindows(); ctx.tills.tick(); }, 250);
  await refresh();
  document.body.dataset.ready = "yes";
}

main();
