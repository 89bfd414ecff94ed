// TodoMVC on Preact with hooks, as ES modules through an import map (no build step).
import { h, render } from "preact";
import { useEffect, useState } from "preact/hooks";

const STORAGE_KEY = "todos-preact";

function App() {
  const [todos, setTodos] = useState(() => JSON.parse(localStorage.getItem(STORAGE_KEY) || "[]"));
  useEffect(() => localStorage.setItem(STORAGE_KEY, JSON.stringify(todos)), [todos]);
  const onKeyDown = (e) => {
    const title = e.target.value.trim();
    if (e.key !== "Enter" || !title) return;
    setTodos([...todos, { id: Date.now(), title, completed: false }]);
    e.target.value = "";
  };
  const toggle = (id) => setTodos(todos.map((t) => (t.id === id ? { ...t, completed: !t.completed } : t)));
  return h("section", { class: "todoapp" }, [
    h("header", { class: "header" }, [
      h("h1", null, "todos"),
      h("input", { class: "new-todo", placeholder: "What needs to be done?", onKeyDown }),
    ]),
    h(
      "ul",
      { class: "todo-list" },
      todos.map((t) =>
        h("li", { key: t.id, class: t.completed ? "completed" : "" }, [
          h("input", {
            class: "toggle",
            type: "checkbox",
            checked: t.completed,
            onChange: () => toggle(t.id),
          }),
          h("label", null, t.title),
          h("button", { class: "destroy", onClick: () => setTodos(todos.filter((x) => x.id !== t.id)) }),
        ]),
      ),
    ),
  ]);
}
render(h(App), document.body);
