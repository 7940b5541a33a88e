// The studio's one way to the switch: the HTTP door's transactions, each logged for the wire panel.
// Nothing here reads state any other way; updates arrive on the events stream (events()).

const wireListeners = [];
let sequence = Math.floor(Math.random() * 9000);

export function onWire(listener) { wireListeners.push(listener); }

function pad(n, width) { return String(n).padStart(width, "0"); }

// The platform's msgid: institution code, yyyyMMddHHmmss, a 4-digit sequence (30 characters for a
// 12-character code). A fresh sequence per message keeps two swipes in one second apart.
export function platformMsgid(fixmedinsCode) {
  const d = new Date();
  sequence = (sequence + 1) % 10000;
  const stamp = `${d.getFullYear()}${pad(d.getMonth() + 1, 2)}${pad(d.getDate(), 2)}` +
    `${pad(d.getHours(), 2)}${pad(d.getMinutes(), 2)}${pad(d.getSeconds(), 2)}`;
  return `${fixmedinsCode}${stamp}${pad(sequence, 4)}`;
}

function localMsgid(prefix) {
  sequence = (sequence + 1) % 10000;
  return `${prefix}-${Date.now().toString(36)}-${pad(sequence, 4)}`;
}

async function post(path, request, quiet = false) {
  const entry = { path, request, answer: null, at: new Date(), quiet };
  let answer;
  try {
    const response = await fetch(path, {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(request),
    });
    const text = await response.text();
    try {
      answer = JSON.parse(text);
    } catch {
      answer = { code: `HTTP_${response.status}`, err_msg: text.trim() };
    }
  } catch (error) {
    answer = { code: "NO_ANSWER", err_msg: `the switch did not answer: ${error.message}` };
  }
  entry.answer = answer;
  wireListeners.forEach((listener) => listener(entry));
  return answer;
}

// quiet: the page's own reads of the state, hidden on the wire unless asked for.
// A switch started with --admin-token wants it on every admin request: open the page with ?token=...
const TOKEN = new URLSearchParams(window.location.search).get("token");

export function admin(infno, input = {}, quiet = false) {
  const request = { infno, msgid: localMsgid("studio-admin"), input, ...(TOKEN ? { token: TOKEN } : {}) };
  return post("/gongji/v1/admin", request, quiet);
}

export function app(psnNo, infno, input = {}) {
  return post(`/gongji/v1/app/${encodeURIComponent(psnNo)}`, { infno, msgid: localMsgid("studio-app"), input });
}

// A till's transaction in the national envelope, on the path shape a province uses (/csb/{infno}).
export function national(till, infno, input, msgid = platformMsgid(till.fixmedins_code)) {
  return post(`/csb/${infno}`, {
    infno, msgid, fixmedins_code: till.fixmedins_code, mdtrtarea_admvs: till.admdvs, input,
  });
}

export const EVENT_TYPES = [
  "settlement.committed", "settlement.declined", "settlement.cancelled", "settlement.reversed",
  "window.opened", "window.used", "window.expired", "window.closed",
  "binding.created", "binding.removed", "binding.requested", "binding.declined",
];

// The switch's events as Server-Sent Events; onStatus(true/false) as the stream comes and goes.
export function events(onEvent, onStatus) {
  const source = new EventSource("/gongji/v1/events");
  source.onopen = () => onStatus(true);
  source.onerror = () => onStatus(false);
  for (const type of EVENT_TYPES) {
    source.addEventListener(type, (message) => {
      try {
        onEvent(JSON.parse(message.data));
      } catch {
        onEvent({ type, data: {} });
      }
    });
  }
  return source;
}
