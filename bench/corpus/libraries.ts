/**
 * The real-library corpus: what people put in static sites, as npm ships it. Every package here is
 * a pinned devDependency of the repository (package.json), so the corpus is the same bytes on every
 * machine; `build.ts` copies the listed paths into `.bench/corpus/` (git-ignored) and assembles the
 * TodoMVC apps in `todomvc/` around the frameworks' own unminified and minified files.
 *
 * Chosen for the shapes that trip secret scanners: editor grammars (`token: "support.function.…"`),
 * documentation comments with sample credentials (AngularJS's `Authorization: Basic …`), source maps
 * with the original comments, inlined fonts and images as base64, hashes, SRI and UUIDs, SDKs full of
 * `apiKey`/`token`/`password` identifiers (Firebase, TinyMCE), and minified code where any name is a
 * letter and any string may sit next to the word `token`.
 */

export interface Library {
  /** npm package name; its version is the one pinned in package.json. */
  readonly name: string;
  /** Paths inside the package, as a site would copy them (`.` for the whole package). */
  readonly paths: readonly string[];
  readonly why: string;
}

export const LIBRARIES: readonly Library[] = [
  {
    name: "ace-builds",
    paths: ["src-noconflict", "src-min-noconflict"],
    why: "code editor: every language mode, snippet file, theme and worker, unminified and minified",
  },
  {
    name: "monaco-editor",
    paths: ["min", "esm/vs/basic-languages", "esm/vs/language"],
    why: "VS Code's editor: minified build and every language grammar",
  },
  {
    name: "codemirror",
    paths: ["lib", "mode", "addon", "theme"],
    why: "code editor 5: every mode and addon",
  },
  { name: "highlight.js", paths: ["lib", "styles"], why: "syntax highlighter: every language grammar" },
  { name: "prismjs", paths: ["components", "plugins", "themes", "prism.js"], why: "syntax highlighter" },
  { name: "chart.js", paths: ["dist"], why: "charts" },
  { name: "echarts", paths: ["dist"], why: "charts, with maps and source maps" },
  { name: "d3", paths: ["dist"], why: "data visualisation" },
  { name: "plotly.js-dist-min", paths: ["plotly.min.js"], why: "charts, one large minified file" },
  { name: "leaflet", paths: ["dist"], why: "maps" },
  { name: "maplibre-gl", paths: ["dist"], why: "vector maps with workers" },
  {
    name: "ol",
    paths: ["dist", "ol.css"],
    why: "OpenLayers maps: tile providers with `api_key` query strings",
  },
  { name: "mathjax", paths: ["."], why: "math typesetting: TeX input, fonts, speech rules" },
  { name: "katex", paths: ["dist"], why: "math typesetting with fonts" },
  {
    name: "pdfjs-dist",
    paths: ["build", "web", "legacy/build"],
    why: "PDF rendering: viewer, worker, CMaps",
  },
  { name: "react", paths: ["cjs"], why: "UI framework, development and production builds" },
  { name: "react-dom", paths: ["cjs"], why: "UI framework, development and production builds" },
  { name: "vue", paths: ["dist"], why: "UI framework, unminified and minified" },
  { name: "@angular/core", paths: ["fesm2022"], why: "UI framework, flat ES modules with doc comments" },
  { name: "angular", paths: ["."], why: "AngularJS 1.x, unminified with its documentation comments" },
  { name: "preact", paths: ["dist", "hooks/dist"], why: "UI framework" },
  { name: "knockout", paths: ["build/output"], why: "UI framework (TodoMVC classic)" },
  { name: "mithril", paths: ["mithril.js", "mithril.min.js"], why: "UI framework (TodoMVC classic)" },
  { name: "backbone", paths: ["backbone.js", "backbone-min.js", "backbone-min.map"], why: "TodoMVC classic" },
  { name: "underscore", paths: ["underscore.js", "underscore-min.js", "underscore-umd.js"], why: "utility" },
  { name: "lodash", paths: ["lodash.js", "lodash.min.js", "core.js", "fp.js"], why: "utility" },
  { name: "jquery", paths: ["dist"], why: "DOM library" },
  { name: "bootstrap", paths: ["dist"], why: "CSS framework with its JS and source maps" },
  { name: "@fortawesome/fontawesome-free", paths: ["css", "js", "webfonts", "sprites"], why: "icon font" },
  { name: "bootstrap-icons", paths: ["font", "bootstrap-icons.svg"], why: "icon font" },
  { name: "docsify", paths: ["lib"], why: "documentation site generator" },
  { name: "reveal.js", paths: ["dist"], why: "slides" },
  {
    name: "mermaid",
    paths: ["dist/mermaid.js", "dist/mermaid.min.js", "dist/mermaid.esm.min.mjs"],
    why: "diagrams in documentation",
  },
  { name: "marked", paths: ["lib"], why: "Markdown renderer" },
  { name: "dompurify", paths: ["dist"], why: "HTML sanitiser" },
  { name: "swagger-ui-dist", paths: ["."], why: "API documentation: OAuth and API-key forms" },
  { name: "three", paths: ["build"], why: "3D" },
  { name: "tinymce", paths: ["."], why: "rich-text editor with plugins, skins and icons" },
  {
    name: "firebase",
    paths: [
      "firebase-app.js",
      "firebase-app-compat.js",
      "firebase-auth.js",
      "firebase-auth-compat.js",
      "firebase-firestore.js",
      "firebase-database.js",
      "firebase-database-compat.js",
      "firebase-data-connect.js",
      "firebase-storage.js",
      "firebase-compat.js",
    ],
    why: "browser SDK: identity-toolkit endpoints, token and password handling",
  },
  { name: "todomvc-app-css", paths: ["index.css"], why: "TodoMVC's stylesheet" },
  { name: "todomvc-common", paths: ["base.css", "base.js"], why: "TodoMVC's shared script" },
];

/**
 * The many-file benchmark set, a subset of the corpus: ~700 files and ~40 MB, as a page of many
 * modules is (an editor with every mode, a framework's builds, a CSS framework with its maps). Big
 * files alone hide the per-file cost of a scanner (setup, decoding, a process reading 700 files).
 */
export const MANY_FILES: readonly string[] = [
  "ace-builds/src-min-noconflict",
  "codemirror/mode",
  "react-dom/cjs",
  "vue/dist",
  "bootstrap/dist",
  "jquery/dist",
  "angular",
  "todomvc",
];
