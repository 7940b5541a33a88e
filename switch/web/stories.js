// The demo's checkout stories (demo.json), played a step at a time on the tills and the clock,
// with a caption in Chinese and English per step; each step's expected amounts are checked.
import { $, h } from "/studio/dom.js";

// Auto's pause between steps; ?auto=MS in the page's address sets another (a slower room, a quick rehearsal).
const AUTO_MS = Number(new URLSearchParams(window.location.search).get("auto")) || 2500;

let ctx = null;
let story = null;
let index = 0;
let busy = false;
let timer = null;
let failures = 0;

function caption(zh, en) {
  $("#caption-zh").textContent = zh;
  $("#caption-en").textContent = en;
}

function restart() {
  stopAuto();
  story = ctx.demo.stories[Number($("#story-select").value)];
  index = 0;
  failures = 0;
  $("#story-checks").replaceChildren();
  $("#story-panel").dataset.state = "ready";
  $("#story-step").textContent = `0 / ${story.steps.length}`;
  caption(story.title.zh, story.title.en);
}

// What a step does: a swipe, a cancel, or a move of the clock; its answer is checked.
async function perform(step) {
  if (step.swipe) return ctx.tills.swipe(step.swipe.till, step.swipe.psn_no, step.swipe.amount);
  if (step.cancel) return ctx.tills.cancel(step.cancel.till);
  if (step.clock) return ctx.changeClock(step.clock);
  return null;
}

function check(step, answer) {
  if (!step.expect || !answer) return;
  const output = answer.output ?? {};
  const found = { code: answer.code, ...(output.setlinfo ?? output) };
  for (const [key, wanted] of Object.entries(step.expect)) {
    const ok = String(found[key]) === wanted;
    failures += ok ? 0 : 1;
    $("#story-checks").append(h("li", { class: ok ? "ok" : "failed" },
      ok ? `✓ ${key} ${wanted}` : `✗ ${key}: expected ${wanted}, got ${found[key]}`));
  }
}

async function next() {
  if (busy) return;
  if (!story) restart();
  if (index >= story.steps.length) { stopAuto(); return; }
  busy = true;
  $("#story-panel").dataset.busy = "yes";  // a key pressed meanwhile is not queued: one step at a time
  const step = story.steps[index];
  index += 1;
  $("#story-step").textContent = `${index} / ${story.steps.length}`;
  caption(step.say.zh, step.say.en);
  $("#story-panel").dataset.state = "playing";
  try {
    check(step, await perform(step));
  } finally {
    busy = false;
    $("#story-panel").dataset.busy = "no";
  }
  if (index >= story.steps.length) {
    stopAuto();
    $("#story-panel").dataset.state = failures ? "failed" : "done";
    $("#story-step").textContent = failures
      ? `${index} / ${story.steps.length} · ✗ ${failures} 项不符 check(s) failed`
      : `${index} / ${story.steps.length} · 故事结束 the end ✓`;
  }
}

function stopAuto() {
  clearInterval(timer);
  timer = null;
  $("#story-auto").setAttribute("aria-pressed", "false");
}

function toggleAuto() {
  if (timer) { stopAuto(); return; }
  if (!story || index >= story.steps.length) restart();
  $("#story-auto").setAttribute("aria-pressed", "true");
  next();
  timer = setInterval(next, AUTO_MS);
}

export function setupStories(context) {
  ctx = context;
  const select = $("#story-select");
  select.replaceChildren(...ctx.demo.stories.map((s, i) =>
    h("option", { value: String(i) }, `${i + 1}. ${s.title.zh} · ${s.title.en}`)));
  select.addEventListener("change", restart);
  $("#story-next").addEventListener("click", next);
  $("#story-auto").addEventListener("click", toggleAuto);
  $("#story-restart").addEventListener("click", restart);
  restart();
  return { next, toggleAuto };
}
