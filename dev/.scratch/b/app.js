b-js
