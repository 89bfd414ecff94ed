/**
 * Builds the real-library corpus under `.bench/corpus/` (git-ignored) from the pinned npm packages
 * listed in `libraries.ts`, plus TodoMVC apps assembled around the frameworks' own files:
 *
 *   .bench/corpus/libraries/<package>/…     every listed path of every package
 *   .bench/corpus/libraries/todomvc/<app>/  index.html + framework (unminified and minified) + app
 *   .bench/corpus/many-files/…              the ~700-file, ~40 MB benchmark subset (hard links)
 *
 * Rebuilt only when the pinned versions or this folder's sources change (a stamp file says which).
 * `node bench/corpus/build.ts` builds it and prints its size.
 */

import { createHash } from "node:crypto";
import { cp, link, mkdir, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { LIBRARIES, MANY_FILES } from "./libraries.ts";

const root = join(dirname(fileURLToPath(import.meta.url)), "../..");
const modules = join(root, "node_modules");
const here = dirname(fileURLToPath(import.meta.url));
export const CORPUS_DIR = join(root, ".bench/corpus");
export const LIBRARIES_DIR = join(CORPUS_DIR, "libraries");
export const MANY_FILES_DIR = join(CORPUS_DIR, "many-files");

export interface CorpusSize {
  readonly files: number;
  readonly bytes: number;
}

async function pinnedVersions(): Promise<Map<string, string>> {
  const pkg = JSON.parse(await readFile(join(root, "package.json"), "utf8")) as {
    devDependencies: Record<string, string>;
  };
  const versions = new Map<string, string>();
  for (const lib of LIBRARIES) {
    const pinned = pkg.devDependencies[lib.name];
    if (pinned === undefined) throw new Error(`${lib.name} is not a pinned devDependency`);
    const installed = JSON.parse(await readFile(join(modules, lib.name, "package.json"), "utf8")) as {
      version: string;
    };
    if (installed.version !== pinned) {
      throw new Error(`${lib.name}: ${installed.version} installed, ${pinned} pinned; run npm install`);
    }
    versions.set(lib.name, pinned);
  }
  return versions;
}

export async function sizeOf(dir: string): Promise<CorpusSize> {
  let files = 0;
  let bytes = 0;
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    files += 1;
    bytes += (await stat(join(entry.parentPath, entry.name))).size;
  }
  return { files, bytes };
}

/** A TodoMVC page: the project's shared CSS and script, the framework's files, then the app. */
function todoPage(title: string, scripts: readonly string[], body: string, extraHead = ""): string {
  const tags = scripts.map((src) => `    <script src="${src}"></script>`).join("\n");
  return `<!doctype html>
<html lang="en" data-framework="${title}">
  <head>
    <meta charset="utf-8">
    <title>${title} • TodoMVC</title>
    <link rel="stylesheet" href="base.css">
    <link rel="stylesheet" href="index.css">
${extraHead}  </head>
  <body>
${body}
    <footer class="info"><p>Double-click to edit a todo</p><p>Part of <a href="http://todomvc.com">TodoMVC</a></p></footer>
    <script src="base.js"></script>
${tags}
  </body>
</html>
`;
}

const SECTION = `    <section class="todoapp">
      <header class="header"><h1>todos</h1><input class="new-todo" placeholder="What needs to be done?" autofocus></header>
      <section class="main"><ul class="todo-list"></ul></section>
      <footer class="footer"><span class="todo-count"></span></footer>
    </section>`;

interface TodoApp {
  readonly name: string;
  /** Framework files: [package-relative source, file name in the app]. */
  readonly files: readonly (readonly [string, string])[];
  readonly page: string;
}

const TODO_APPS: readonly TodoApp[] = [
  { name: "vanilla", files: [], page: todoPage("vanillajs", ["app.js"], SECTION) },
  {
    name: "jquery",
    files: [
      ["jquery/dist/jquery.js", "jquery.js"],
      ["jquery/dist/jquery.min.js", "jquery.min.js"],
    ],
    page: todoPage("jquery", ["jquery.js", "app.js"], SECTION),
  },
  {
    name: "backbone",
    files: [
      ["jquery/dist/jquery.js", "jquery.js"],
      ["underscore/underscore-umd.js", "underscore.js"],
      ["backbone/backbone.js", "backbone.js"],
      ["backbone/backbone-min.js", "backbone-min.js"],
    ],
    page: todoPage("backbonejs", ["jquery.js", "underscore.js", "backbone.js", "app.js"], SECTION),
  },
  {
    name: "angularjs",
    files: [
      ["angular/angular.js", "angular.js"],
      ["angular/angular.min.js", "angular.min.js"],
    ],
    page: todoPage(
      "angularjs",
      ["angular.js", "app.js"],
      `    <section class="todoapp" ng-app="todomvc" ng-controller="TodoCtrl">
      <header class="header"><h1>todos</h1>
        <form ng-submit="addTodo()"><input class="new-todo" placeholder="What needs to be done?" ng-model="newTodo" autofocus></form></header>
      <section class="main"><ul class="todo-list">
        <li ng-repeat="todo in todos | filter:statusFilter track by $index" ng-class="{completed: todo.completed}">
          <div class="view"><input class="toggle" type="checkbox" ng-model="todo.completed"><label>{{todo.title}}</label>
          <button class="destroy" ng-click="removeTodo(todo)"></button></div></li></ul></section>
      <footer class="footer"><span class="todo-count"><strong>{{remainingCount}}</strong> left</span>
        <button class="clear-completed" ng-click="clearCompleted()">Clear completed</button></footer>
    </section>`,
    ),
  },
  {
    name: "vue",
    files: [
      ["vue/dist/vue.global.js", "vue.global.js"],
      ["vue/dist/vue.global.prod.js", "vue.global.prod.js"],
    ],
    page: todoPage("vue", ["vue.global.js", "app.js"], `    <section class="todoapp"></section>`),
  },
  {
    name: "knockout",
    files: [
      ["knockout/build/output/knockout-latest.debug.js", "knockout.debug.js"],
      ["knockout/build/output/knockout-latest.js", "knockout.js"],
    ],
    page: todoPage(
      "knockoutjs",
      ["knockout.debug.js", "app.js"],
      `    <section class="todoapp">
      <header class="header"><h1>todos</h1><input class="new-todo" data-bind="value: current, event: { change: add }" placeholder="What needs to be done?"></header>
      <ul class="todo-list" data-bind="foreach: todos"><li data-bind="css: { completed: completed }"><div class="view">
        <input class="toggle" type="checkbox" data-bind="checked: completed"><label data-bind="text: title"></label>
        <button class="destroy" data-bind="click: $root.remove"></button></div></li></ul>
      <footer class="footer"><span class="todo-count"><strong data-bind="text: remainingCount"></strong> left</span></footer>
    </section>`,
    ),
  },
  {
    name: "mithril",
    files: [
      ["mithril/mithril.js", "mithril.js"],
      ["mithril/mithril.min.js", "mithril.min.js"],
    ],
    page: todoPage("mithril", ["mithril.js", "app.js"], `    <section class="todoapp"></section>`),
  },
  {
    name: "preact",
    files: [
      ["preact/dist/preact.mjs", "preact.mjs"],
      ["preact/hooks/dist/hooks.mjs", "hooks.mjs"],
    ],
    page: todoPage(
      "preact",
      [],
      `    <script type="importmap">{"imports":{"preact":"./preact.mjs","preact/hooks":"./hooks.mjs"}}</script>
    <script type="module" src="app.js"></script>`,
    ),
  },
];

async function buildTodoApps(out: string): Promise<void> {
  for (const app of TODO_APPS) {
    const dir = join(out, app.name);
    await mkdir(dir, { recursive: true });
    await cp(join(modules, "todomvc-common/base.css"), join(dir, "base.css"));
    await cp(join(modules, "todomvc-common/base.js"), join(dir, "base.js"));
    await cp(join(modules, "todomvc-app-css/index.css"), join(dir, "index.css"));
    for (const [source, name] of app.files) await cp(join(modules, source), join(dir, name));
    await cp(join(here, "todomvc", `${app.name}.js`), join(dir, "app.js"));
    await writeFile(join(dir, "index.html"), app.page);
  }
  // React is bundled, as a React TodoMVC ships: once in development mode unminified (with React's
  // own comments and warnings), once minified for production.
  const esbuild = await import("esbuild");
  for (const [name, production] of [
    ["react", false],
    ["react-min", true],
  ] as const) {
    const dir = join(out, name);
    await mkdir(dir, { recursive: true });
    await esbuild.build({
      entryPoints: [join(here, "todomvc/react.jsx")],
      bundle: true,
      format: "iife",
      minify: production,
      sourcemap: production,
      jsx: "automatic",
      define: { "process.env.NODE_ENV": JSON.stringify(production ? "production" : "development") },
      outfile: join(dir, "app.js"),
      logLevel: "silent",
    });
    await cp(join(modules, "todomvc-common/base.css"), join(dir, "base.css"));
    await cp(join(modules, "todomvc-common/base.js"), join(dir, "base.js"));
    await cp(join(modules, "todomvc-app-css/index.css"), join(dir, "index.css"));
    await writeFile(
      join(dir, "index.html"),
      todoPage("react", ["app.js"], `    <section class="todoapp"></section>`),
    );
  }
}

/** Hard-links (or copies, across devices) every file of `from` into `to`. */
async function linkTree(from: string, to: string): Promise<void> {
  const info = await stat(from);
  if (info.isFile()) {
    await mkdir(dirname(to), { recursive: true });
    await link(from, to).catch(() => cp(from, to));
    return;
  }
  for (const entry of await readdir(from, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const source = join(entry.parentPath, entry.name);
    const target = join(to, relative(from, source));
    await mkdir(dirname(target), { recursive: true });
    await link(source, target).catch(() => cp(source, target));
  }
}

async function stampOf(versions: Map<string, string>): Promise<string> {
  const hash = createHash("sha256");
  hash.update(JSON.stringify([...versions]));
  for (const entry of await readdir(here, { recursive: true, withFileTypes: true })) {
    if (entry.isFile()) hash.update(await readFile(join(entry.parentPath, entry.name)));
  }
  return hash.digest("hex");
}

export interface Corpus {
  readonly libraries: CorpusSize;
  readonly manyFiles: CorpusSize;
  readonly packages: number;
}

/** Builds the corpus if it is missing or stale; returns its size. */
export async function buildCorpus(): Promise<Corpus> {
  const versions = await pinnedVersions();
  const stamp = await stampOf(versions);
  const stampFile = join(CORPUS_DIR, "stamp");
  const current = await readFile(stampFile, "utf8").catch(() => "");
  if (current !== stamp) {
    await rm(CORPUS_DIR, { recursive: true, force: true });
    for (const lib of LIBRARIES) {
      for (const path of lib.paths) {
        await cp(join(modules, lib.name, path), join(LIBRARIES_DIR, lib.name, path), { recursive: true });
      }
    }
    await buildTodoApps(join(LIBRARIES_DIR, "todomvc"));
    for (const path of MANY_FILES) await linkTree(join(LIBRARIES_DIR, path), join(MANY_FILES_DIR, path));
    // Both are bundles: `mini-sites validate` needs an entry page at the root.
    for (const dir of [LIBRARIES_DIR, MANY_FILES_DIR]) {
      await writeFile(join(dir, "index.html"), "<!doctype html><title>library corpus</title>\n");
    }
    await writeFile(stampFile, stamp);
  }
  return {
    libraries: await sizeOf(LIBRARIES_DIR),
    manyFiles: await sizeOf(MANY_FILES_DIR),
    packages: versions.size,
  };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const corpus = await buildCorpus();
  const mb = (s: CorpusSize) => `${s.files} files, ${(s.bytes / 1e6).toFixed(1)} MB`;
  console.log(`libraries (${corpus.packages} packages + TodoMVC apps): ${mb(corpus.libraries)}`);
  console.log(`many-files subset: ${mb(corpus.manyFiles)}`);
}
