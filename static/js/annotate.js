// Keyboard labelling: number keys choose an answer, Enter submits, S skips, arrows walk through
// your labels. Keys typed into text boxes are left alone (Ctrl+Enter submits from there, Esc
// leaves the box). Time on the item is counted while the page is visible.
(function () {
  "use strict";
  const form = document.getElementById("label-form");
  const skip = document.getElementById("skip");
  const selected = document.getElementById("selected");
  const started = performance.now();
  let hiddenSince = null;
  let hiddenTotal = 0;

  document.addEventListener("visibilitychange", function () {
    if (document.hidden) {
      hiddenSince = performance.now();
    } else if (hiddenSince !== null) {
      hiddenTotal += performance.now() - hiddenSince;
      hiddenSince = null;
    }
  });

  function announce(text) {
    if (selected) selected.textContent = text;
  }

  if (form) {
    form.addEventListener("change", function (event) {
      if (event.target.name === "answer") {
        const kbd = event.target.parentElement.querySelector("kbd");
        const text = event.target.parentElement.textContent.replace(kbd ? kbd.textContent : "", "");
        announce("Chosen: " + text.trim());
      }
    });
    form.addEventListener("submit", function (event) {
      const seconds = form.querySelector("[name=seconds_spent]");
      if (seconds) seconds.value = ((performance.now() - started - hiddenTotal) / 1000).toFixed(2);
      if (!form.querySelector("[name=answer]:checked")) {
        event.preventDefault();
        announce("Pick an answer first: keys 1 to " + form.querySelectorAll("[name=answer]").length + ".");
      }
    });
  }

  function typing(el) {
    if (!el || !el.tagName) return false;
    if (el.isContentEditable || el.tagName === "TEXTAREA" || el.tagName === "SELECT") return true;
    return el.tagName === "INPUT" && !["radio", "checkbox", "button", "submit"].includes(el.type);
  }

  function go(direction) {
    const link = document.querySelector('[data-nav="' + direction + '"]');
    if (link) window.location.assign(link.href);
  }

  document.addEventListener("keydown", function (event) {
    if (event.defaultPrevented || event.altKey) return;
    const target = event.target;
    if (typing(target)) {
      if (event.key === "Escape") {
        target.blur();
        if (skip && skip.contains(target)) skip.open = false;
      } else if (event.key === "Enter" && (event.ctrlKey || event.metaKey) && form && form.contains(target)) {
        event.preventDefault();
        form.requestSubmit();
      }
      return;
    }
    if (event.ctrlKey || event.metaKey) return;
    if (form) {
      const choice = form.querySelector('[name=answer][data-key="' + event.key + '"]');
      if (choice) {
        event.preventDefault();
        choice.checked = true;
        choice.dispatchEvent(new Event("change", { bubbles: true }));
        return;
      }
    }
    const onControl = target.tagName === "BUTTON" || target.tagName === "A" || target.tagName === "SUMMARY";
    if (event.key === "Enter" && form && !onControl) {
      event.preventDefault();
      form.requestSubmit();
    } else if ((event.key === "s" || event.key === "S") && skip) {
      event.preventDefault();
      skip.open = true;
      document.getElementById("skip-reason").focus();
    } else if (event.key === "ArrowLeft" && target.type !== "radio") {
      go("prev");
    } else if (event.key === "ArrowRight" && target.type !== "radio") {
      go("next");
    }
  });
  // The keys work from here on (tests wait for this rather than for the page to look ready).
  document.documentElement.dataset.keys = "ready";
})();
