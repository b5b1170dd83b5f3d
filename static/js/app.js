// Small progressive enhancements for the planner pages; every page works without them
// except the dialogs, which open with a button.
document.addEventListener("click", (event) => {
  const opener = event.target.closest("[data-open]");
  if (opener) {
    const dialog = document.getElementById(opener.dataset.open);
    if (dialog) {
      // One dialog serves every row: the opener says where it posts and what it asks.
      if (opener.dataset.action) dialog.querySelector("form").action = opener.dataset.action;
      if (opener.dataset.title) dialog.querySelector("[data-title]").textContent = opener.dataset.title;
      dialog.showModal();
    }
  }
  const closer = event.target.closest("[data-close]");
  if (closer) closer.closest("dialog").close();
});
document.addEventListener("submit", (event) => {
  const message = (event.submitter && event.submitter.dataset.confirm) || event.target.dataset.confirm;
  if (message && !window.confirm(message)) {
    event.preventDefault();
    return;
  }
  // Long work shows progress: the button says so and cannot be pressed twice.
  if (event.submitter && event.target.method === "post") {
    event.submitter.setAttribute("aria-busy", "true");
    setTimeout(() => { event.submitter.disabled = true; }, 0);
  }
});
