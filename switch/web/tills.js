// The tills: a POS screen each, speaking the national interface (1101, then 2102 at a pharmacy or
// 2207 at a clinic; 2103/2208 cancel, 2601 reverse) through the HTTP door like a vendor's software.
import { national } from "/studio/api.js";
import { $, h, mmss } from "/studio/dom.js";

const SETTLE = { pharmacy: "2102", clinic: "2207" };
const CANCEL = { pharmacy: "2103", clinic: "2208" };
const RECEIPT = [
  ["medfee_sumamt", "总额 total"], ["fund_pay_sumamt", "统筹 fund"], ["acct_pay", "本人账户 own account"],
  ["acct_mulaid_pay", "共济 family holder"], ["psn_cash_pay", "现金 cash"], ["balc", "余额 balance after"],
];

const screens = new Map();  // terminal_id -> what its screen shows
let ctx = null;
let root = null;

function cert(psnNo) {
  return ctx.demo.people.find((p) => p.psn_no === psnNo)?.certs?.["01"] ?? `QR-${psnNo}`;
}

function card(till) {
  const article = h("article", { class: "till", "data-till": till.terminal_id },
    h("h2", {}, till.name, h("small", {}, ` ${till.name_en} · ${till.rule}`)),
    h("div", { class: "controls" },
      h("label", {}, "患者 patient ", h("select", { class: "patient", "aria-label": `patient at ${till.name_en}` })),
      h("label", {}, "卡 card ", h("select", { class: "card", "aria-label": `card at ${till.name_en}` })),
      h("label", {}, "金额 ", h("input", { class: "amount", value: "80.00", size: "7", inputmode: "decimal",
        "aria-label": `amount at ${till.name_en}` })),
      h("button", { class: "swipe", onclick: () => fromControls(till) }, "刷卡 Swipe"),
      h("button", { class: "cancel", onclick: () => cancel(till.terminal_id) }, "撤销 Cancel"),
      h("button", { class: "reverse", onclick: () => reverse(till.terminal_id) }, "冲正 Reverse")),
    h("div", { class: "screen", "aria-live": "polite" }));
  $(".patient", article).addEventListener("change", (e) => { $(".card", article).value = cert(e.target.value); });
  return article;
}

function fromControls(till) {
  const article = $(`[data-till="${till.terminal_id}"]`);
  return swipe(till.terminal_id, $(".patient", article).value, $(".amount", article).value.trim(),
    $(".card", article).value);
}

function options() {
  for (const article of root.querySelectorAll(".till")) {
    const patient = $(".patient", article);
    const cardSelect = $(".card", article);
    const chosen = [patient.value, cardSelect.value];
    patient.replaceChildren(...ctx.state.people.map((p) => h("option", { value: p.psn_no }, `${p.psn_name} ${p.psn_no}`)));
    cardSelect.replaceChildren(...ctx.state.people.map((p) =>
      h("option", { value: cert(p.psn_no) }, `${cert(p.psn_no)} (${p.psn_name})`)));
    if (chosen[0]) patient.value = chosen[0];
    cardSelect.value = chosen[1] || cert(patient.value);
    if (!cardSelect.value) cardSelect.value = cert(patient.value);
  }
}

function show(tillId, screen) {
  screens.set(tillId, { ...(screens.get(tillId) ?? {}), ...screen });
  render(tillId);
}

function receipt(info, title) {
  const holder = info.mulaid_psn_no ? ` (${ctx.name(info.mulaid_psn_no)})` : "";
  return h("div", { class: "receipt" }, h("div", { class: "title" }, title, h("small", {}, ` ${info.setl_id ?? ""}`)),
    h("table", {}, RECEIPT.map(([key, label]) => h("tr", { "data-field": key },
      h("th", {}, key === "acct_mulaid_pay" ? `${label}${holder}` : label), h("td", { class: "num" }, info[key] ?? "—")))));
}

function windowOf(screen) {
  return ctx.state.windows.find((w) => w.psn_no === screen.psnNo && w.fixmedins_code === screen.code);
}

function render(tillId) {
  const s = screens.get(tillId) ?? { kind: "idle" };
  const box = $(`[data-till="${tillId}"] .screen`);
  box.className = `screen ${s.kind}`;
  if (s.kind === "idle") box.replaceChildren(h("p", { class: "hint" }, "请刷卡 ready for a card"));
  else if (s.kind === "busy") box.replaceChildren(h("p", { class: "hint" }, `${s.what} …`));
  else if (s.kind === "paid") box.replaceChildren(receipt(s.info, "结算成功 settled"));
  else if (s.kind === "cancelled") box.replaceChildren(receipt(s.info, "已撤销 cancelled, refunded"));
  else if (s.kind === "reversed") box.replaceChildren(h("p", { class: "done" }, `已冲正 reversed: ${s.msgid}`));
  else if (s.kind === "refused") {
    box.replaceChildren(h("p", { class: "refusal" }, "✗ 拒绝 refused: ", h("b", { class: "code" }, s.answer.code)),
      h("p", { class: "message" }, s.answer.err_msg ?? ""));
  } else if (s.kind === "prompt") {
    const out = s.answer.output ?? {};
    box.replaceChildren(h("p", { class: "prompt" }, s.answer.err_msg),
      h("p", {}, `缺口 shortfall ${out.shortfall} · 户主 holder ${ctx.name(out.mulaid_psn_no)} · `,
        h("b", { class: "countdown" }, "")), h("p", { class: "hint again" }, ""));
    tickOne(tillId, s, box);
  }
}

function tickOne(tillId, s, box) {
  const countdown = $(".countdown", box);
  if (!countdown) return;
  const open = windowOf(s);
  if (open) s.seen = true;
  const left = Date.parse(open?.expires_at ?? s.answer.output?.window_expires_at) - ctx.now();
  const closed = (s.seen && !open) || left <= 0;
  countdown.textContent = closed ? "窗口已过期 window expired" : `窗口剩余 window ${mmss(left)}`;
  countdown.classList.toggle("expired", closed);
  $(".again", box).textContent = closed ? "再刷卡将重新提示 a swipe now gets a new prompt"
    : "窗口内再次刷卡,由户主账户支付 swipe again inside the window: the holder's account pays";
}

function tick() {
  for (const [tillId, s] of screens) if (s.kind === "prompt") tickOne(tillId, s, $(`[data-till="${tillId}"] .screen`));
}

async function swipe(tillId, psnNo, amount, cardNo = cert(psnNo)) {
  const till = ctx.demo.tills.find((t) => t.terminal_id === tillId);
  const article = $(`[data-till="${tillId}"]`);
  $(".patient", article).value = psnNo;
  $(".card", article).value = cardNo;
  $(".amount", article).value = amount;
  show(tillId, { kind: "busy", what: "1101 读卡 reading the card" });
  const who = { mdtrt_cert_type: "01", mdtrt_cert_no: cardNo, psn_no: psnNo };
  const read = await national(till, "1101", { data: who });
  if (read.code !== "OK") { show(tillId, { kind: "refused", answer: read }); return read; }
  show(tillId, { kind: "busy", what: `${SETTLE[till.kind]} 结算 settling ${amount}` });
  const data = { ...who, medfee_sumamt: amount, acct_used_flag: "1", insutype: read.output?.insuinfo?.[0]?.insutype };
  const input = till.kind === "clinic" ? { data: { ...data, med_type: "11" } } : { druginfo: data };
  const infno = SETTLE[till.kind];
  const answer = await national(till, infno, input);  // a fresh platform msgid per swipe
  if (answer.code === "OK") {
    const info = answer.output.setlinfo;
    show(tillId, { kind: "paid", info, last: { setl_id: info.setl_id, psn_no: psnNo, msgid: info.medins_setl_id, infno } });
  } else if (answer.code === "POOLING_AVAILABLE") {
    show(tillId, { kind: "prompt", answer, psnNo, code: till.fixmedins_code, seen: false });
  } else {
    show(tillId, { kind: "refused", answer });
  }
  return answer;
}

async function undo(tillId, make) {
  const till = ctx.demo.tills.find((t) => t.terminal_id === tillId);
  const last = screens.get(tillId)?.last;
  if (!last) {
    const answer = { code: "NOTHING_TO_UNDO", err_msg: "这台收银机还没有结算 no settlement on this till yet" };
    show(tillId, { kind: "refused", answer });
    return answer;
  }
  const [infno, input, after] = make(till, last);
  show(tillId, { kind: "busy", what: infno });
  const answer = await national(till, infno, input);
  show(tillId, answer.code === "OK" ? { ...after(answer), last: null } : { kind: "refused", answer });
  return answer;
}

const cancel = (tillId) => undo(tillId, (till, last) => [CANCEL[till.kind],
  { data: { setl_id: last.setl_id, psn_no: last.psn_no } },
  (answer) => ({ kind: "cancelled", info: answer.output?.setlinfo ?? {} })]);
const reverse = (tillId) => undo(tillId, (till, last) => ["2601",
  { data: { psn_no: last.psn_no, omsgid: last.msgid, oinfno: last.infno } },
  () => ({ kind: "reversed", msgid: last.msgid })]);

export function setupTills(context) {
  ctx = context;
  root = $("#tills");
  root.replaceChildren(...ctx.demo.tills.map(card));
  ctx.demo.tills.forEach((t) => render(t.terminal_id));
  ctx.onState(() => { options(); tick(); });
  return {
    swipe, cancel, reverse, tick,
    clear() { screens.clear(); ctx.demo.tills.forEach((t) => render(t.terminal_id)); },
  };
}
