/**
 * The local Confluence's page (host.ts serves it): spaces and pages, a user switcher, light/dark,
 * edit mode with the macro's config, copy, trash/restore/delete, the PDF-export preview, the admin
 * page — and the browser half of the Forge host: every frame of the app's Custom UI talks to this
 * page through the frame-side bridge (forge/bridge-frame.js). Calls that need Forge's servers
 * (getContext, invoke, invokeRemote, requestRemote) go to host.ts; page-side calls (submit, close,
 * navigate, openModal, emit/on, enableTheming, frame sizing) are answered here.
 * A message is taken only from a frame this page made, on the CDN's origin.
 */

const boot = JSON.parse(document.getElementById("bootstrap").textContent);
const frames = new Map(); // frame id → { element, ref, themed, subscriptions: Map<event, callbackId[]> }
let theme = localStorage.getItem("confluence-theme") === "dark" ? "dark" : "light";
let nextFrame = 1;

const CSS = `
:root { color-scheme: light; --bg:#fff; --fg:#172b4d; --muted:#626f86; --line:#dcdfe4; --side:#f7f8f9; --brand:#0c66e4; }
:root[data-color-mode="dark"] { color-scheme: dark; --bg:#1d2125; --fg:#b6c2cf; --muted:#8c9bab; --line:#2c333a; --side:#161a1d; --brand:#579dff; }
body { margin:0; font:14px/20px -apple-system, "Segoe UI", Roboto, sans-serif; background:var(--bg); color:var(--fg); }
header { display:flex; gap:12px; align-items:center; padding:8px 16px; border-bottom:1px solid var(--line); }
header .brand { font-weight:700; color:var(--brand); margin-right:auto; }
.layout { display:flex; min-height:calc(100vh - 50px); }
nav { width:240px; background:var(--side); padding:12px; border-right:1px solid var(--line); }
nav a { display:block; color:var(--fg); text-decoration:none; padding:4px 6px; border-radius:3px; }
nav a[aria-current="page"] { background:var(--line); }
main { flex:1; padding:16px 32px; max-width:960px; }
.toolbar { display:flex; gap:8px; margin:8px 0 16px; flex-wrap:wrap; }
button, select { font:inherit; }
.banner { padding:8px 12px; border:1px solid #e56910; border-radius:3px; margin-bottom:12px; }
.macro { border:1px dashed transparent; margin:12px 0; }
.editing .macro { border-color:var(--brand); padding:4px; }
.macro iframe { width:100%; border:0; display:block; height:120px; }
.modal { position:fixed; inset:0; background:rgba(9,30,66,.54); display:flex; align-items:flex-start; justify-content:center; padding-top:40px; }
.modal .dialog { background:var(--bg); width:min(960px, 92vw); max-height:86vh; overflow:auto; border-radius:6px; padding:12px; }
.modal .dialog header { border:0; padding:0 0 8px; }
.modal iframe { width:100%; border:0; height:400px; }
.admin iframe { width:100%; border:0; height:600px; }
.muted { color:var(--muted); }
`;

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (value !== undefined && value !== null && value !== false)
      node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat()) if (child !== null && child !== undefined) node.append(child);
  return node;
}

async function post(path, body) {
  const response = await fetch(path, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body ?? {}),
  });
  const answer = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(answer.error || `HTTP ${response.status}`);
  return answer;
}

function themeState() {
  return {
    colorMode: theme,
    dataTheme: `dark:dark light:light spacing:spacing typography:typography-adg3 shape:shape`,
  };
}

/** A frame of the app's Custom UI: the resource's URL from the local CDN, registered for messages. */
function appFrame(resource, ref, extraClass) {
  const id = `f${nextFrame++}`;
  const src = boot.resources[resource].replace("FRAME", id);
  // Confluence's Custom UI frame: no allow-popups (DESIGN §3), so links go through the router.
  const element = el("iframe", {
    src,
    title: `${resource} (Mini-Sites)`,
    sandbox: "allow-downloads allow-forms allow-modals allow-pointer-lock allow-same-origin allow-scripts",
    "data-frame": id,
    "data-resource": resource,
    class: extraClass,
  });
  frames.set(id, { element, ref: { ...ref, theme }, themed: false, subscriptions: new Map() });
  return element;
}

function send(id, message) {
  const frame = frames.get(id);
  frame?.element.contentWindow?.postMessage({ __forgeStandIn: true, ...message }, boot.cdnOrigin);
}

async function answer(id, data) {
  const frame = frames.get(id);
  const reply = (ok, value) =>
    send(id, { type: "reply", id: data.id, ok, ...(ok ? { value } : { error: value }) });
  try {
    switch (data.name) {
      case "getContext":
      case "invoke":
      case "fetchRemote": {
        const result = await post("/__host/bridge", {
          frame: { ...frame.ref, theme },
          name: data.name,
          payload: data.payload,
        });
        return reply(true, result.value);
      }
      case "enableTheming":
        frame.themed = true;
        return reply(true, themeState());
      case "submit": {
        if (frame.ref.module !== "config") return reply(true, false);
        await post(`/__host/pages/${frame.ref.pageId}/config`, {
          localId: frame.ref.localId,
          config: data.payload?.config ?? {},
        });
        closeModal(id);
        reloadMacro(frame.ref.localId);
        return reply(true, true);
      }
      case "close": {
        const closed = closeModal(id, data.payload);
        return reply(true, closed);
      }
      case "navigate": {
        const target = data.payload?.url ?? data.payload;
        window.__navigations = [
          ...(window.__navigations ?? []),
          { url: String(target), type: data.payload?.type },
        ];
        if (data.payload?.type === "new-tab") window.open(String(target), "_blank", "noopener");
        else location.assign(String(target));
        return reply(true, null);
      }
      case "openModal": {
        openModal(
          data.payload?.resource ?? frame.element.dataset.resource,
          { ...frame.ref, modal: data.payload?.context ?? {} },
          {
            title: data.payload?.title ?? "",
            opener: id,
            onClose: data.payload?.onClose?.__callback,
          },
        );
        return reply(true, true);
      }
      case "on": {
        const list = frame.subscriptions.get(data.payload.event) ?? [];
        list.push(data.payload.callback.__callback);
        frame.subscriptions.set(data.payload.event, list);
        return reply(true, null);
      }
      case "emit": {
        for (const [other, target] of frames)
          for (const callbackId of target.subscriptions.get(data.payload.event) ?? [])
            send(other, { type: "callback", callbackId, args: [data.payload.payload] });
        return reply(true, null);
      }
      default:
        return reply(false, `The local Confluence does not provide "${data.name}".`);
    }
  } catch (error) {
    return reply(false, error.message);
  }
}

window.addEventListener("message", (event) => {
  if (event.origin !== boot.cdnOrigin) return;
  const data = event.data;
  if (data?.__forgeStandIn !== true) return;
  const frame = frames.get(data.frameId);
  if (!frame || frame.element.contentWindow !== event.source) return;
  if (data.type === "resize") frame.element.style.height = `${Math.max(40, Math.min(data.height, 20000))}px`;
  if (data.type === "call") answer(data.frameId, data);
});

let modal = null;
function openModal(resource, ref, { title, opener, onClose }) {
  const frame = appFrame(resource, ref);
  modal = { element: null, frameId: frame.dataset.frame, opener, onClose };
  modal.element = el(
    "div",
    { class: "modal", "data-testid": "modal" },
    el(
      "div",
      { class: "dialog", role: "dialog" },
      el(
        "header",
        {},
        el("strong", {}, title),
        el("button", { onclick: () => closeModal(modal?.frameId) }, "Close"),
      ),
      frame,
    ),
  );
  document.body.append(modal.element);
}

function closeModal(frameId, payload) {
  if (modal === null || modal.frameId !== frameId) return false;
  modal.element.remove();
  frames.delete(modal.frameId);
  if (modal.opener && modal.onClose)
    send(modal.opener, { type: "callback", callbackId: modal.onClose, args: [payload] });
  modal = null;
  return true;
}

/** The app's macro modules by key; a block without one is the Mini-site macro. */
const MINI_SITE_MACRO = "mini-sites-macro";

function macroFrame(block) {
  const ref = {
    module: "macro",
    pageId: boot.page.id,
    localId: block.macro.localId,
    isEditing: boot.mode === "edit",
  };
  const resource = boot.macroResources?.[block.macro.moduleKey ?? MINI_SITE_MACRO] ?? "view";
  return appFrame(resource, ref);
}

function reloadMacro(localId) {
  const holder = document.querySelector(`[data-local-id="${localId}"] .macro-frame`);
  if (!holder) return location.reload();
  for (const [id, frame] of frames)
    if (frame.ref.module === "macro" && frame.ref.localId === localId) frames.delete(id);
  holder.replaceChildren(macroFrame({ macro: { localId } }));
}

function openConfig(localId) {
  openModal(
    "publisher",
    { module: "config", pageId: boot.page.id, localId },
    { title: "Publish a mini-site" },
  );
}

async function pageAction(action, body) {
  try {
    const result = await post(`/__host/pages/${boot.page.id}/${action}`, body);
    if (action === "copy") location.assign(result.url);
    else if (action === "insert-macro") {
      location.assign(`${location.pathname}?mode=edit&config=${result.localId}`);
    } else location.reload();
  } catch (error) {
    alert(error.message);
  }
}

function topBar() {
  const users = el(
    "select",
    {
      "data-testid": "user-switcher",
      "aria-label": "Signed in as",
      onchange: async (e) => {
        await post("/__host/session", { user: e.target.value });
        location.reload();
      },
    },
    boot.users.map((u) => el("option", { value: u, selected: u === boot.user }, u)),
  );
  const themeButton = el(
    "button",
    {
      "data-testid": "theme-toggle",
      onclick: () => {
        theme = theme === "dark" ? "light" : "dark";
        localStorage.setItem("confluence-theme", theme);
        applyTheme();
      },
    },
    "Light / dark",
  );
  const sites = boot.sites.map((s) =>
    el("a", { href: `${s.url}/wiki/`, "aria-current": s.key === boot.site.key ? "page" : false }, s.name),
  );
  return el(
    "header",
    {},
    el("span", { class: "brand" }, `Confluence (local) · ${boot.site.name}`),
    ...sites,
    boot.admin
      ? el("a", { href: "/wiki/admin/mini-sites", "data-testid": "admin-link" }, "Mini-Sites admin")
      : null,
    themeButton,
    users,
  );
}

function applyTheme() {
  document.documentElement.dataset.colorMode = theme;
  for (const [id, frame] of frames) {
    frame.ref.theme = theme;
    if (frame.themed) send(id, { type: "theme", theme: themeState() });
  }
}

function sideNav() {
  return el(
    "nav",
    {},
    boot.site.spaces.map((space) => el("h3", {}, space.name)),
    boot.pages.map((p) =>
      el(
        "a",
        {
          href: `/wiki/spaces/${p.spaceKey}/pages/${p.id}`,
          "aria-current": boot.page?.id === p.id ? "page" : false,
        },
        `${p.type === "blogpost" ? "✎ " : ""}${p.title}${p.status === "trashed" ? " (trashed)" : ""}`,
      ),
    ),
  );
}

function pageView() {
  const page = boot.page;
  const editing = boot.mode === "edit";
  const actions = [];
  if (page.canEdit) {
    if (page.status === "current") {
      actions.push(
        editing
          ? el(
              "button",
              { "data-testid": "close-editor", onclick: () => location.assign(location.pathname) },
              "Close editor",
            )
          : el(
              "button",
              {
                "data-testid": "edit-page",
                onclick: () => location.assign(`${location.pathname}?mode=edit`),
              },
              "Edit",
            ),
        el("button", { "data-testid": "copy-page", onclick: () => pageAction("copy") }, "Copy"),
        el("button", { "data-testid": "trash-page", onclick: () => pageAction("trash") }, "Move to trash"),
      );
    } else {
      actions.push(
        el("button", { "data-testid": "restore-page", onclick: () => pageAction("restore") }, "Restore"),
        el(
          "button",
          { "data-testid": "delete-page", onclick: () => pageAction("delete") },
          "Delete for good",
        ),
      );
    }
  }
  actions.push(
    el(
      "a",
      { href: `/wiki/spaces/${page.spaceKey}/pdfexport/${page.id}`, "data-testid": "export-page" },
      "Export to PDF",
    ),
  );
  if (editing)
    actions.push(
      el(
        "button",
        { "data-testid": "insert-macro", onclick: () => pageAction("insert-macro") },
        "Insert Mini-site",
      ),
    );
  // A trashed page still opens, read only, with its macros (Confluence shows it from the space's trash).
  const body = [
    page.status === "trashed"
      ? el("p", { class: "banner", "data-testid": "trashed-banner" }, "This page is in the trash.")
      : null,
    ...page.body.map((block) => {
      if (block.text !== undefined) return el("p", {}, block.text);
      return el(
        "div",
        { class: "macro", "data-local-id": block.macro.localId, "data-testid": "macro" },
        editing && (block.macro.moduleKey ?? MINI_SITE_MACRO) === MINI_SITE_MACRO
          ? el(
              "button",
              { "data-testid": "edit-macro", onclick: () => openConfig(block.macro.localId) },
              "Edit Mini-site",
            )
          : null,
        el("div", { class: "macro-frame" }, macroFrame(block)),
      );
    }),
  ];
  return el(
    "main",
    { class: editing ? "editing" : "" },
    el("h1", { "data-testid": "page-title" }, page.title),
    page.restricted ? el("p", { class: "muted" }, "🔒 Restricted page") : null,
    el("div", { class: "toolbar" }, actions),
    body,
  );
}

/**
 * Confluence's "Manage apps" for this site, outside the app: the Marketplace license its FITs carry
 * (none = a development install, nothing enforced), and uninstall / install, which deliver the
 * preUninstall and installed events to the app.
 */
function appPanel() {
  const names = { none: "No Marketplace license (development)", active: "Active", inactive: "Lapsed" };
  const license = el(
    "select",
    {
      "data-testid": "license-switcher",
      "aria-label": "Marketplace license",
      onchange: async (e) => {
        await post("/__host/app/license", { license: e.target.value });
        location.reload();
      },
    },
    boot.app.licenses.map((l) => el("option", { value: l, selected: l === boot.app.license }, names[l])),
  );
  const toggle = el(
    "button",
    {
      "data-testid": boot.app.installed ? "uninstall-app" : "install-app",
      onclick: async () => {
        await post(`/__host/app/${boot.app.installed ? "uninstall" : "install"}`, {});
        location.reload();
      },
    },
    boot.app.installed ? "Uninstall Mini-Sites" : "Install Mini-Sites",
  );
  return el(
    "section",
    { class: "toolbar", "data-testid": "app-panel" },
    el("strong", {}, "Manage apps · Mini-Sites"),
    el("label", {}, "License ", license),
    toggle,
    boot.app.installed ? null : el("span", { class: "muted" }, "Not installed on this site."),
  );
}

function adfToHtml(node) {
  if (node.type === "text") {
    let out = document.createTextNode(node.text);
    for (const mark of node.marks ?? []) {
      if (mark.type === "strong") out = el("strong", {}, out);
      if (mark.type === "link") out = el("a", { href: mark.attrs.href }, out);
    }
    return out;
  }
  const tag = { doc: "div", paragraph: "p", panel: "aside" }[node.type] ?? "div";
  return el(tag, { "data-adf": node.type }, (node.content ?? []).map(adfToHtml));
}

function render() {
  const style = el("style", {}, CSS);
  document.head.append(style);
  const app = document.getElementById("app");
  app.append(topBar());
  if (boot.view === "page") app.append(el("div", { class: "layout" }, sideNav(), pageView()));
  else if (boot.view === "admin")
    app.append(
      el(
        "div",
        { class: "layout" },
        sideNav(),
        el("main", { class: "admin" }, appPanel(), appFrame("admin", { module: "admin" })),
      ),
    );
  else if (boot.view === "export")
    app.append(
      el(
        "main",
        { "data-testid": "export-view" },
        el("h1", {}, boot.page.title),
        boot.page.body.filter((b) => b.text !== undefined).map((b) => el("p", {}, b.text)),
        boot.export.map(adfToHtml),
      ),
    );
  else
    app.append(
      el(
        "main",
        {},
        el("h1", {}, "Page not found"),
        el("p", {}, "It does not exist, or you may not see it."),
      ),
    );
  applyTheme();
  const configFor = new URLSearchParams(location.search).get("config");
  if (configFor && boot.mode === "edit") openConfig(configFor);
}

render();
