// Progressive enhancement for the new-post form: show only the fields the chosen kind uses.
// Without JavaScript every field stays visible and the server validates each kind.
(function () {
  const form = document.querySelector(".post-form");
  if (!form) return;
  const update = () => {
    const kind = form.querySelector('input[name="kind"]:checked')?.value || "quote";
    form.querySelectorAll("[data-kinds]").forEach((field) => {
      field.hidden = !field.dataset.kinds.split(" ").includes(kind);
    });
    const label = form.querySelector('label[for="id_text"]');
    if (label) label.textContent = kind === "quote" ? "Quote" : "Caption (optional)";
  };
  form.addEventListener("change", update);
  update();
})();
