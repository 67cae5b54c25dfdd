// The playground's turn editor: add and remove conversation turns; fill principles from a set.
(function () {
  const turns = document.getElementById("turns");
  const add = document.getElementById("add-turn");
  if (!turns || !add) return;

  function renumber() {
    turns.querySelectorAll(".turn-edit").forEach(function (row, i) {
      const n = i + 1;
      const select = row.querySelector("select");
      const text = row.querySelector("textarea");
      const labels = row.querySelectorAll("label");
      select.id = "role-" + n;
      text.id = "content-" + n;
      labels[0].htmlFor = select.id;
      labels[0].textContent = "Role of turn " + n;
      labels[1].htmlFor = text.id;
      labels[1].textContent = "Turn " + n;
      row.querySelector(".remove-turn").setAttribute("aria-label", "Remove turn " + n);
    });
  }

  add.addEventListener("click", function () {
    const rows = turns.querySelectorAll(".turn-edit");
    const last = rows[rows.length - 1];
    const row = last.cloneNode(true);
    const previous = last.querySelector("select").value;
    row.querySelector("select").value = previous === "user" ? "assistant" : "user";
    row.querySelector("textarea").value = "";
    turns.insertBefore(row, add);
    renumber();
    row.querySelector("textarea").focus();
  });

  turns.addEventListener("click", function (event) {
    if (!event.target.classList.contains("remove-turn")) return;
    if (turns.querySelectorAll(".turn-edit").length > 1) {
      event.target.closest(".turn-edit").remove();
      renumber();
    }
  });

  const set = document.getElementById("principle-set");
  const principles = document.getElementById("id_principles");
  if (set && principles) {
    set.addEventListener("change", function () {
      const option = set.options[set.selectedIndex];
      if (option.dataset.principles !== undefined) principles.value = option.dataset.principles;
    });
  }
})();
