// TodoMVC on Knockout: observables, an observable array, and a computed remaining count.
/* global ko */
const STORAGE_KEY = "todos-knockout";
function Todo(title, completed) {
  this.title = ko.observable(title);
  this.completed = ko.observable(completed);
}
function ViewModel(saved) {
  this.todos = ko.observableArray(saved.map((t) => new Todo(t.title, t.completed)));
  this.current = ko.observable("");
  this.add = () => {
    const title = this.current().trim();
    if (title) this.todos.push(new Todo(title, false));
    this.current("");
  };
  this.remove = (todo) => this.todos.remove(todo);
  this.remainingCount = ko.pureComputed(() => this.todos().filter((t) => !t.completed()).length);
  ko.computed(() => localStorage.setItem(STORAGE_KEY, ko.toJSON(this.todos))).extend({ rateLimit: 100 });
}
ko.applyBindings(new ViewModel(JSON.parse(localStorage.getItem(STORAGE_KEY) || "[]")));
