// TodoMVC on Vue 3 (global build): reactive state, computed filters, localStorage watcher.
/* global Vue */
const STORAGE_KEY = "todos-vuejs";
const filters = {
  all: (todos) => todos,
  active: (todos) => todos.filter((t) => !t.completed),
  completed: (todos) => todos.filter((t) => t.completed),
};
Vue.createApp({
  data: () => ({
    todos: JSON.parse(localStorage.getItem(STORAGE_KEY) || "[]"),
    newTodo: "",
    visibility: "all",
  }),
  watch: {
    todos: {
      handler(todos) {
        localStorage.setItem(STORAGE_KEY, JSON.stringify(todos));
      },
      deep: true,
    },
  },
  computed: {
    filteredTodos() {
      return filters[this.visibility](this.todos);
    },
    remaining() {
      return filters.active(this.todos).length;
    },
  },
  methods: {
    addTodo() {
      const title = this.newTodo.trim();
      if (title) this.todos.push({ id: Date.now(), title, completed: false });
      this.newTodo = "";
    },
    removeTodo(todo) {
      this.todos.splice(this.todos.indexOf(todo), 1);
    },
  },
  template: `
    <header class="header"><h1>todos</h1>
      <input class="new-todo" placeholder="What needs to be done?" v-model="newTodo" @keyup.enter="addTodo"></header>
    <ul class="todo-list">
      <li v-for="todo in filteredTodos" :key="todo.id" :class="{ completed: todo.completed }">
        <div class="view"><input class="toggle" type="checkbox" v-model="todo.completed">
          <label>{{ todo.title }}</label><button class="destroy" @click="removeTodo(todo)"></button></div>
      </li>
    </ul>
    <footer class="footer"><span class="todo-count">{{ remaining }} left</span></footer>`,
}).mount(".todoapp");
