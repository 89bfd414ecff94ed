// TodoMVC on Mithril: a plain store object and components that redraw on events.
/* global m */
const STORAGE_KEY = "todos-mithril";
const store = {
  todos: JSON.parse(localStorage.getItem(STORAGE_KEY) || "[]"),
  save() {
    localStorage.setItem(STORAGE_KEY, JSON.stringify(store.todos));
  },
};
const Todos = {
  view: () => [
    m("header.header", [
      m("h1", "todos"),
      m("input.new-todo[placeholder=What needs to be done?]", {
        onkeyup: (e) => {
          if (e.key !== "Enter" || !e.target.value.trim()) return;
          store.todos.push({ title: e.target.value.trim(), completed: false });
          e.target.value = "";
          store.save();
        },
      }),
    ]),
    m(
      "ul.todo-list",
      store.todos.map((todo) =>
        m("li", { class: todo.completed ? "completed" : "" }, [
          m("input.toggle[type=checkbox]", {
            checked: todo.completed,
            onclick: () => {
              todo.completed = !todo.completed;
              store.save();
            },
          }),
          m("label", todo.title),
          m("button.destroy", {
            onclick: () => {
              store.todos.splice(store.todos.indexOf(todo), 1);
              store.save();
            },
          }),
        ]),
      ),
    ),
  ],
};
m.mount(document.querySelector(".todoapp"), Todos);
