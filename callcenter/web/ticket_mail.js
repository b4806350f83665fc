// The ticket's mails (邮件) in and out with their delivery status, and the customer's
// portal link, so an agent can see whether a reply left and hand the customer a way in.
import {el, explain, fill, fmtTime, json, make, say, t} from "./ticket_shared.js";

export const ZH = {
  mails: "邮件（{n}）", mail_in: "收到", mail_out: "发给", ms_sent: "已发送", ms_failed: "发送失败",
  ms_queued: "排队中", ms_received: "已收到", attempts: "尝试 {n} 次", portal_link: "复制客户门户链接",
  copied: "链接已复制，可以发给客户。", copy_it: "请从框中复制链接。", link_until: "有效期至 {time}",
};
export const EN = {
  mails: "Mails ({n})", mail_in: "From", mail_out: "To", ms_sent: "Sent", ms_failed: "Failed",
  ms_queued: "Queued", ms_received: "Received", attempts: "{n} attempts", portal_link: "Copy the customer's portal link",
  copied: "Link copied: give it to the customer.", copy_it: "Copy the link from the box.",
  link_until: "valid until {time}",
};

export async function loadMails(id) {
  return (await json(`/api/tickets/${id}/mails`).catch(() => ({items: []}))).items;
}

export function renderMails(mails) {
  el("mails").hidden = mails.length === 0;
  el("mails-title").textContent = fill(t("mails"), {n: mails.length});
  el("mail-list").replaceChildren(...mails.map(mail => {
    const status = make("span", {className: `badge mail-${mail.status}`, textContent: t("ms_" + mail.status)});
    const li = make("li", {},
      make("span", {className: "muted", textContent: `${fmtTime(mail.sent_at || mail.created_at)} · `}),
      `${t(mail.direction === "in" ? "mail_in" : "mail_out")} ${mail.address} `, status);
    if (mail.direction === "out" && mail.attempts > 1) li.append(make("span", {className: "muted", textContent: ` ${fill(t("attempts"), {n: mail.attempts})}`}));
    if (mail.error) li.append(make("div", {className: "mail-error", textContent: mail.error}));
    li.dataset.status = mail.status;
    return li;
  }));
}

export function forgetPortalLink() {
  el("portal-url").hidden = true;
  el("portal-url").value = "";
}

// The link is shown in a box as well: the clipboard needs a secure context and focus.
async function copyPortalLink(ticketId) {
  say("");
  let link;
  try {
    link = await json(`/api/tickets/${ticketId}/portal-link`);
  } catch (error) {
    say(explain(error), true);
    return;
  }
  const box = el("portal-url");
  box.value = link.url;
  box.title = fill(t("link_until"), {time: fmtTime(link.expires_at)});
  box.hidden = false;
  box.select();
  try {
    await navigator.clipboard.writeText(link.url);
    say(t("copied"));
  } catch (_) {
    say(t("copy_it"));
  }
}

export function bindMail(currentId) {
  el("portal-link").onclick = () => copyPortalLink(currentId());
}
