// The knowledge base: try a question as the bot would (hits, scores, confidence against
// the threshold), browse entries, and, with kb.manage, edit entries and categories and
// import or export files. Everything goes through the documented /api/kb endpoints.
const CHINESE = {
  title: "知识库", refused: "你无权查看知识库：本页需要 kb.read 权限。",
  try_title: "试问一个问题", try_placeholder: "像客户一样提问", lang_auto: "按问题的语言", try_go: "搜索",
  transfer_title: "导入与导出",
  transfer_help: "支持 CSV、XLSX 或 Markdown（见 docs/knowledge-base.md）。文件中有一行出错则全部不保存；语言和问题相同的条目会被更新。",
  import_go: "导入", export_label: "导出：", categories_title: "分类", category_name: "新分类",
  category_add: "添加分类", entries_title: "条目", filter_language: "语言", all: "全部",
  entry_new: "新建条目", col_language: "语言", col_question: "问题 / 标题", col_category: "分类",
  col_similar: "相似问法", editor_title: "条目", f_kind: "类型", kind_qa: "问答对", kind_article: "文章",
  f_language: "语言", f_category: "分类", f_question: "问题（文章则为标题）", f_similar: "相似问法，每行一个",
  f_answer: "答案（Markdown）", f_tags: "标签，逗号分隔", f_active: "启用（可被搜索到）", save: "保存",
  delete: "删除", no_category: "（无分类）", top_level: "（顶级）", would_answer: "机器人会回答",
  would_hand_over: "机器人转人工", confidence: "置信度", threshold: "阈值", no_hits: "没有找到条目",
  imported: "已导入 {n} 条（新建 {c}，更新 {u}）", saved: "已保存", choose_file: "请先选择文件",
  score: "得分", lexical: "词法", semantic: "语义", matched: "匹配", new_entry: "新条目", confirm_delete: "删除这个条目？",
};
const ENGLISH = {
  no_category: "(no category)", top_level: "(top level)", would_answer: "The bot would answer",
  would_hand_over: "The bot would hand over to a person", confidence: "confidence", threshold: "threshold",
  no_hits: "No entry found", imported: "Imported {n} entries ({c} new, {u} updated)", saved: "Saved",
  choose_file: "Choose a file first", score: "score", lexical: "lexical", semantic: "semantic", matched: "matched",
  new_entry: "New entry", confirm_delete: "Delete this entry?",
};
I18n.init(CHINESE, ENGLISH);

const $ = id => document.getElementById(id);
const t = key => I18n.t(key);
const el = make;  // common.js's element builder
let canManage = false;
let categories = [];
let entries = [];
let picked = null;  // the entry in the editor; null: a new one

// A 422's detail as "field: message" lines (the API names the field or the file's row).
function refusal(error) {
  try {
    return JSON.parse(error.message).map(d => `${d.loc.slice(1).join(" / ")}: ${d.msg}`).join("\n");
  } catch (_) { return `${error.status ?? ""} ${error.message}`; }
}

async function search(event) {
  event.preventDefault();
  const params = new URLSearchParams({q: $("try-q").value});
  if ($("try-lang").value) params.set("language", $("try-lang").value);
  const result = await (await api(`/api/kb/search?${params}`)).json();
  const verdict = el("p", {},
    el("span", {className: `verdict ${result.confident ? "yes" : "no"}`,
                textContent: t(result.confident ? "would_answer" : "would_hand_over")}),
    ` ${t("confidence")} ${result.confidence.toFixed(2)} · ${t("threshold")} ${result.threshold.toFixed(2)}`);
  const hits = result.hits.map(hit => el("div", {className: "hit"},
    el("strong", {className: "hit-question", textContent: hit.question}),
    el("span", {className: "muted", textContent:
      ` #${hit.entry_id} · ${t("score")} ${hit.score.toFixed(2)} · ${t("lexical")} ${hit.lexical.toFixed(2)}` +
      ` · ${t("semantic")} ${hit.semantic.toFixed(2)} · ${t("matched")} “${hit.matched}”`}),
    el("div", {className: "answer", textContent: hit.answer})));
  $("try-result").replaceChildren(verdict, ...(hits.length ? hits : [el("p", {textContent: t("no_hits")})]));
}

function categoryOptions(select, blank) {
  select.replaceChildren(el("option", {value: "", textContent: t(blank)}),
    ...categories.map(c => el("option", {value: String(c.id), textContent: c.name})));
}

async function loadCategories() {
  categories = await (await api("/api/kb/categories")).json();
  const byId = new Map(categories.map(c => [c.id, c]));
  $("category-list").replaceChildren(...categories.map(c => el("li", {
    textContent: c.parent_id ? `${byId.get(c.parent_id)?.name ?? "?"} › ${c.name}` : c.name})));
  categoryOptions($("category-form").elements.parent_id, "top_level");
  categoryOptions($("entry-form").elements.category_id, "no_category");
}

async function addCategory(event) {
  event.preventDefault();
  const form = $("category-form");
  const parent = form.elements.parent_id.value;
  try {
    await api("/api/kb/categories", {method: "POST", body: {
      name: form.elements.name.value, parent_id: parent ? Number(parent) : null}});
    form.reset();
    $("category-error").textContent = "";
    await loadCategories();
  } catch (error) { $("category-error").textContent = refusal(error); }
}

async function loadEntries() {
  const language = $("filter-lang").value;
  entries = await (await api(`/api/kb/entries${language ? `?language=${language}` : ""}`)).json();
  $("entries").tBodies[0].replaceChildren(...entries.map(e => {
    const row = el("tr", {className: (e.active ? "" : "inactive") + (picked?.id === e.id ? " picked" : "")},
      el("td", {textContent: e.id}), el("td", {textContent: e.language}),
      el("td", {textContent: e.question}), el("td", {textContent: e.category ?? ""}),
      el("td", {textContent: e.similar_questions.length}));
    row.dataset.id = e.id;
    row.onclick = () => edit(e);
    return row;
  }));
}

function edit(entry) {
  picked = entry;
  const f = $("entry-form").elements;
  $("editor").hidden = false;
  $("editor-title").textContent = entry ? `${t("editor_title")} #${entry.id}` : t("new_entry");
  f.kind.value = entry?.kind ?? "qa";
  f.language.value = entry?.language ?? (I18n.lang === "zh" ? "zh" : "en");
  f.category_id.value = entry?.category_id ? String(entry.category_id) : "";
  f.question.value = entry?.question ?? "";
  f.similar_questions.value = (entry?.similar_questions ?? []).join("\n");
  f.answer.value = entry?.answer ?? "";
  f.tags.value = (entry?.tags ?? []).join(", ");
  f.active.checked = entry?.active ?? true;
  $("entry-delete").hidden = !entry;
  $("entry-error").textContent = $("entry-saved").textContent = "";
  for (const field of $("entry-form").querySelectorAll("input, select, textarea")) field.disabled = !canManage;
  document.querySelectorAll("#entries tbody tr").forEach(r => r.classList.toggle("picked", Number(r.dataset.id) === entry?.id));
}

async function save(event) {
  event.preventDefault();
  const f = $("entry-form").elements;
  const body = {
    kind: f.kind.value, language: f.language.value,
    category_id: f.category_id.value ? Number(f.category_id.value) : null,
    question: f.question.value.trim(), answer: f.answer.value,
    similar_questions: f.similar_questions.value.split("\n").map(s => s.trim()).filter(Boolean),
    tags: f.tags.value.split(/[,，]/).map(s => s.trim()).filter(Boolean), active: f.active.checked,
  };
  try {
    const r = picked ? await api(`/api/kb/entries/${picked.id}`, {method: "PATCH", body})
                     : await api("/api/kb/entries", {method: "POST", body});
    const stored = await r.json();
    await loadEntries();
    edit(stored);
    $("entry-saved").textContent = t("saved");
  } catch (error) { $("entry-error").textContent = refusal(error); }
}

async function remove() {
  if (!picked || !confirm(t("confirm_delete"))) return;
  await api(`/api/kb/entries/${picked.id}`, {method: "DELETE"});
  picked = null;
  $("editor").hidden = true;
  await loadEntries();
}

async function importFile() {
  const file = $("import-file").files[0];
  const out = $("import-result");
  if (!file) { out.className = "error"; out.textContent = t("choose_file"); return; }
  const data = new FormData();
  data.append("file", file);
  const r = await fetch("/api/kb/import", {method: "POST", body: data,
    headers: {Authorization: "Bearer " + sessionStorage.getItem("token")}});
  const body = await r.json();
  if (r.ok) {
    out.className = "ok";
    out.textContent = t("imported").replace("{n}", body.imported).replace("{c}", body.created).replace("{u}", body.updated);
    await loadCategories();
    await loadEntries();
  } else {
    out.className = "error";
    out.textContent = typeof body.detail === "string" ? body.detail : body.detail.map(d => d.msg).join("; ");
  }
}

async function exportFile(format) {
  const blob = await (await api(`/api/kb/export?format=${format}`)).blob();
  const link = el("a", {href: URL.createObjectURL(blob), download: `knowledge-base.${format}`});
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(link.href), 1000);
}

async function start() {
  let me;
  try {
    me = await (await api("/api/auth/me")).json();
  } catch (error) {
    if (error.status === 401) sessionStorage.removeItem("token");
    return;
  }
  if (!me.permissions.includes("kb.read") && !me.permissions.includes("kb.manage")) {
    $("refused").hidden = false;
    return;
  }
  canManage = me.permissions.includes("kb.manage");
  $("refused").hidden = true;
  $("login").hidden = true;
  $("kb").hidden = false;
  document.querySelectorAll(".manage").forEach(node => { node.hidden = !canManage; });
  $("try-form").onsubmit = event => search(event).catch(error => { $("try-result").textContent = refusal(error); });
  $("filter-lang").onchange = () => loadEntries();
  $("category-form").onsubmit = addCategory;
  $("entry-form").onsubmit = save;
  $("entry-delete").onclick = remove;
  $("entry-new").onclick = () => edit(null);
  $("import-go").onclick = importFile;
  document.querySelectorAll("[data-export]").forEach(b => b.onclick = () => exportFile(b.dataset.export));
  await loadCategories();
  await loadEntries();
}

bindLogin($("login"), $("message"), start);
if (sessionStorage.getItem("token")) start().catch(() => {});
