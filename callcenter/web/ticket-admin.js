// Ticket settings: one tab per part of the ticket configuration, each its own module
// (admin-*.js) over the same admin API the docs describe. Whoever lacks tickets.admin
// is told so; the API refuses them anyway (403), this page only does not pretend.
import * as groups from "./admin-groups.js";
import * as types from "./admin-types.js";
import * as sla from "./admin-sla.js";
import * as rules from "./admin-rules.js";
import * as webhooks from "./admin-webhooks.js";
import {TEXTS as SHARED} from "./admin-ui.js";

const TABS = {groups, types, sla, rules, webhooks};
const PAGE = {
  title: "工单设置", refused: "你无权修改工单设置：本页需要 tickets.admin 权限（管理员和班长）。",
  tab_groups: "工单组与成员", tab_types: "类型与表单", tab_sla: "SLA", tab_rules: "触发器与自动化",
  tab_webhooks: "Webhook",
};
const english = {};
const chinese = {...PAGE};
for (const texts of [SHARED, ...Object.values(TABS).map(tab => tab.TEXTS)]) {
  for (const [key, [en, zh]] of Object.entries(texts)) { english[key] = en; chinese[key] = zh; }
}
I18n.init(chinese, english);

const $ = id => document.getElementById(id);
let current = "groups";

async function open(name) {
  current = name;
  document.querySelectorAll("nav.tabs button").forEach(b => b.setAttribute("aria-selected", String(b.dataset.tab === name)));
  document.querySelectorAll("[data-panel]").forEach(p => { p.hidden = p.dataset.panel !== name; });
  $("message").textContent = "";
  $(`tab-${name}`).replaceChildren();  // never a stale copy (a secret shown once, old rows)
  try { await TABS[name].load($(`tab-${name}`)); }
  catch (error) { $("message").textContent = `${error.status ?? ""} ${error.message}`; }
}

async function start() {
  // The triggers list needs tickets.admin, as every write here does: a 403 is the answer.
  try { await api("/api/ticket-triggers"); }
  catch (error) {
    if (error.status === 401) { sessionStorage.removeItem("token"); return; }
    // Refused: said so, and the login form stays for someone who may.
    if (error.status === 403) { $("refused").hidden = false; $("admin").hidden = true; return; }
    throw error;
  }
  $("refused").hidden = true;
  $("login").hidden = true;
  $("admin").hidden = false;
  document.querySelectorAll("nav.tabs button").forEach(b => b.onclick = () => open(b.dataset.tab));
  await open(new URLSearchParams(location.hash.slice(1)).get("tab") || current);
}

bindLogin($("login"), $("message"), start);
if (sessionStorage.getItem("token")) start().catch(() => {});
