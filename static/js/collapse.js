// Long texts start folded to a readable height, with a button to show all of them.
(function () {
  const LIMIT = 480;
  document.querySelectorAll(".collapsible").forEach(function (el) {
    if (el.scrollHeight <= LIMIT + 80) return;
    el.classList.add("collapsed");
    const button = document.createElement("button");
    button.type = "button";
    button.className = "link toggle";
    button.textContent = "Show all";
    button.setAttribute("aria-expanded", "false");
    button.addEventListener("click", function () {
      const folded = el.classList.toggle("collapsed");
      button.textContent = folded ? "Show all" : "Show less";
      button.setAttribute("aria-expanded", String(!folded));
    });
    el.after(button);
  });
})();
