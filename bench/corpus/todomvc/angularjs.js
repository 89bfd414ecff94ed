// TodoMVC on AngularJS 1.x: one controller, a localStorage service, filters by route hash.
/* global angular */
angular
  .module("todomvc", [])
  .factory("todoStorage", () => {
    const STORAGE_KEY = "todos-angularjs";
    return {
      get: () => JSON.parse(localStorage.getItem(STORAGE_KEY) || "[]"),
      put: (todos) => localStorage.setItem(STORAGE_KEY, JSON.stringify(todos)),
    };
  })
  .controller("TodoCtrl", [
    "$scope",
    "$location",
    "todoStorage",
    ($scope, $location, todoStorage) => {
      const todos = todoStorage.get();
      $scope.todos = todos;
      $scope.newTodo = "";
      $scope.$watch(
        "todos",
        () => {
          $scope.remainingCount = todos.filter((t) => !t.completed).length;
          todoStorage.put(todos);
        },
        true,
      );
      $scope.$on("$locationChangeSuccess", () => {
        const path = $location.path();
        $scope.statusFilter =
          path === "/active" ? { completed: false } : path === "/completed" ? { completed: true } : {};
      });
      $scope.addTodo = () => {
        const title = $scope.newTodo.trim();
        if (!title) return;
        todos.push({ title, completed: false });
        $scope.newTodo = "";
      };
      $scope.removeTodo = (todo) => todos.splice(todos.indexOf(todo), 1);
      $scope.clearCompleted = () => {
        $scope.todos = todos.filter((t) => !t.completed);
      };
    },
  ]);
