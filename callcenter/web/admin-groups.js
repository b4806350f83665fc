// Tab "Groups and members": ticket groups, who is in them, and each group's assignment
// rule (docs/automation.md, "Assignment rules").
import {checkbox, clearErrors, field, getJson, h, linesOf, parseLines, select, send, showError} from "./admin-ui.js";

export const TEXTS = {
  groups: ["Ticket groups", "工单组"],
  new_group: ["New group name", "新工单组名称"],
  create: ["Create", "创建"],
  members: ["Members", "成员"],
  save_members: ["Save members", "保存成员"],
  assignment: ["Assignment rule", "分配规则"],
  strategy: ["Strategy", "分配方式"],
  s_none: ["none (by hand)", "不自动分配"],
  s_round_robin: ["round robin", "轮流分配"],
  s_least_loaded: ["least loaded", "最少负载"],
  only_logged_in: ["Only agents logged in", "仅分配给已登录坐席"],
  skills_by_type: ["Skill by ticket type (type: skill, a line each)", "按工单类型的技能（类型: 技能，每行一条）"],
  skills_by_tag: ["Skill by tag (tag: skill, a line each)", "按标签的技能（标签: 技能，每行一条）"],
  save_rule: ["Save rule", "保存规则"],
  saved: ["Saved.", "已保存。"],
  name: ["Name", "名称"],
  pick_group: ["Pick a group to edit its members and rule.", "选择一个工单组以编辑成员和分配规则。"],
};

export async function load(root) {
  const [groups, users] = await Promise.all([getJson("/api/ticket-groups"), getJson("/api/users").catch(() => [])]);
  const form = h("form", {class: "editor", id: "group-new"},
    field("new_group", h("input", {name: "name", loc: "name", required: true})),
    h("button", {class: "primary", i18n: "create"}),
    h("p", {class: "form-message", role: "alert"}));
  form.onsubmit = async event => {
    event.preventDefault();
    try {
      await send("/api/ticket-groups", "POST", {name: form.elements.name.value.trim()});
      await load(root);
    } catch (error) { showError(form, error); }
  };
  const detail = h("div", {id: "group-detail"}, h("p", {class: "muted", i18n: "pick_group"}));
  const table = h("table", {id: "groups-table"},
    h("thead", {}, h("tr", {}, h("th", {}, "#"), h("th", {i18n: "name"}), h("th", {i18n: "members"}))),
    h("tbody", {}, ...groups.map(g => {
      const tr = h("tr", {"data-id": g.id, style: "cursor: pointer"},
        h("td", {}, String(g.id)), h("td", {}, g.name),
        h("td", {}, g.people.map(p => p.name).join(", ")));
      tr.onclick = () => {
        table.querySelectorAll("tr.picked").forEach(r => r.classList.remove("picked"));
        tr.classList.add("picked");
        showGroup(detail, g, users, () => load(root));
      };
      return tr;
    })));
  root.replaceChildren(h("h2", {i18n: "groups"}), table, form, detail);
}

// Who can be ticked: active users, and always the group's present members (an inactive
// one, or all of them when the user list may not be read), so a save never drops
// someone only because the page did not list them.
function candidates(group, users) {
  const out = new Map(users.filter(u => u.is_active)
    .map(u => [u.id, `${u.display_name || u.username} (${u.role})`]));
  for (const p of group.people) if (!out.has(p.id)) out.set(p.id, p.name || `#${p.id}`);
  return [...out];
}

async function showGroup(detail, group, users, reload) {
  const members = h("form", {class: "editor panel", id: "members"},
    h("h2", {}, `${group.name} — `, h("span", {i18n: "members"})),
    ...candidates(group, users).map(([id, text]) => checkbox(text, {
      name: "user", value: String(id), checked: group.members.includes(id),
    })),
    h("div", {}, h("button", {class: "primary", i18n: "save_members"})),
    h("p", {class: "form-message", role: "alert"}));
  members.onsubmit = async event => {
    event.preventDefault();
    const ids = [...members.querySelectorAll("input[name=user]:checked")].map(i => Number(i.value));
    try {
      await send(`/api/ticket-groups/${group.id}/members`, "PUT", {user_ids: ids});
      await reload();
    } catch (error) { showError(members, error); }
  };
  const rule = await getJson(`/api/ticket-groups/${group.id}/assignment`);
  const ruleForm = h("form", {class: "editor panel", id: "assignment"},
    h("h2", {i18n: "assignment"}),
    field("strategy", select([["none", "s_none"], ["round_robin", "s_round_robin"], ["least_loaded", "s_least_loaded"]],
                             rule.strategy, {name: "strategy", loc: "strategy"})),
    field("only_logged_in", h("input", {type: "checkbox", name: "only_logged_in", checked: rule.only_logged_in})),
    h("br"),
    field("skills_by_type", h("textarea", {name: "by_type", loc: "skills.by_type", value: linesOf(rule.skills.by_type)})),
    field("skills_by_tag", h("textarea", {name: "by_tag", loc: "skills.by_tag", value: linesOf(rule.skills.by_tag)})),
    h("div", {}, h("button", {class: "primary", i18n: "save_rule"}), " ", h("span", {class: "ok"})),
    h("p", {class: "form-message", role: "alert"}));
  ruleForm.onsubmit = async event => {
    event.preventDefault();
    const f = ruleForm.elements;
    const body = {strategy: f.strategy.value, only_logged_in: f.only_logged_in.checked,
                  skills: {by_type: parseLines(f.by_type.value), by_tag: parseLines(f.by_tag.value)}};
    clearErrors(ruleForm);
    try {
      await send(`/api/ticket-groups/${group.id}/assignment`, "PUT", body);
      ruleForm.querySelector(".ok").textContent = I18n.t("saved");
    } catch (error) { showError(ruleForm, error); }
  };
  detail.replaceChildren(members, ruleForm);
}
