/**
 * The bootstrap script the gateway adds to every HTML document it serves (never a file of the
 * site). Two jobs (DESIGN §3 Serve):
 * - auto-resize: report the document height to the macro view. Sent with target origin EMBED_ORIGIN
 *   when configured, else `*`: a height says nothing worth hiding;
 * - links: Forge's Custom UI frame has no `allow-popups`, and a nested frame cannot have more than its
 *   parent, so clicks on external links and `target=_blank` (and `window.open`) are handed to the
 *   macro view, which opens them with Forge's router. A URL may be private, so this is sent only to
 *   EMBED_ORIGIN; without it links are left to the browser.
 * Inline script is allowed by the site CSP; no inline handlers. The site can tamper with the script
 * (same origin) — it only ever talks to its own parent, so that gains it nothing.
 */

export const MESSAGE_HEIGHT = "mini-sites:height";
export const MESSAGE_OPEN = "mini-sites:open";
export const BOOTSTRAP_MARKER = "data-mini-sites-bootstrap";

export function bootstrapScript(embedOrigin: string | undefined): string {
  // JSON is valid JS; `<` is escaped so no value can close the script element.
  const origin = JSON.stringify(embedOrigin ?? null).replace(/</g, "\\u003c");
  const js =
    `(()=>{const P=window.parent,O=${origin};if(P===window)return;let H=-1;` +
    `const send=()=>{const e=document.documentElement,h=Math.ceil(Math.max(e.scrollHeight,document.body?document.body.scrollHeight:0));` +
    `if(h!==H){H=h;P.postMessage({type:${JSON.stringify(MESSAGE_HEIGHT)},height:h},O||"*")}};` +
    `addEventListener("load",send);addEventListener("resize",send);` +
    `document.addEventListener("DOMContentLoaded",()=>{send();if(window.ResizeObserver)new ResizeObserver(send).observe(document.documentElement)});` +
    `if(!O)return;const open=(u)=>{let url;try{url=new URL(u,location.href)}catch{return false}` +
    `if(url.protocol!=="https:"&&url.protocol!=="http:")return false;` +
    `P.postMessage({type:${JSON.stringify(MESSAGE_OPEN)},url:url.href},O);return true};` +
    `addEventListener("click",(e)=>{if(e.defaultPrevented||e.button!==0)return;` +
    `const a=e.target instanceof Element?e.target.closest("a[href]"):null;if(!a)return;` +
    `const url=new URL(a.href,location.href);if(a.target!=="_blank"&&url.origin===location.origin)return;` +
    `if(open(url.href))e.preventDefault()});` +
    `window.open=(u)=>{open(String(u));return null}})();`;
  return `<script ${BOOTSTRAP_MARKER}>${js}</script>`;
}

/**
 * Adds the script just before `</head>` (after any `<meta charset>`, before the body's scripts), else
 * first thing in `<body>`, else at the end of a document that has neither tag (a fragment-only file).
 */
export function injectBootstrap(response: Response, script: string): Response {
  let injected = false;
  return new HTMLRewriter()
    .on("head", {
      element(head) {
        if (injected) return;
        injected = true;
        head.append(script, { html: true });
      },
    })
    .on("body", {
      element(body) {
        if (injected) return;
        injected = true;
        body.prepend(script, { html: true });
      },
    })
    .onDocument({
      end(end) {
        if (injected) return;
        injected = true;
        end.append(script, { html: true });
      },
    })
    .transform(response);
}
