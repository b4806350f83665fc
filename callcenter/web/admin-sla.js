// Tab "SLA": business-hours calendars and SLA policies, in the shapes of docs/sla.md.
// Saving is a PUT by name (create or replace); the engine's own check answers 422
// naming the body field, shown there.
import {checkbox, confirmed, field, getJson, h, linesOf, parseLines, select, send, showError, words} from "./admin-ui.js";

export const TEXTS = {
  calendars: ["Calendars", "工作日历"],
  policies: ["SLA policies", "SLA 策略"],
  cal_name: ["Name", "名称"],
  timezone: ["Time zone (IANA, e.g. Asia/Shanghai)", "时区（IANA，如 Asia/Shanghai）"],
  weekly_hours: ["Weekly hours (e.g. 09:00-12:00, 13:00-18:00; empty: closed)", "每周工作时间（如 09:00-12:00, 13:00-18:00；留空为休息）"],
  always_open: ["Open 24x7", "全天候 24x7"],
  holidays: ["Holidays (YYYY-MM-DD, comma separated)", "节假日（YYYY-MM-DD，逗号分隔）"],
  special_days: ["Special days (YYYY-MM-DD: 09:00-18:00, a line each)", "特殊日期（YYYY-MM-DD: 09:00-18:00，每行一条）"],
  new_calendar: ["New calendar", "新建日历"],
  new_policy: ["New policy", "新建策略"],
  edit: ["Edit", "编辑"],
  delete: ["Delete", "删除"],
  save: ["Save", "保存"],
  position: ["Position", "顺序"],
  calendar: ["Calendar", "日历"],
  priorities: ["Priorities covered (none: any)", "适用优先级（不选为全部）"],
  types_covered: ["Types covered (none: any)", "适用类型（不选为全部）"],
  default_targets: ["Default targets (business minutes)", "默认目标（工作分钟）"],
  first_response: ["First response", "首次响应"],
  next_response: ["Next response", "后续响应"],
  resolution: ["Resolution", "解决"],
  targets: ["Targets by priority and type", "按优先级和类型的目标"],
  add_target: ["Add a target", "添加目标"],
  any: ["any", "任意"],
  priority: ["Priority", "优先级"],
  type: ["Type", "类型"],
  warn_before: ["Warn before", "提前预警"],
  percent: ["% of the target used", "已用目标的 %"],
  minutes: ["minutes before breach", "违约前分钟数"],
  on_warning: ["On warning (e.g. notify:team-lead)", "预警时（如 notify:team-lead）"],
  on_breach: ["On breach (e.g. notify:supervisor, priority:urgent, group:tier2)", "违约时（如 notify:supervisor, priority:urgent, group:tier2）"],
  remove: ["Remove", "删除"],
  hours_word: ["Hours", "工作时间"],
  tz: ["Time zone", "时区"],
  edit_calendar: ["Edit calendar", "编辑日历"],
  edit_policy: ["Edit policy", "编辑策略"],
};
const DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
const PRIORITIES = ["low", "normal", "high", "urgent"];
const METRICS = ["first_response", "next_response", "resolution"];

export async function load(root) {
  const [calendars, policies, types] = await Promise.all([
    getJson("/api/sla/calendars"), getJson("/api/sla/policies"),
    getJson("/api/ticket-types?include_inactive=true"),
  ]);
  const reload = () => load(root);
  const editor = h("div", {id: "sla-editor"});
  const remove = (kind, name) => confirmed(async () => { await send(`/api/sla/${kind}/${name}`, "DELETE"); await reload(); });
  const calTable = h("table", {id: "calendars-table"},
    h("thead", {}, h("tr", {}, h("th", {i18n: "cal_name"}), h("th", {i18n: "tz"}), h("th", {i18n: "hours_word"}), h("th"))),
    h("tbody", {}, ...calendars.map(c => h("tr", {"data-name": c.name},
      h("td", {}, c.name), h("td", {}, c.timezone),
      h("td", {}, typeof c.hours === "string" ? c.hours : DAYS.filter(d => c.hours[d]).map(d => `${d} ${c.hours[d].join(", ")}`).join("; ")),
      h("td", {}, h("button", {i18n: "edit", onclick: () => editCalendar(editor, c, reload)}), " ",
        h("button", {class: "delete", i18n: "delete", onclick: remove("calendars", c.name)}))))));
  const polTable = h("table", {id: "policies-table"},
    h("thead", {}, h("tr", {}, h("th", {i18n: "position"}), h("th", {i18n: "cal_name"}), h("th", {i18n: "calendar"}), h("th"))),
    h("tbody", {}, ...policies.map(p => h("tr", {"data-name": p.name},
      h("td", {}, String(p.position)), h("td", {}, p.name), h("td", {}, p.calendar),
      h("td", {}, h("button", {i18n: "edit", onclick: () => editPolicy(editor, p, calendars, types, reload)}), " ",
        h("button", {class: "delete", i18n: "delete", onclick: remove("policies", p.name)}))))));
  root.replaceChildren(
    h("h2", {i18n: "calendars"}), calTable,
    h("button", {id: "calendar-new", i18n: "new_calendar", onclick: () => editCalendar(editor, null, reload)}),
    h("h2", {i18n: "policies"}), polTable,
    h("button", {id: "policy-new", i18n: "new_policy", onclick: () => editPolicy(editor, null, calendars, types, reload)}),
    editor);
}

function editCalendar(editor, cal, reload) {
  const always = cal?.hours === "24x7";
  const hours = h("div", {class: "row"});
  hours.dataset.loc = "hours";
  for (const day of DAYS) {
    hours.append(h("label", {}, h("span", {}, day),
      h("input", {name: `h_${day}`, size: 24, value: always ? "" : (cal?.hours?.[day] ?? []).join(", ")})));
  }
  const form = h("form", {class: "editor panel", id: "calendar-form"},
    h("h2", {i18n: cal ? "edit_calendar" : "new_calendar"}),
    field("cal_name", h("input", {name: "name", loc: "name", value: cal?.name ?? "", disabled: !!cal, required: true})),
    field("timezone", h("input", {name: "timezone", loc: "timezone", value: cal?.timezone ?? "Asia/Shanghai"})),
    field("always_open", h("input", {type: "checkbox", name: "always", checked: always})),
    h("div", {}, h("span", {i18n: "weekly_hours"})), hours,
    field("holidays", h("input", {name: "holidays", loc: "holidays", size: 50, value: (cal?.holidays ?? []).join(", ")})),
    field("special_days", h("textarea", {name: "special_days", loc: "special_days", value: linesOf(cal?.special_days)})),
    h("div", {}, h("button", {class: "primary", i18n: "save"})),
    h("p", {class: "form-message", role: "alert"}));
  form.onsubmit = async event => {
    event.preventDefault();
    const e = form.elements;
    const week = {};
    for (const day of DAYS) if (words(e[`h_${day}`].value).length) week[day] = words(e[`h_${day}`].value);
    const special = Object.fromEntries(Object.entries(parseLines(e.special_days.value)).map(([d, v]) => [d, words(v)]));
    const body = {timezone: e.timezone.value.trim(), hours: e.always.checked ? "24x7" : week,
                  holidays: words(e.holidays.value)};
    if (Object.keys(special).length) body.special_days = special;
    try {
      await send(`/api/sla/calendars/${encodeURIComponent(e.name.value.trim())}`, "PUT", body);
      await reload();
    } catch (error) { showError(form, error); }
  };
  editor.replaceChildren(form);
}

function editPolicy(editor, pol, calendars, types, reload) {
  const checks = (name, values, chosen, loc) => {
    const box = h("div", {class: "row"});
    box.dataset.loc = loc;
    for (const v of values) box.append(checkbox(v, {name, value: v, checked: chosen.includes(v)}));
    return box;
  };
  const minutes = (prefix, targets, loc) => METRICS.map(m => field(m, h("input", {
    type: "number", min: 1, name: `${prefix}${m}`, loc: loc && `${loc}.${m}`, value: targets?.[m] ?? "", size: 6,
  })));
  const targetRows = h("div", {class: "targets"});
  targetRows.dataset.loc = "targets";
  const anyOr = values => [["", "any"], ...values.map(v => [v, null, v])];
  const addTarget = (t = {}) => targetRows.append(h("div", {class: "row target"},
    field("priority", select(anyOr(PRIORITIES), t.priority ?? "", {name: "t_priority"})),
    field("type", select(anyOr(types.map(x => x.name)), t.type ?? "", {name: "t_type"})),
    ...minutes("t_", t), h("button", {type: "button", i18n: "remove", onclick: event => event.target.closest(".row").remove()})));
  const warn = pol?.warn_before ?? {percent: 80};
  const form = h("form", {class: "editor panel", id: "policy-form"},
    h("h2", {i18n: pol ? "edit_policy" : "new_policy"}),
    field("cal_name", h("input", {name: "name", loc: "name", value: pol?.name ?? "", disabled: !!pol, required: true})),
    field("position", h("input", {type: "number", name: "position", loc: "position", value: pol?.position ?? 0, min: 0})),
    field("calendar", select(calendars.map(c => [c.name, null, c.name]), pol?.calendar ?? calendars[0]?.name, {name: "calendar", loc: "calendar"})),
    h("div", {}, h("span", {i18n: "priorities"})), checks("priorities", PRIORITIES, pol?.priorities ?? [], "priorities"),
    h("div", {}, h("span", {i18n: "types_covered"})), checks("types", types.map(t => t.name), pol?.types ?? [], "types"),
    h("h3", {i18n: "default_targets"}), h("div", {class: "row", loc: "default"}, ...minutes("d_", pol?.default, "default")),
    h("h3", {i18n: "targets"}), targetRows,
    h("button", {type: "button", id: "target-add", i18n: "add_target", onclick: () => addTarget()}),
    h("h3", {i18n: "warn_before"}),
    h("div", {class: "row", loc: "warn_before"},
      select([["percent", "percent"], ["minutes", "minutes"]], "minutes" in warn ? "minutes" : "percent", {name: "warn_kind"}),
      " ", h("input", {type: "number", min: 1, name: "warn_value", value: warn.minutes ?? warn.percent ?? ""})),
    field("on_warning", h("input", {name: "on_warning", loc: "on_warning", size: 40, value: (pol?.on_warning ?? []).join(", ")})),
    field("on_breach", h("input", {name: "on_breach", loc: "on_breach", size: 40, value: (pol?.on_breach ?? []).join(", ")})),
    h("div", {}, h("button", {class: "primary", i18n: "save"})),
    h("p", {class: "form-message", role: "alert"}));
  for (const t of pol?.targets ?? []) addTarget(t);
  const numbers = (prefix, scope) => Object.fromEntries(METRICS
    .map(m => [m, scope.querySelector(`[name=${prefix}${m}]`).value])
    .filter(([, v]) => v !== "").map(([m, v]) => [m, Number(v)]));
  form.onsubmit = async event => {
    event.preventDefault();
    const e = form.elements;
    const checked = name => [...form.querySelectorAll(`input[name=${name}]:checked`)].map(i => i.value);
    const body = {
      position: Number(e.position.value || 0), priorities: checked("priorities"), types: checked("types"),
      calendar: e.calendar.value, default: numbers("d_", form),
      targets: [...targetRows.querySelectorAll(".target")].map(row => {
        const t = numbers("t_", row);
        if (row.querySelector("[name=t_priority]").value) t.priority = row.querySelector("[name=t_priority]").value;
        if (row.querySelector("[name=t_type]").value) t.type = row.querySelector("[name=t_type]").value;
        return t;
      }),
      on_warning: words(e.on_warning.value), on_breach: words(e.on_breach.value),
    };
    if (e.warn_value.value) body.warn_before = {[e.warn_kind.value]: Number(e.warn_value.value)};
    try {
      await send(`/api/sla/policies/${encodeURIComponent(e.name.value.trim())}`, "PUT", body);
      await reload();
    } catch (error) { showError(form, error); }
  };
  editor.replaceChildren(form);
}
