// TodoMVC without a framework: the store is an array in localStorage, the view is rebuilt on change.
const STORAGE_KEY = "todos-vanilla";
const state = { todos: JSON.parse(localStorage.getItem(STORAGE_KEY) ?? "[]"), filter: "all" };

const visible = () =>
  state.todos.filter((t) =>
    state.filter === "active" ? !t.completed : state.filter === "completed" ? t.completed : true,
  );

function save() {
  localStorage.setItem(STORAGE_KEY, JSON.stringify(state.todos));
  render();
}

function render() {
  const list = document.querySelector(".todo-list");
  list.replaceChildren(
    ...visible().map((todo) => {
      const li = document.createElement("li");
      li.className = todo.completed ? "completed" : "";
      li.innerHTML =
        '<div class="view"><input class="toggle" type="checkbox"><label></label><button class="destroy"></button></div>';
      li.querySelector("label").textContent = todo.title;
      const toggle = li.querySelector(".toggle");
      toggle.checked = todo.completed;
      toggle.addEventListener("change", () => {
        todo.completed = toggle.checked;
        save();
      });
      li.querySelector(".destroy").addEventListener("click", () => {
        state.todos = state.todos.filter((t) => t !== todo);
        save();
      });
      return li;
    }),
  );
  const left = state.todos.filter((t) => !t.completed).length;
  document.querySelector(".todo-count").textContent = `${left} item${left === 1 ? "" : "s"} left`;
}

document.querySelector(".new-todo").addEventListener("keydown", (event) => {
  const title = event.target.value.trim();
  if (event.key !== "Enter" || title === "") return;
  state.todos.push({ id: Date.now(), title, completed: false });
  event.target.value = "";
  save();
});
window.addEventListener("hashchange", () => {
  state.filter = location.hash.replace("#/", "") || "all";
  render();
});
render();
