// TodoMVC on React 19, bundled with esbuild (once unminified in development mode, once minified).
import { useEffect, useState } from "react";
import { createRoot } from "react-dom/client";

const STORAGE_KEY = "todos-react";

function TodoItem({ todo, onToggle, onDestroy }) {
  return (
    <li className={todo.completed ? "completed" : ""}>
      <div className="view">
        <input className="toggle" type="checkbox" checked={todo.completed} onChange={onToggle} />
        {/* biome-ignore lint/a11y/noLabelWithoutControl: TodoMVC's markup and stylesheet label the title */}
        <label>{todo.title}</label>
        <button type="button" className="destroy" onClick={onDestroy} />
      </div>
    </li>
  );
}

function App() {
  const [todos, setTodos] = useState(() => JSON.parse(localStorage.getItem(STORAGE_KEY) || "[]"));
  const [filter, setFilter] = useState("all");
  useEffect(() => localStorage.setItem(STORAGE_KEY, JSON.stringify(todos)), [todos]);
  useEffect(() => {
    const onHash = () => setFilter(location.hash.slice(2) || "all");
    window.addEventListener("hashchange", onHash);
    return () => window.removeEventListener("hashchange", onHash);
  }, []);
  const shown = todos.filter((t) =>
    filter === "active" ? !t.completed : filter === "completed" ? t.completed : true,
  );
  const add = (e) => {
    const title = e.target.value.trim();
    if (e.key !== "Enter" || !title) return;
    setTodos([...todos, { id: Date.now(), title, completed: false }]);
    e.target.value = "";
  };
  return (
    <>
      <header className="header">
        <h1>todos</h1>
        <input className="new-todo" placeholder="What needs to be done?" onKeyDown={add} />
      </header>
      <ul className="todo-list">
        {shown.map((t) => (
          <TodoItem
            key={t.id}
            todo={t}
            onToggle={() =>
              setTodos(todos.map((x) => (x.id === t.id ? { ...x, completed: !x.completed } : x)))
            }
            onDestroy={() => setTodos(todos.filter((x) => x.id !== t.id))}
          />
        ))}
      </ul>
      <footer className="footer">
        <span className="todo-count">{todos.filter((t) => !t.completed).length} left</span>
      </footer>
    </>
  );
}

createRoot(document.querySelector(".todoapp")).render(<App />);
