// Tables with class "sortable": each column header becomes a button that sorts the rows by that
// column (numbers by value, "–" last), again to reverse. Keyboard: Tab to a header, Enter/Space.
(function () {
  "use strict";
  function key(cell) {
    const raw = cell.dataset.sort !== undefined ? cell.dataset.sort : cell.textContent.trim();
    const number = parseFloat(raw);
    return Number.isNaN(number) ? raw.toLowerCase() : number;
  }
  document.querySelectorAll("table.sortable").forEach(function (table) {
    const body = table.tBodies[0];
    table.querySelectorAll("thead th").forEach(function (th, column) {
      const button = document.createElement("button");
      button.type = "button";
      button.className = "link sort";
      button.textContent = th.textContent;
      th.textContent = "";
      th.appendChild(button);
      button.addEventListener("click", function () {
        const descending = th.getAttribute("aria-sort") !== "descending";
        table.querySelectorAll("thead th").forEach(function (other) { other.removeAttribute("aria-sort"); });
        th.setAttribute("aria-sort", descending ? "descending" : "ascending");
        const rows = Array.from(body.rows);
        rows.sort(function (a, b) {
          const x = key(a.cells[column]);
          const y = key(b.cells[column]);
          const missing = (typeof x === "number") - (typeof y === "number");
          if (missing) return -missing;
          const order = x < y ? -1 : x > y ? 1 : 0;
          return descending ? -order : order;
        });
        rows.forEach(function (row) { body.appendChild(row); });
      });
    });
  });
})();
