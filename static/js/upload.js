// The import form: drag and drop onto the drop zone, and an upload progress bar. Without
// JavaScript the form still posts normally.
(function () {
  const form = document.getElementById("import-form");
  if (!form) return;
  const zone = document.getElementById("dropzone");
  const input = form.querySelector("input[type=file]");
  const chosen = document.getElementById("chosen");
  const maxBytes = Number(form.dataset.maxMb) * 1024 * 1024;

  function show() {
    const file = input.files[0];
    if (!file) { chosen.textContent = ""; return; }
    chosen.textContent = file.name + " (" + (file.size / 1024 / 1024).toFixed(1) + " MB)";
    if (file.size > maxBytes) {
      chosen.textContent += ": larger than the " + form.dataset.maxMb + " MB upload limit";
    }
  }
  input.addEventListener("change", show);
  ["dragenter", "dragover"].forEach(function (name) {
    zone.addEventListener(name, function (e) { e.preventDefault(); zone.classList.add("over"); });
  });
  ["dragleave", "drop"].forEach(function (name) {
    zone.addEventListener(name, function () { zone.classList.remove("over"); });
  });
  zone.addEventListener("drop", function (e) {
    e.preventDefault();
    if (e.dataTransfer.files.length) { input.files = e.dataTransfer.files; show(); }
  });

  form.addEventListener("submit", function (e) {
    const file = input.files[0];
    if (!file || file.size > maxBytes) return; // let the server say what is wrong
    e.preventDefault();
    const box = document.getElementById("upload-progress");
    const bar = document.getElementById("upload-bar");
    box.hidden = false;
    form.querySelector("button[type=submit]").disabled = true;
    const xhr = new XMLHttpRequest();
    xhr.open("POST", form.action || window.location.href);
    xhr.upload.addEventListener("progress", function (ev) {
      if (ev.lengthComputable) bar.value = Math.round((100 * ev.loaded) / ev.total);
    });
    xhr.addEventListener("load", function () {
      if (xhr.responseURL && xhr.responseURL !== window.location.href) {
        window.location.assign(xhr.responseURL);
      } else {
        document.open(); document.write(xhr.responseText); document.close();
      }
    });
    xhr.addEventListener("error", function () {
      box.hidden = true;
      form.querySelector("button[type=submit]").disabled = false;
      chosen.textContent = "The upload failed: the connection was lost. Try again.";
    });
    xhr.send(new FormData(form));
  });
})();
