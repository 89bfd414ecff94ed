/**
 * The frame side of the Forge bridge, as the local Custom UI CDN injects it at the top of each
 * resource's <head> (cdn.ts) — the one global `@forge/bridge` needs, present before the app's module
 * loads: `globalThis.__bridge.callBridge(name, payload) → Promise`.
 *
 * Every call goes to the host page (the Confluence stand-in, host-page.js) by postMessage, to the
 * host origin named in this script's URL only; answers are taken from that window and origin only.
 * Functions cannot cross postMessage, so callbacks in a payload (`on`'s callback, `openModal`'s
 * onClose) stay here under an id, and the host calls them back by id.
 *
 * It also does what Forge's own frame script does: applies the theme when the host sends one (the
 * `data-color-mode` / `data-theme` attributes and the token style sheet), and reports the document's
 * height so the host can size the frame (Custom UI frames follow their content).
 */
(() => {
  const script = document.currentScript;
  const params = new URL(script.src).searchParams;
  const frameId = params.get("frame") || "";
  const hostOrigin = params.get("host") || "";
  const pending = new Map();
  const callbacks = new Map();
  let nextId = 1;

  const post = (message) =>
    window.parent.postMessage({ __forgeStandIn: true, frameId, ...message }, hostOrigin);

  /** Replaces functions (at any depth) with `{__callback: id}`; the host calls them back by id. */
  const withoutFunctions = (value) => {
    if (typeof value === "function") {
      const id = `cb${nextId++}`;
      callbacks.set(id, value);
      return { __callback: id };
    }
    if (Array.isArray(value)) return value.map(withoutFunctions);
    if (value !== null && typeof value === "object" && Object.getPrototypeOf(value) === Object.prototype) {
      const out = {};
      for (const [key, item] of Object.entries(value)) out[key] = withoutFunctions(item);
      return out;
    }
    return value;
  };

  const applyTheme = (theme) => {
    if (!theme) return;
    const root = document.documentElement;
    root.setAttribute("data-color-mode", theme.colorMode);
    root.setAttribute("data-theme", theme.dataTheme);
    if (!document.querySelector("link[data-forge-tokens]")) {
      const link = document.createElement("link");
      link.rel = "stylesheet";
      link.href = "/__forge/tokens.css";
      link.setAttribute("data-forge-tokens", "");
      document.head.appendChild(link);
    }
  };

  window.addEventListener("message", (event) => {
    if (event.source !== window.parent || event.origin !== hostOrigin) return;
    const data = event.data;
    if (data?.__forgeStandIn !== true) return;
    if (data.type === "reply") {
      const call = pending.get(data.id);
      if (!call) return;
      pending.delete(data.id);
      if (data.ok) call.resolve(data.value);
      else call.reject(new Error(data.error));
    } else if (data.type === "callback") {
      const callback = callbacks.get(data.callbackId);
      if (callback) callback(...(data.args || []));
    } else if (data.type === "theme") {
      applyTheme(data.theme);
    }
  });

  globalThis.__bridge = {
    callBridge(name, payload) {
      return new Promise((resolve, reject) => {
        const id = `c${nextId++}`;
        pending.set(id, {
          resolve: (value) => {
            if (name === "enableTheming") applyTheme(value);
            resolve(name === "enableTheming" ? undefined : value);
          },
          reject,
        });
        post({ type: "call", id, name, payload: withoutFunctions(payload) });
      });
    },
  };

  // Size reports: the host sets the frame's height to the document's.
  let reported = -1;
  const report = () => {
    const height = Math.ceil(document.documentElement.getBoundingClientRect().height);
    if (height !== reported) {
      reported = height;
      post({ type: "resize", height });
    }
  };
  document.addEventListener("DOMContentLoaded", () => {
    report();
    new ResizeObserver(report).observe(document.documentElement);
  });
  window.addEventListener("load", report);
})();
