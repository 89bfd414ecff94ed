// TodoMVC on jQuery: event delegation on the list, state in localStorage.
/* global jQuery */
jQuery(($) => {
  const STORAGE_KEY = "todos-jquery";
  let todos = JSON.parse(localStorage.getItem(STORAGE_KEY) || "[]");
  let filter = "all";

  function render() {
    const shown = todos.filter((t) =>
      filter === "active" ? !t.completed : filter === "completed" ? t.completed : true,
    );
    $(".todo-list").html(
      shown.map(
        (t) =>
          `<li data-id="${t.id}" class="${t.completed ? "completed" : ""}"><div class="view"><input class="toggle" type="checkbox" ${t.completed ? "checked" : ""}><label>${$("<div>").text(t.title).html()}</label><button class="destroy"></button></div></li>`,
      ),
    );
    const left = todos.filter((t) => !t.completed).length;
    $(".todo-count").text(`${left} item${left === 1 ? "" : "s"} left`);
    localStorage.setItem(STORAGE_KEY, JSON.stringify(todos));
  }

  const idOf = (el) => Number($(el).closest("li").data("id"));
  $(".new-todo").on("keyup", function (e) {
    const title = $(this).val().trim();
    if (e.key !== "Enter" || !title) return;
    todos.push({ id: Date.now(), title, completed: false });
    $(this).val("");
    render();
  });
  $(".todo-list")
    .on("change", ".toggle", function () {
      const todo = todos.find((t) => t.id === idOf(this));
      todo.completed = this.checked;
      render();
    })
    .on("click", ".destroy", function () {
      todos = todos.filter((t) => t.id !== idOf(this));
      render();
    });
  $(window).on("hashchange", () => {
    filter = location.hash.slice(2) || "all";
    render();
  });
  render();
});
