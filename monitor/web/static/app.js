// Filters apply as soon as a choice changes (the Search/Show button does the same
// without script). Loaded from /static: the Content-Security-Policy forbids inline script.
document.addEventListener("change", (event) => {
  const field = event.target;
  if (field instanceof HTMLSelectElement && field.classList.contains("auto") && field.form) {
    field.form.requestSubmit();
  }
});
