// The holder's phone: the member app over /gongji/v1/app/{psn_no} — bindings, the records (明细),
// bind and unbind behind a face-verification step, and each relative's cap.
import { app } from "/studio/api.js";
import { $, h } from "/studio/dom.js";

const RELATIONS = [["child", "子女 child"], ["spouse", "配偶 spouse"], ["parent", "父母 parent"],
  ["spouse_parent", "配偶父母 spouse's parent"]];

let ctx = null;
let root = null;
let owner = "";
let view = { bindings: null, records: [], message: null, face: null };

async function load() {
  if (!owner) return;
  const [bindings, records] = await Promise.all([app(owner, "app.bindings"), app(owner, "app.records", { limit: 8 })]);
  view.bindings = bindings.code === "OK" ? bindings.output : null;
  view.records = records.code === "OK" ? records.output.records : [];
  if (bindings.code !== "OK") view.message = bindings;
  render();
}

async function send(infno, input) {
  view.face = null;
  const answer = await app(owner, infno, input);
  view.message = answer;
  await ctx.refresh();  // a cap moves no money and sends no event: the family panel reads it afresh
  return answer;
}

// Binding and unbinding need the person's own face check: the phone asks first, as the app does.
function askFace(what, infno, input) {
  view.face = { what, infno, input };
  render();
  $(".face .verify", root)?.focus();
}

function relativesPanel(b) {
  if (!b.relatives?.length) return h("p", { class: "hint" }, "没有绑定的亲属 no bound relative");
  return h("table", { class: "bindings" }, b.relatives.map((r) => h("tr", { "data-phone-relative": r.psn_no },
    h("td", {}, r.psn_name), h("td", { class: "num" }, `已用 ${r.used}`),
    h("td", {}, h("input", { class: "cap", size: "6", value: drafts[r.psn_no] ?? r.cap ?? "", placeholder: "不限 none",
      "aria-label": `cap for ${r.psn_no}`, oninput: (e) => { drafts[r.psn_no] = e.target.value; } }),
    h("button", { onclick: (e) => {
      // What was typed last, even into a box an event re-rendered meanwhile (the draft outlives it).
      const value = (drafts[r.psn_no] ?? e.target.previousSibling.value).trim();
      delete drafts[r.psn_no];
      send("app.set_cap", { relative_psn_no: r.psn_no, cap: value === "" ? null : value });
    } }, "限额 Set cap")),
    h("td", {}, h("button", { class: "unbind", onclick: () => askFace(`解绑 unbind ${r.psn_name}`, "app.unbind",
      { relative_psn_no: r.psn_no }) }, "解绑 Unbind")))));
}

// The bind form's choices and caps being typed outlive the re-renders that every event brings.
const chosen = { who: "", rltn: "child" };
const drafts = {};

function bindForm() {
  const others = ctx.state.people.filter((p) => p.psn_no !== owner);
  const who = h("select", { class: "bind-who", "aria-label": "relative to bind" },
    others.map((p) => h("option", { value: p.psn_no }, `${p.psn_name} ${p.psn_no}`)));
  const rltn = h("select", { class: "bind-rltn", "aria-label": "relation" },
    RELATIONS.map(([value, label]) => h("option", { value }, label)));
  if (others.some((p) => p.psn_no === chosen.who)) who.value = chosen.who;
  rltn.value = chosen.rltn;
  who.addEventListener("change", () => { chosen.who = who.value; });
  rltn.addEventListener("change", () => { chosen.rltn = rltn.value; });
  return h("div", { class: "bind" }, "绑定 bind ", who, rltn, h("button", { class: "bind-button",
    onclick: () => askFace(`绑定 bind ${ctx.name(who.value)}`, "app.bind", { relative_psn_no: who.value, rltn: rltn.value }) },
  "绑定 Bind"));
}

function facePanel() {
  const { what, infno, input } = view.face;
  return h("div", { class: "face", role: "dialog", "aria-label": "face verification" },
    h("p", {}, `🙂 刷脸验证 face verification: ${what}`),
    h("button", { class: "verify", onclick: () => send(infno, { ...input, face_verified: true }) }, "✓ 本人验证通过 Verified"),
    h("button", { class: "skip", onclick: () => send(infno, input) }, "跳过 Skip (send unverified)"),
    h("button", { onclick: () => { view.face = null; render(); } }, "取消 Close"));
}

function render() {
  const picker = h("select", { id: "phone-owner", "aria-label": "whose phone" },
    h("option", { value: "" }, "— 谁的手机 whose phone —"),
    ctx.state.people.map((p) => h("option", { value: p.psn_no }, `${p.psn_name} ${p.psn_no}`)));
  picker.value = owner;
  picker.addEventListener("change", () => { owner = picker.value; view = { records: [], message: null }; load(); });
  const parts = [picker];
  const b = view.bindings;
  if (owner && b) {
    parts.push(h("p", { class: "role" }, b.role === "holder" ? "户主 holder" : `亲属 relative of ${b.holder?.psn_name ?? "—"}`,
      ` · 余额 balance ${ctx.person(owner)?.balc ?? ""}`));
    if (b.role === "holder") parts.push(relativesPanel(b));
    if (!b.read_only) parts.push(bindForm());
  }
  if (view.face) parts.push(facePanel());
  if (view.message) {
    const ok = view.message.code === "OK";
    parts.push(h("p", { class: ok ? "app-message ok" : "app-message refusal" },
      `${ok ? "✓" : "✗"} ${view.message.code}: ${view.message.err_msg ?? ""}`));
  }
  if (owner) {
    parts.push(h("h3", {}, "明细 records"), view.records.length
      ? h("table", { class: "records" }, view.records.map((r) => h("tr", {},
        h("td", {}, r.time.slice(11, 19)), h("td", {}, ctx.name(r.psn_no)), h("td", { class: "num" }, r.amount),
        h("td", {}, ctx.tillOf(r.fixmedins_code)?.name ?? r.fixmedins_code))))
      : h("p", { class: "hint" }, "没有共济记录 no pooled payment yet"));
  }
  root.replaceChildren(...parts);
}

export function setupPhone(context) {
  ctx = context;
  root = $("#phone");
  ctx.onState(() => { if (owner && !view.face) load(); else render(); });
  render();
}
