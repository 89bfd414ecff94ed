// TodoMVC on Backbone: a model, a localStorage-backed collection, and one view per todo.
/* global Backbone, _, jQuery */
(($) => {
  const STORAGE_KEY = "todos-backbone";
  const Todo = Backbone.Model.extend({
    defaults: { title: "", completed: false },
    toggle() {
      this.set("completed", !this.get("completed"));
    },
  });
  const Todos = Backbone.Collection.extend({
    model: Todo,
    remaining() {
      return this.where({ completed: false });
    },
  });
  const todos = new Todos(JSON.parse(localStorage.getItem(STORAGE_KEY) || "[]"));
  todos.on("all", () => localStorage.setItem(STORAGE_KEY, JSON.stringify(todos.toJSON())));

  const TodoView = Backbone.View.extend({
    tagName: "li",
    template: _.template(
      '<div class="view"><input class="toggle" type="checkbox" <%= completed ? "checked" : "" %>><label><%- title %></label><button class="destroy"></button></div>',
    ),
    events: { "click .toggle": "toggle", "click .destroy": "clear" },
    initialize() {
      this.listenTo(this.model, "change", this.render);
      this.listenTo(this.model, "destroy", this.remove);
    },
    render() {
      this.$el.html(this.template(this.model.toJSON())).toggleClass("completed", this.model.get("completed"));
      return this;
    },
    toggle() {
      this.model.toggle();
    },
    clear() {
      todos.remove(this.model);
      this.remove();
    },
  });

  const AppView = Backbone.View.extend({
    el: ".todoapp",
    events: { "keypress .new-todo": "create" },
    initialize() {
      this.listenTo(todos, "add", this.addOne);
      this.listenTo(todos, "all", this.count);
      todos.each(this.addOne, this);
      this.count();
    },
    addOne(todo) {
      this.$(".todo-list").append(new TodoView({ model: todo }).render().el);
    },
    count() {
      const left = todos.remaining().length;
      this.$(".todo-count").text(`${left} item${left === 1 ? "" : "s"} left`);
    },
    create(e) {
      const input = this.$(".new-todo");
      if (e.which !== 13 || !input.val().trim()) return;
      todos.add({ title: input.val().trim() });
      input.val("");
    },
  });
  $(() => new AppView());
})(jQuery);
