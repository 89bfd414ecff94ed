a-js
