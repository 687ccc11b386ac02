// The rule editor's live preview: 300 ms after the last change, fetch the preview fragment for
// the form as it stands and put it in place of the old one (an older fetch is abandoned). The
// page works without this script: its Preview button loads the same fragment with the page.
"use strict";
(function () {
  const form = document.getElementById("rule-form");
  const region = document.getElementById("preview");
  if (!form || !region) return;
  let timer = 0;
  let pending = null;

  function say(message) {
    const line = document.createElement("p");
    line.className = "error";
    line.setAttribute("role", "alert");
    line.textContent = message;
    region.replaceChildren(line);
  }

  async function refresh() {
    const query = new URLSearchParams(new FormData(form)).toString();
    if (pending) pending.abort();
    pending = new AbortController();
    region.setAttribute("aria-busy", "true");
    try {
      const response = await fetch("rules/preview?" + query, { signal: pending.signal });
      const html = await response.text();
      if (response.ok) {
        region.innerHTML = html; // our own server-rendered, escaped fragment
        history.replaceState(null, "", "?" + query);
      } else {
        // A refused parameter: the server's 400 page says why in its .error paragraph.
        const page = new DOMParser().parseFromString(html, "text/html");
        const why = page.querySelector(".error");
        say(why ? why.textContent : "The preview failed (HTTP " + response.status + ").");
      }
      region.removeAttribute("aria-busy");
    } catch (error) {
      if (error.name === "AbortError") return; // a newer fetch took over
      say("The preview could not be fetched: " + error.message);
      region.removeAttribute("aria-busy");
    }
  }

  function later() {
    clearTimeout(timer);
    timer = setTimeout(refresh, 300);
  }
  form.addEventListener("input", later);
  form.addEventListener("change", later); // a select changed by some means fires only this
})();
