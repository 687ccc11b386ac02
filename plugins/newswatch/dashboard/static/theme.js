// Light or dark as Airflow's UI shows itself. Framed by it (Browse -> News), the parent page is
// ours (same origin) and its <html> carries "light" or "dark" (next-themes); at our own address,
// the choice Airflow's UI stored. Without either, or without this script, the system's choice
// decides (dashboard.css). data-theme is all the stylesheet needs.
(function () {
  "use strict";
  var root = document.documentElement;

  function airflowTheme() {
    try {
      if (window.parent !== window) {
        var classes = window.parent.document.documentElement.classList;
        if (classes.contains("dark")) return "dark";
        if (classes.contains("light")) return "light";
      }
    } catch (e) { /* framed by another origin: not Airflow's UI */ }
    try {
      var stored = window.localStorage.getItem("theme");
      if (stored === "dark" || stored === "light") return stored;
    } catch (e) { /* storage refused */ }
    return null;
  }

  function apply() {
    var theme = airflowTheme();
    if (theme) root.setAttribute("data-theme", theme);
    else root.removeAttribute("data-theme");
  }

  apply();
  try {
    if (window.parent !== window) {
      new MutationObserver(apply).observe(window.parent.document.documentElement, {
        attributes: true, attributeFilter: ["class"]
      });
    }
  } catch (e) { /* another origin */ }
})();
