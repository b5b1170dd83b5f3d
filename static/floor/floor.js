// Shop-floor terminal behaviour: number pad, inactivity sign-out, confirm with an
// Idempotency-Key and live posting status. No framework, no build step.
(function () {
  "use strict";
  const body = document.body;

  // --- sign out after inactivity ----------------------------------------------------------
  const idleSeconds = parseInt(body.dataset.idleSeconds || "0", 10);
  if (body.dataset.signedIn && idleSeconds > 0) {
    let last = Date.now();
    ["pointerdown", "keydown", "touchstart"].forEach((e) => document.addEventListener(e, () => { last = Date.now(); }, { passive: true }));
    setInterval(() => {
      if (Date.now() - last > idleSeconds * 1000) window.location.href = body.dataset.signoutUrl;
    }, 5000);
  }

  // --- number pad --------------------------------------------------------------------------
  let target = document.querySelector("input[data-pad][autofocus]") || document.querySelector("input[data-pad]");
  const mark = (el) => {
    document.querySelectorAll("input[data-pad]").forEach((i) => i.classList.toggle("active", i === el));
    target = el;
  };
  if (target) mark(target);
  document.querySelectorAll("input[data-pad]").forEach((el) => el.addEventListener("focus", () => mark(el)));
  document.querySelectorAll(".numpad .key").forEach((key) => {
    key.addEventListener("click", () => {
      if (!target) return;
      const k = key.dataset.key;
      if (k === "back") target.value = target.value.slice(0, -1);
      else if (k === "clear") target.value = "";
      else if (k === "." && target.value.includes(".")) return;
      else target.value += k;
      target.dispatchEvent(new Event("input", { bubbles: true }));
    });
  });

  // --- running clock ------------------------------------------------------------------------
  const clock = document.getElementById("clock");
  if (clock && clock.dataset.running) {
    const started = Date.now();
    const base = parseFloat(clock.dataset.minutes || "0");
    setInterval(() => {
      const minutes = base + (Date.now() - started) / 60000;
      clock.textContent = minutes.toFixed(1) + " min";
    }, 1000);
  }

  // --- confirm ------------------------------------------------------------------------------
  const form = document.getElementById("confirm-form");
  if (!form) return;
  const button = document.getElementById("confirm-btn");
  const acknowledge = document.getElementById("acknowledge-btn");
  const status = document.getElementById("confirm-status");
  const csrf = JSON.parse(body.getAttribute("hx-headers"))["X-CSRFToken"];
  const newKey = () =>
    (window.crypto && crypto.randomUUID ? crypto.randomUUID() : Date.now().toString(16) + Math.random().toString(16).slice(2));
  let key = form.dataset.key;
  let sending = false;
  // A result survives the reload that refreshes the figures, so the operator still sees it.
  const resultKey = "floor-result-" + form.dataset.operation;

  const say = (text, kind) => { status.textContent = text; status.className = "status " + (kind || ""); };

  try {
    const last = sessionStorage.getItem(resultKey);
    if (last) { sessionStorage.removeItem(resultKey); say(last, "ok"); }
  } catch (e) { /* no storage: nothing to show */ }

  const reloadWith = (text) => {
    try { sessionStorage.setItem(resultKey, text); } catch (e) { /* shown until the reload only */ }
    window.location.reload();
  };

  // A failed posting stays on screen until the operator taps OK: the confirmation is recorded,
  // but its stock was not posted and a planner has to know. Only then does the page refresh.
  const failed = (text) => {
    say(text, "bad");
    status.setAttribute("role", "alert");
    button.hidden = true;
    acknowledge.hidden = false;
    acknowledge.focus();
  };
  acknowledge.addEventListener("click", () => window.location.reload());

  const poll = (id) => {
    fetch(form.dataset.statusUrl + id + "/", { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then((r) => r.json())
      .then((c) => {
        if (c.posting_status === "pending") { setTimeout(() => poll(id), 800); return; }
        if (c.posting_status === "failed") {
          failed("Confirmed #" + id + " — posting FAILED: " + ((c.posting_error || {}).message || "see posting errors") +
            " Tell a planner, then tap OK.");
          return;
        }
        const text = "Confirmed #" + id + " — " + (c.posting_status === "posted" ? "posted" : "nothing to post") + " ✓";
        say(text, "ok");
        setTimeout(() => reloadWith(text), 1500);
      })
      .catch(() => setTimeout(() => poll(id), 1500));
  };

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    if (sending) return; // a double tap sends once; a second request would carry the same key anyway
    sending = true;
    button.disabled = true;
    say("Confirming…", "wait");
    const data = new FormData(form);
    const payload = {
      good_quantity: data.get("good_quantity") || "0",
      scrap_quantity: data.get("scrap_quantity") || "0",
      final: data.get("final") === "on",
    };
    if (data.get("scrap_reason")) payload.scrap_reason = data.get("scrap_reason");
    fetch(form.dataset.url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", Accept: "application/json", "X-CSRFToken": csrf, "Idempotency-Key": key },
      body: JSON.stringify(payload),
    })
      .then((r) => r.json().then((j) => ({ ok: r.ok, status: r.status, body: j })))
      .then(({ ok, status: code, body: j }) => {
        if (ok) { say("Confirmed #" + j.id + " — posting…", "wait"); poll(j.id); return; }
        // Nothing was written: a corrected request is a new request with a new key.
        key = newKey();
        sending = false;
        button.disabled = false;
        say((j && j.message) || "Error " + code, "bad");
      })
      .catch(() => {
        // Network drop: keep the same key, so tapping again cannot confirm twice.
        sending = false;
        button.disabled = false;
        say("No connection — tap Confirm again to retry.", "bad");
      });
  });
})();
