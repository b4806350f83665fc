// Attachments (附件): a file goes up with a reply or a note (multipart), and each one in
// the history downloads on click. A download needs the bearer token, which a plain link
// cannot send: the file is fetched and saved from a blob URL.
import {explain, fill, humanSize, make, t} from "./ticket_shared.js";

export const ZH = {
  attach: "附件", attachment: "附件", too_large: "文件太大，未上传：{why}",
  wrong_type: "不接受此文件类型，未上传：{why}", file_refused: "文件未上传：{why}",
  download: "下载 {name}",
};
export const EN = {
  attach: "Attach a file", attachment: "Attachment", too_large: "File too large, not uploaded: {why}",
  wrong_type: "File type not accepted, not uploaded: {why}", file_refused: "File not uploaded: {why}",
  download: "Download {name}",
};

// POST the file with its comment. common.js's api() speaks JSON only: this is multipart,
// and the browser writes the boundary itself (no Content-Type of ours).
export async function upload(ticketId, file, isPublic, body) {
  const form = new FormData();
  form.append("public", String(isPublic));
  if (body) form.append("body", body);
  form.append("file", file);
  const r = await fetch(`/api/tickets/${ticketId}/attachments`, {
    method: "POST", headers: {Authorization: "Bearer " + sessionStorage.getItem("token")}, body: form,
  });
  if (!r.ok) {
    let detail = r.statusText;
    try { const j = await r.json(); detail = typeof j.detail === "string" ? j.detail : JSON.stringify(j.detail); } catch (_) {}
    throw new ApiError(r.status, detail);
  }
  return r.json();
}

// What the agent reads when an upload is refused: 413 and 415 by name, then the server's why.
export function uploadRefusal(error) {
  const key = {413: "too_large", 415: "wrong_type"}[error.status] || "file_refused";
  return fill(t(key), {why: explain(error)});
}

async function save(item) {
  const blob = await (await api(item.url)).blob();
  const url = URL.createObjectURL(blob);
  const link = make("a", {href: url, download: item.filename});
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

// One attachment as a download button: file name and size.
export function fileButton(item, onError) {
  const button = make("button", {type: "button", className: "file", title: fill(t("download"), {name: item.filename})},
    make("span", {className: "clip", textContent: "↓ "}), item.filename,
    make("span", {className: "muted", textContent: ` ${humanSize(item.size)}`}));
  button.dataset.attachment = item.id;
  button.onclick = () => save(item).catch(onError);
  return button;
}
